"""Bytes -> 224x224 RGB, the ways we could do it: the pipeline's own (Pillow, ``resize`` with
its default bicubic filter), Pillow's other filters, ``reducing_gap``, JPEG draft mode, and
OpenCV when it is installed (``opencv-python-headless``, the ``bench`` extra). For each: the
time per image on one core, and how far the fp32 features move from the pipeline's (cosine
per image, ``featurize.fidelity``), so a change of preprocessing is judged on both."""
from __future__ import annotations

import io
import time
from typing import Callable, Dict, List

import numpy as np
from PIL import Image

from bigfruits.pipeline.featurize.fidelity import fidelity
from bigfruits.pipeline.featurize.images import IMAGE_SIZE, decode_image, preprocess

Decoder = Callable[[bytes], np.ndarray]


def _pillow(resample: "Image.Resampling | None" = None, reducing_gap: "float | None" = None,
            draft: bool = False) -> Decoder:
    def decode(data: bytes) -> np.ndarray:
        with Image.open(io.BytesIO(data)) as image:
            if draft:
                image.draft("RGB", IMAGE_SIZE)  # JPEG: decode at a reduced scale when larger
            image.load()
            rgb = image.convert("RGB")
            kwargs = {} if resample is None else {"resample": resample}
            return np.asarray(rgb.resize(IMAGE_SIZE, reducing_gap=reducing_gap, **kwargs), dtype=np.uint8)
    return decode


def _opencv(interpolation_name: str) -> Decoder:
    import cv2

    interpolation = getattr(cv2, interpolation_name)

    def decode(data: bytes) -> np.ndarray:
        bgr = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
        return cv2.cvtColor(cv2.resize(bgr, IMAGE_SIZE, interpolation=interpolation), cv2.COLOR_BGR2RGB)
    return decode


def options() -> Dict[str, Decoder]:
    """name -> decoder; the first is the pipeline's own (``images.decode_image``)."""
    found: Dict[str, Decoder] = {"pipeline: Pillow resize(), default filter (bicubic)": decode_image}
    for name in ("NEAREST", "BILINEAR", "BOX", "HAMMING", "LANCZOS"):
        found[f"Pillow {name.lower()}"] = _pillow(getattr(Image.Resampling, name))
    for gap in (2.0, 3.0):
        found[f"Pillow bicubic, reducing_gap={gap}"] = _pillow(reducing_gap=gap)
    found["Pillow bicubic after JPEG draft (DCT scaling)"] = _pillow(draft=True)
    try:
        import cv2  # noqa: F401
    except ImportError:
        return found
    for name in ("INTER_LINEAR", "INTER_CUBIC", "INTER_AREA"):
        found[f"OpenCV imdecode + resize {name}"] = _opencv(name)
    return found


def seconds_per_image(decode: Decoder, encoded: List[bytes], passes: int = 3) -> float:
    """Best of ``passes`` over the images, one core."""
    best = float("inf")
    for _ in range(passes):
        clock = time.perf_counter()
        for data in encoded:
            decode(data)
        best = min(best, (time.perf_counter() - clock) / max(1, len(encoded)))
    return best


def measure_resize_options(encoded: List[bytes], features: Callable[[np.ndarray], np.ndarray]
                           ) -> List[Dict[str, object]]:
    """One row per option: ms per image, speed against the pipeline's, and the fidelity of the
    fp32 ``features`` of its pixels against the pipeline's pixels' features."""
    decoders = options()
    baseline_decode = next(iter(decoders.values()))
    reference = features(preprocess(np.stack([baseline_decode(data) for data in encoded])))
    base_seconds = seconds_per_image(baseline_decode, encoded)
    rows = []
    for name, decode in decoders.items():
        seconds = base_seconds if decode is baseline_decode else seconds_per_image(decode, encoded)
        pixels = np.stack([decode(data) for data in encoded])
        measured = fidelity(reference, features(preprocess(pixels)))
        rows.append({"option": name, "ms_per_image": seconds * 1e3, "speed": base_seconds / seconds,
                     **measured.to_dict()})
    return rows
