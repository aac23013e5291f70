"""One answer to "does this run under CI?", and the one way a test that needs something this
machine may lack (Java, Toxiproxy, Livy, an optional package) stops without it: skipped, saying
why, on a developer's machine; **failed** under CI, where every test must run.

``CI`` counts as set when it is ``true``, ``1`` or ``yes`` (any case, spaces around ignored):
GitHub Actions and most CI services set ``CI=true``; others set ``1``. Before this module the
Toxiproxy fixture accepted only ``true`` while the Livy one also took ``1``/``yes``, so the same
CI could run one set and silently skip the other.
"""
from __future__ import annotations

import importlib
import os
from types import ModuleType
from typing import NoReturn

import pytest

CI_VALUES = ("true", "1", "yes")


def under_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in CI_VALUES


def skip_or_fail(reason: str) -> NoReturn:
    """Skip with ``reason``; under CI fail with it instead (CI must run every test)."""
    if under_ci():
        pytest.fail(f"CI={os.environ.get('CI', '').strip()}: this test must run in CI, but {reason}",
                    pytrace=False)
    pytest.skip(reason, allow_module_level=True)


def require_module(name: str) -> ModuleType:
    """``pytest.importorskip`` that fails under CI: the module, or a skip saying it is missing."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        skip_or_fail(f"{name} is not installed ({exc})")
