"""Python 3.9, checked statically (no 3.9 interpreter here; Debian 12 ships 3.11, PyPI has
none): EMR Serverless 7.x images run 3.9 and the package claims ``requires-python >=3.9``, so
neither syntax nor an API newer than 3.9 may reach the package (vermin reads both); the scripts a
job run starts from must run on whatever Python an image has (3.7 and up)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bigfruits.aws.procedures import serverless_scripts
from bigfruits.locations import PACKAGE_DIR


def vermin(target: str, *paths: Path) -> subprocess.CompletedProcess:
    # tomllib: imported only on 3.11+ (``sys.version_info`` guard in aws/core/settings.py), tomli below
    return subprocess.run([str(Path(sys.executable).with_name("vermin")), f"-t={target}-", "--violations", "--no-tips",
                           "--exclude", "tomllib", *map(str, paths)], capture_output=True, text=True, timeout=300)


def test_the_package_needs_nothing_newer_than_python_3_9() -> None:
    done = vermin("3.9", PACKAGE_DIR)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_job_runs_scripts_run_on_python_3_7(tmp_path: Path) -> None:
    (tmp_path / "driver.py").write_text(serverless_scripts.driver_script("3.9"))
    (tmp_path / "probe.py").write_text(serverless_scripts.PROBE)
    done = vermin("3.7", tmp_path / "driver.py", tmp_path / "probe.py")
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("code", ["match x:\n    case 1:\n        pass\n", "zip([], [], strict=True)\n",
                                  "import tomllib\nimport zoneinfo\nprint(int.bit_count(3))\n"])
def test_the_check_sees_what_39_lacks(tmp_path: Path, code: str) -> None:
    """3.10 syntax and APIs are caught (tomllib aside: excluded above, so another 3.10 API with it)."""
    (tmp_path / "new.py").write_text(code)
    done = vermin("3.9", tmp_path / "new.py")
    assert done.returncode != 0 and "Target versions not met:   3.9" in done.stdout, done.stdout + done.stderr
