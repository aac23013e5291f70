"""Benchmark inputs: N images in the Fruits-360 layout, made from a set of real images.

The set is, in this order: ``--source``; else the real Fruits-360 test images a clone finds
beside itself (``<repo>/../shared/data/fruits-360-test``, 15,809 distinct images, 91 classes);
else the bundled sample (100 images). Up to the set's size every input is a distinct image
(taken round robin over the classes, so a small N still covers them); beyond it images are
replicated, each copy under its own name, as few times as N needs.

Hard links when the file system allows (no extra disk, the 67,692-image scale input costs only
directory entries), copies otherwise.
"""
from __future__ import annotations

import os
import shutil
from collections import defaultdict
from itertools import zip_longest
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from bigfruits.locations import project_root

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
#: the checkout this package runs from (None when installed from a wheel)
REPO: Optional[Path] = project_root()
#: the real Fruits-360 test images a clone finds beside itself (None without a checkout)
SHARED_TEST_IMAGES: Optional[Path] = REPO.parent / "shared" / "data" / "fruits-360-test" if REPO else None


def choose_source(explicit: Optional[str], bundled: str) -> Tuple[str, str]:
    """``(folder, what it is)`` of the benchmark's images (see the module's docstring)."""
    if explicit:
        return explicit, "--source"
    if SHARED_TEST_IMAGES is not None and SHARED_TEST_IMAGES.is_dir() \
            and source_images(str(SHARED_TEST_IMAGES)):
        return str(SHARED_TEST_IMAGES), "real Fruits-360 test images beside the clone"
    return bundled, "the bundled sample"


def source_images(folder: str) -> List[str]:
    """Every image below ``folder``, sorted, hidden files skipped (as the pipeline does)."""
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith((".", "_")))
        for name in sorted(files):
            if name.lower().endswith(IMAGE_SUFFIXES) and not name.startswith((".", "_")):
                found.append(os.path.join(root, name))
    return found


def round_robin(paths: List[str]) -> List[str]:
    """``paths`` one class (parent folder) at a time, so any prefix spreads over the classes."""
    by_class: Dict[str, List[str]] = defaultdict(list)
    for path in paths:
        by_class[os.path.dirname(path)].append(path)
    return [p for row in zip_longest(*(by_class[c] for c in sorted(by_class))) for p in row if p]


def distinct_images(source_folder: str, count: int) -> int:
    """How many distinct images ``count`` inputs replicated from ``source_folder`` hold."""
    return min(count, len(source_images(source_folder)))


def replicate_images(source_folder: str, count: int, destination: str, start: int = 0) -> str:
    """``destination/<class>/<copy>_<name>`` with the ``count`` images ``start`` to
    ``start + count`` of the source's round robin (replicated beyond its size); returns the
    folder."""
    sources = round_robin(source_images(source_folder))
    if not sources:
        raise ValueError(f"no images under {source_folder}")
    os.makedirs(destination, exist_ok=True)
    for index in range(start, start + count):
        source = sources[index % len(sources)]
        label = os.path.basename(os.path.dirname(source))
        folder = os.path.join(destination, label)
        os.makedirs(folder, exist_ok=True)
        target = os.path.join(folder, f"{index // len(sources):05d}_{os.path.basename(source)}")
        if os.path.exists(target):
            continue
        try:
            os.link(source, target)
        except OSError:  # another file system, or links not allowed
            shutil.copyfile(source, target)
    return destination
