"""Our package as a wheel for the cluster: built with ``pip wheel`` from a clean copy of this
checkout's sources in a temporary folder, so the build writes nothing into the checkout
(``build/``, ``*.egg-info``) and leftovers of an earlier build (a removed module still in
``build/lib``) cannot enter the wheel."""
from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import List

from bigfruits.aws.requests.emr.clusters import wheel_name
from bigfruits.errors import EnvironmentProblem
from bigfruits.locations import project_root


# pyproject.toml's SPDX ``license`` string needs setuptools 77 or newer.
MIN_SETUPTOOLS = 77


def isolation_flags() -> List[str]:
    """Build with this environment's setuptools when it is new enough (fast, and offline);
    otherwise let pip fetch one into an isolated build environment."""
    try:
        major = int(version("setuptools").split(".")[0])
    except (PackageNotFoundError, ValueError):
        return []
    return ["--no-build-isolation"] if major >= MIN_SETUPTOOLS else []


#: What setuptools reads from the checkout to build the wheel (pyproject.toml names the rest).
SOURCE_FILES = ("pyproject.toml", "README.md", "LICENSE")
#: Never copied from ``src/``: what earlier builds and runs leave there.
BUILD_LEFTOVERS = shutil.ignore_patterns("build", "dist", "*.egg-info", "__pycache__", "*.pyc")


def clean_source_copy(root: Path, into: Path) -> Path:
    """``root``'s build inputs copied to ``into`` (created), without any build leftovers."""
    into.mkdir(parents=True)
    for name in SOURCE_FILES:
        shutil.copy2(root / name, into / name)
    shutil.copytree(root / "src", into / "src", ignore=BUILD_LEFTOVERS)
    return into


def build_wheel(out_dir: Path) -> Path:
    """``pip wheel --no-deps``: our wheel alone; the nodes get its dependencies from the
    wheelhouse made on this machine (``node_files.build_wheelhouse``), never from PyPI."""
    root = project_root()
    if root is None:
        raise EnvironmentProblem(
            "cannot build the bigfruits wheel: not running from a source checkout",
            "pass --wheel PATH to a built wheel (pip wheel --no-deps <repo>)",
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bigfruits-wheel-") as scratch:
        source = clean_source_copy(root, Path(scratch) / "source")
        done = subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--no-deps", *isolation_flags(), "-q",
             "-w", str(out_dir.resolve()), str(source)],
            capture_output=True, text=True, cwd=scratch,
        )
    built = out_dir / wheel_name()
    if done.returncode != 0 or not built.is_file():
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise EnvironmentProblem(f"building the wheel failed: {last}", "pass --wheel PATH")
    return built
