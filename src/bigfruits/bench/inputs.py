"""Benchmark inputs: N images in the Fruits-360 layout, made by replicating a small set.

Hard links when the file system allows (no extra disk, the 67,692-image scale input costs only
directory entries), copies otherwise. Each replica gets its own name so Spark sees N files.
"""
from __future__ import annotations

import os
import shutil
from typing import List

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


def source_images(folder: str) -> List[str]:
    """Every image below ``folder``, sorted, hidden files skipped (as the pipeline does)."""
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith((".", "_")))
        for name in sorted(files):
            if name.lower().endswith(IMAGE_SUFFIXES) and not name.startswith((".", "_")):
                found.append(os.path.join(root, name))
    return found


def replicate_images(source_folder: str, count: int, destination: str) -> str:
    """``destination/<class>/<copy>_<name>`` with exactly ``count`` images; returns the folder."""
    sources = source_images(source_folder)
    if not sources:
        raise ValueError(f"no images under {source_folder}")
    os.makedirs(destination, exist_ok=True)
    for index in range(count):
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
