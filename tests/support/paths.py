"""Where things are, for every test: the repository, the bundled sample, the shared Fruits-360
photos beside the repository (when present), and the CLI as a user runs it."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import List

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "src" / "bigfruits" / "data" / "sample"
SHARED_SAMPLE = REPO.parent / "shared" / "data" / "fruits-360-sample" / "Test"


def python_cmd(*args: str) -> List[str]:
    """The CLI as a user runs it, from this interpreter's environment."""
    return [sys.executable, "-m", "bigfruits", *args]
