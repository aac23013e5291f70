"""Bytes -> model input, exactly as our users' notebooks do it: PIL decode, ``convert("RGB")``,
``resize((224, 224))`` with Pillow's default filter, then MobileNetV2's ``preprocess_input``.

Pure PIL/numpy so the same code runs on the driver, on the workers and in the tests.
"""
from __future__ import annotations

import io
import warnings
from typing import Tuple

import numpy as np
from PIL import Image

IMAGE_SIZE: Tuple[int, int] = (224, 224)
#: part of the model identity ``--reuse`` compares: bump it when bytes -> model input changes
PREPROCESSING_VERSION = "pil-rgb-resize224-tf-mode-v1"
#: Photos far larger than a phone's are still photos: allow up to ~400 megapixels before PIL's
#: decompression-bomb guard refuses them (its default warns at 89 MP and fails at 179 MP).
MAX_PIXELS = 400_000_000


def decode_image(data: bytes) -> np.ndarray:
    """Decode one encoded image to a ``(224, 224, 3)`` uint8 RGB array.

    Grayscale, CMYK, palette and RGBA images are converted to RGB; anything PIL cannot read
    (truncated, empty, not an image) raises ``ValueError`` with a short reason.
    """
    if not data:
        raise ValueError("empty file (0 bytes)")
    previous_limit = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                img.load()  # force a full decode here, so truncation is caught now
                rgb = img.convert("RGB").resize(IMAGE_SIZE)
    except Image.DecompressionBombError as exc:
        raise ValueError(f"image too large: {exc}") from None
    except (OSError, SyntaxError, ValueError) as exc:  # PIL's ways of saying "not an image"
        raise ValueError(f"cannot decode image: {exc}") from None
    finally:
        Image.MAX_IMAGE_PIXELS = previous_limit
    return np.asarray(rgb, dtype=np.uint8)


def preprocess(batch: np.ndarray) -> np.ndarray:
    """MobileNetV2's ``preprocess_input`` (mode "tf"): uint8 [0, 255] -> float32 [-1, 1].

    Same operations in the same order as Keras (divide by 127.5, subtract 1) so features match
    Keras called directly to the last bit.
    """
    x = batch.astype(np.float32)
    x /= 127.5
    x -= 1.0
    return x
