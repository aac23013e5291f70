"""Our package as a wheel for the cluster: built from this checkout with ``pip wheel``."""
from __future__ import annotations

import subprocess
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import List, Optional

from bigfruits.aws.requests.emr.clusters import wheel_name
from bigfruits.errors import EnvironmentProblem


def project_root() -> Optional[Path]:
    """The checkout this package runs from (None when installed from a wheel)."""
    root = Path(__file__).resolve().parents[4]
    return root if (root / "pyproject.toml").is_file() else None


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


def build_wheel(out_dir: Path) -> Path:
    """``pip wheel --no-deps``: the cluster installs the dependencies itself from PyPI."""
    root = project_root()
    if root is None:
        raise EnvironmentProblem(
            "cannot build the bigfruits wheel: not running from a source checkout",
            "pass --wheel PATH to a built wheel (pip wheel --no-deps <repo>)",
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", *isolation_flags(), "-q",
         "-w", str(out_dir), str(root)],
        capture_output=True, text=True,
    )
    built = out_dir / wheel_name()
    if done.returncode != 0 or not built.is_file():
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise EnvironmentProblem(f"building the wheel failed: {last}", "pass --wheel PATH")
    return built
