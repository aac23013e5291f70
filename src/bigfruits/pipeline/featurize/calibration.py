"""The calibration set of an int8 graph: fixed and versioned, so that the graph is a function of
(weights, calibration set, quantizer version) and nothing else.

A local folder of images (the bundled sample by default, ``--calibration PATH`` otherwise),
listed as the pipeline lists an input (hidden files and non-images skipped). At most
``MAX_IMAGES`` of them are used, spread over the classes as ``--limit`` spreads them; within
each class, every ``HOLD_OUT_EVERY``-th image (in path order) is held out of the calibration
and kept for the gate (``fidelity``), the others calibrate the graph and rank its layers.

Its ``sha256`` names the rule (``SPLIT_VERSION``) and, for each image used, its path relative
to the folder, its role and the sha256 of its bytes: another file, one byte changed or
another rule is another set, another int8 graph, and another model identity for ``--reuse``.
"""
from __future__ import annotations

import hashlib
import os
from collections import defaultdict
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

import numpy as np

from bigfruits.errors import InputError
from bigfruits.locations import BUNDLED_SAMPLE
from bigfruits.pipeline.featurize.cache import file_sha256
from bigfruits.pipeline.featurize.images import decode_image, preprocess
from bigfruits.pipeline.ingest import ImageFile, select_images, skip_reason, walk_local

#: bumped when the rule choosing and splitting the images changes
SPLIT_VERSION = "spread-over-classes-max300-every-3rd-held-out-v1"
MAX_IMAGES = 300
HOLD_OUT_EVERY = 3
#: fewer and the calibration ranges, the layer ranking or the gate would rest on too little
MIN_CALIBRATION, MIN_HELD_OUT = 20, 10


@dataclass(frozen=True)
class CalibrationSet:
    """``source`` as given (None: the bundled sample), the images that calibrate and the ones
    held out for the gate (absolute paths), and the set's digest."""

    source: Optional[str]
    calibration: Tuple[str, ...]
    held_out: Tuple[str, ...]
    sha256: str

    def to_dict(self) -> Dict[str, object]:
        return {"source": self.source or "the bundled sample", "sha256": self.sha256,
                "split": SPLIT_VERSION, "calibration_images": len(self.calibration),
                "held_out_images": len(self.held_out)}


def _local_images(folder: str) -> List[ImageFile]:
    found = []
    for path, size, stamp in walk_local(folder):
        relative = os.path.relpath(path[len("file:"):], folder).replace(os.sep, "/")
        if skip_reason(relative) is None:
            found.append(ImageFile(path[len("file:"):], size, stamp))
    return sorted(found, key=lambda image: image.path)


def split(images: List[ImageFile]) -> Tuple[List[str], List[str]]:
    """``(calibration, held out)`` paths: at most ``MAX_IMAGES`` spread over the classes, and
    in each class every ``HOLD_OUT_EVERY``-th image held out."""
    by_class: Dict[str, List[str]] = defaultdict(list)
    for image in select_images(images, limit=MAX_IMAGES):
        by_class[image.label].append(image.path)
    calibration, held_out = [], []
    for label in sorted(by_class):
        for index, path in enumerate(by_class[label]):
            (held_out if index % HOLD_OUT_EVERY == HOLD_OUT_EVERY - 1 else calibration).append(path)
    return calibration, held_out


def set_digest(folder: str, calibration: List[str], held_out: List[str]) -> str:
    """sha256 of the rule and, per image, its relative path, its role and its bytes' sha256."""
    digest = hashlib.sha256(SPLIT_VERSION.encode() + b"\0")
    for role, paths in (("calibration", calibration), ("held_out", held_out)):
        for path in paths:
            relative = os.path.relpath(path, folder).replace(os.sep, "/")
            digest.update(f"{role}\0{relative}\0{file_sha256(path)}\0".encode())
    return digest.hexdigest()


def calibration_set(source: Optional[str] = None) -> CalibrationSet:
    """The calibration set of ``source`` (a local folder; None: the bundled sample)."""
    folder = os.path.abspath(os.path.expanduser(source)) if source else str(BUNDLED_SAMPLE)
    if "://" in (source or "") or not os.path.isdir(folder):
        raise InputError(f"--calibration {source}: not a local folder",
                         "pass a folder of images on this machine (<class>/<image>.jpg), or leave "
                         "out --calibration for the bundled sample")
    calibration, held_out = split(_local_images(folder))
    if len(calibration) < MIN_CALIBRATION or len(held_out) < MIN_HELD_OUT:
        raise InputError(f"--calibration {source or folder}: {len(calibration)} images to calibrate "
                         f"and {len(held_out)} held out, too few to make and check an int8 graph",
                         f"give a folder with at least {MIN_CALIBRATION} + {MIN_HELD_OUT} (one "
                         f"in {HOLD_OUT_EVERY} of each class is held out for the fidelity gate)")
    return CalibrationSet(source, tuple(calibration), tuple(held_out),
                          set_digest(folder, calibration, held_out))


def load_images(paths: Tuple[str, ...]) -> np.ndarray:
    """The model input of ``paths`` (``(n, 224, 224, 3)`` float32), decoded as the pipeline
    decodes; an image that cannot be decoded is a user mistake here (the set is fixed)."""
    arrays = []
    for path in paths:
        try:
            with open(path, "rb") as handle:
                arrays.append(decode_image(handle.read()))
        except (OSError, ValueError) as problem:
            raise InputError(f"calibration image {path}: {problem}",
                             "remove it from the calibration folder, or pass another one") from None
    return preprocess(np.stack(arrays))
