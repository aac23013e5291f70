"""Decoding and preprocessing, compared with what Keras and PIL do directly."""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from bigfruits.pipeline.featurize.images import decode_image, preprocess


def encode(img: Image.Image, fmt: str = "JPEG") -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, format=fmt)
    return buffer.getvalue()


def noise(mode: str, size=(120, 90), seed=0) -> Image.Image:
    rng = np.random.default_rng(seed)
    channels = {"L": 1, "RGB": 3, "RGBA": 4, "CMYK": 4}[mode]
    data = rng.integers(0, 256, size=(size[1], size[0], channels), dtype=np.uint8)
    return Image.fromarray(data.squeeze(), mode=mode)


@pytest.mark.parametrize("mode,fmt", [("RGB", "JPEG"), ("L", "JPEG"), ("CMYK", "JPEG"),
                                      ("RGBA", "PNG"), ("L", "PNG")])
def test_every_colour_mode_becomes_224_rgb_as_pil_does(mode, fmt):
    data = encode(noise(mode), fmt)
    expected = np.asarray(Image.open(io.BytesIO(data)).convert("RGB").resize((224, 224)))
    out = decode_image(data)
    assert out.shape == (224, 224, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(out, expected)


def test_palette_png_is_decoded():
    img = noise("RGB").convert("P")
    assert decode_image(encode(img, "PNG")).shape == (224, 224, 3)


def test_very_large_image_is_decoded():
    big = Image.new("RGB", (12000, 9000), (200, 30, 40))  # 108 MP: above PIL's default guard
    out = decode_image(encode(big))
    assert out.shape == (224, 224, 3)
    assert abs(int(out[100, 100, 0]) - 200) < 4


@pytest.mark.parametrize("data,reason", [
    (b"", "empty file"),
    (b"this is not an image at all\n", "cannot decode"),
    (b"\xff\xd8\xff\xe0" + b"\x00" * 64, "cannot decode"),
])
def test_unreadable_bytes_raise_valueerror(data, reason):
    with pytest.raises(ValueError, match=reason):
        decode_image(data)


def test_truncated_jpeg_raises():
    data = encode(noise("RGB", (300, 300)))
    with pytest.raises(ValueError, match="cannot decode"):
        decode_image(data[: len(data) // 2])


def test_preprocess_equals_keras_preprocess_input():
    from keras.applications.mobilenet_v2 import preprocess_input

    batch = np.random.default_rng(3).integers(0, 256, size=(4, 224, 224, 3), dtype=np.uint8)
    np.testing.assert_array_equal(preprocess(batch), preprocess_input(batch.astype(np.float32)))
    assert preprocess(batch).dtype == np.float32
