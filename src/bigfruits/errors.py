"""User-facing errors: what went wrong and what to do, shown as one line by the CLI.

Library code raises these instead of exiting, so callers (the CLI, notebooks, tests) decide
what to do with them.
"""
from __future__ import annotations


class BigfruitsError(Exception):
    """A mistake the user can fix; ``str()`` is the one-line message the CLI prints."""

    def __init__(self, what: str, todo: str = "") -> None:
        self.what = what
        self.todo = todo
        super().__init__(f"{what}: {todo}" if todo else what)


class InputError(BigfruitsError):
    """The input folder, selection or options are not usable."""


class OutputExistsError(BigfruitsError):
    """The output already exists and --overwrite was not given."""


class EnvironmentProblem(BigfruitsError):
    """Something missing on this machine (Java, a Python package, a connector, weights)."""


class FidelityRefused(BigfruitsError):
    """A faster model (int8) refused: its features would stray too far from the exact ones."""


class AwsError(BigfruitsError):
    """An AWS request failed in a way the user can act on.

    When AWS itself answered, ``operation`` (``"s3 CreateBucket"``), ``code`` and ``message``
    are AWS's own, so callers branch on ``exc.code`` instead of parsing text or causes.
    """

    def __init__(self, what: str, todo: str = "", *, operation: str = "", code: str = "",
                 message: str = "") -> None:
        super().__init__(what, todo)
        self.operation = operation
        self.code = code
        self.message = message
