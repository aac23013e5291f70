"""bootstrap.sh's install lines, run by bash as on a node, with shims for what cannot exist here:
``sudo`` (runs the command), ``dnf`` (records its arguments, "installs" pip by making the shim
python answer ``-m pip``), and python3.11 itself (a shim at a temporary path). Only the install
block is run here; running the whole script (its S3 copies, the driver) is another test's job."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from bigfruits.locations import NODE_DIR

BEGIN = "# Amazon Linux 2023 (EMR 7)"


def _install_block() -> str:
    text = (NODE_DIR / "bootstrap.sh").read_text()
    start = text.index(BEGIN)
    end = text.index("\nfi\n", start) + len("\nfi\n")
    return text[start:end]


def _shims(tmp: Path, python: bool, pip: bool) -> Path:
    bin_dir = tmp / "bin"
    bin_dir.mkdir()
    (bin_dir / "sudo").write_text('#!/bin/bash\nexec "$@"\n')
    (bin_dir / "dnf").write_text(f'#!/bin/bash\necho "$@" >> {tmp}/dnf.log\n'
                                 f'touch {tmp}/has-python {tmp}/has-pip\n')
    (tmp / "python3.11").write_text(
        f'#!/bin/bash\n[ -e {tmp}/has-python ] || exit 127\n'
        f'if [ "$1 $2" = "-m pip" ]; then [ -e {tmp}/has-pip ] || exit 1; fi\nexit 0\n')
    for name in ("sudo", "dnf", "python3.11"):
        path = bin_dir / name if name != "python3.11" else tmp / name
        path.chmod(0o755)
    if python:
        (tmp / "has-python").touch()
    if pip:
        (tmp / "has-pip").touch()
    return bin_dir


@pytest.mark.parametrize("python, pip, installs", [
    (False, False, True),   # a bare image
    (True, False, True),    # python3.11 there, `python3.11 -m pip` missing
    (True, True, False),    # both there: nothing to do
])
def test_install_block_gets_python_and_pip_whatever_the_image_has(tmp_path, python, pip, installs) -> None:
    bin_dir = _shims(tmp_path, python, pip)
    script = f'set -euo pipefail\nPY={tmp_path}/python3.11\n{_install_block()}\n"$PY" -m pip --version\n'
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    done = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    log = tmp_path / "dnf.log"
    assert log.exists() == installs
    if installs:
        assert log.read_text().split() == ["install", "-y", "-q", "python3.11", "python3.11-pip"]  # no -devel: only wheels, nothing compiled
