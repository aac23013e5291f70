"""Where things are, defined once: the package's own files (the bundled sample, what a node
runs), the checkout it runs from (when it does), and the user's cache folder.

Plain paths only (no imports beyond the standard library): the CLI, the pipeline, the AWS
commands and the benchmark all read them, so this module sits below all of them.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

#: ``src/bigfruits/``
PACKAGE_DIR = Path(__file__).resolve().parent
#: The demo images shipped in the package (a Fruits-360 ``<class>/<image>.jpg`` tree).
BUNDLED_SAMPLE = PACKAGE_DIR / "data" / "sample"
#: What runs on every cluster node (``bootstrap.sh``, the EMR constraints).
NODE_DIR = PACKAGE_DIR / "aws" / "node"
#: Overrides the cache folder (tests, CI, a shared disk).
CACHE_ENV = "BIGFRUITS_CACHE_DIR"


def project_root() -> Optional[Path]:
    """The checkout this package runs from (None when installed from a wheel)."""
    root = PACKAGE_DIR.parents[1]
    return root if (root / "pyproject.toml").is_file() else None


def cache_dir() -> str:
    """``$BIGFRUITS_CACHE_DIR``, else ``$XDG_CACHE_HOME/bigfruits``, else ``~/.cache/bigfruits``."""
    explicit = os.environ.get(CACHE_ENV)
    if explicit:
        return os.path.expanduser(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "bigfruits")
