"""Where things are, for every test: the repository, the bundled sample, the shared Fruits-360
photos beside the repository (when present), and the CLI as a user runs it.

``SAMPLE`` is the package's own (``bigfruits.locations``): the tests read the images the code
under test ships. ``REPO`` is the checkout these tests are in, from this file's place, not
``locations.project_root()``: that is None when bigfruits is installed from a wheel, and the
tests still need their checkout then (the notebooks, the shared folder beside it)."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import List

from bigfruits.locations import BUNDLED_SAMPLE

REPO = Path(__file__).resolve().parents[2]
SAMPLE: Path = BUNDLED_SAMPLE
SHARED_SAMPLE = REPO.parent / "shared" / "data" / "fruits-360-sample" / "Test"


def python_cmd(*args: str) -> List[str]:
    """The CLI as a user runs it, from this interpreter's environment."""
    return [sys.executable, "-m", "bigfruits", *args]
