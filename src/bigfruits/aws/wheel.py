"""Our package as a wheel for the cluster: built from this checkout with ``pip wheel``."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Optional

from bigfruits.aws.cluster import wheel_name
from bigfruits.errors import EnvironmentProblem


def project_root() -> Optional[Path]:
    """The checkout this package runs from (None when installed from a wheel)."""
    root = Path(__file__).resolve().parents[3]
    return root if (root / "pyproject.toml").is_file() else None


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
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(out_dir), str(root)],
        capture_output=True, text=True,
    )
    built = out_dir / wheel_name()
    if done.returncode != 0 or not built.is_file():
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise EnvironmentProblem(f"building the wheel failed: {last}", "pass --wheel PATH")
    return built
