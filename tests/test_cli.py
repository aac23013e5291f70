"""The CLI's start-up: ``bigfruits --help`` and ``bigfruits run`` import neither the AWS
commands nor the benchmark, nor any test or benchmark tool, yet list ``aws`` and ``bench``."""
from __future__ import annotations

import subprocess
import sys

import pytest

from bigfruits import cli

#: tools only the tests and the benchmark use: start-up must work without them
TOOLS = ("psutil", "pytest", "moto", "sklearn", "papermill", "jupytext")
LAZY_PACKAGES = ("bigfruits.bench", "bigfruits.aws")

CHECK = """
import sys
for tool in {tools!r}:
    sys.modules[tool] = None  # any import of it now fails
from bigfruits.cli import main
code = main({argv!r})
loaded = sorted(m for m in sys.modules if m.startswith({lazy!r}))
assert code == 0, code
assert not loaded, loaded
print("imports ok")
"""


@pytest.mark.parametrize("argv", [["--help"], ["run", "--help"]])
def test_start_up_imports_no_area_and_no_tool(argv) -> None:
    script = CHECK.format(tools=TOOLS, argv=argv, lazy=LAZY_PACKAGES)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "imports ok" in done.stdout
    if argv == ["--help"]:
        for name in ("aws", "bench", "fetch-weights", "run"):
            assert f"\n  {name} " in done.stdout


def test_aws_help_imports_no_aws_sdk_client_machinery() -> None:
    """`bigfruits aws --help` and the commands' own help load neither boto3 nor botocore's
    client config (~0.15 s measured); those come with the first request."""
    script = CHECK.format(tools=TOOLS, argv=["aws", "--help"], lazy=("boto3", "botocore.config", "s3transfer"))
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "imports ok" in done.stdout and "\n  create-cluster " in done.stdout


def test_lazy_commands_help_is_the_commands_own() -> None:
    """--help shows each lazy command's help from ``LAZY_COMMANDS``: it must be the command's."""
    ctx = cli.cli.make_context("bigfruits", [], resilient_parsing=True)
    for name, (_, text, _) in cli.LAZY_COMMANDS.items():
        command = cli.cli.get_command(ctx, name)
        assert command is not None
        assert command.help.split("\n\n")[0].split() == text.split()
        stand_in = cli.click.Command(name, help=text)
        for limit in (30, 45, 70, 200):
            assert stand_in.get_short_help_str(limit) == command.get_short_help_str(limit)
