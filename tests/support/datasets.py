"""Test datasets the pipeline has never seen: real Fruits-360 photos that are not in the
bundled sample (when the shared data is beside the repo), generated photos in every colour mode
and size, and one file of each broken kind."""
from __future__ import annotations

import io
import shutil
from pathlib import Path
from typing import Dict, List

import numpy as np
from PIL import Image, ImageDraw

from tests.support.paths import SHARED_SAMPLE

UNSEEN_CLASSES = ("Avocado ripe", "Guava", "Walnut")  # not among the bundled sample's classes


def keras_features(paths: List[Path], weights_file: Path) -> Dict[str, np.ndarray]:
    """Features computed without bigfruits: Keras, PIL and preprocess_input called directly."""
    import keras
    from keras.applications.mobilenet_v2 import preprocess_input

    model = keras.applications.MobileNetV2(weights=str(weights_file), include_top=False,
                                           input_shape=(224, 224, 3), pooling="avg")
    batch = np.stack([np.asarray(Image.open(p).convert("RGB").resize((224, 224))) for p in paths])
    features = model.predict(preprocess_input(batch.astype(np.float32)), verbose=0)
    return {str(p): f for p, f in zip(paths, features)}


def assert_features_match(features, reference: Dict[str, np.ndarray]) -> None:
    """Every row's features within relative error 1e-4 of the reference, none missing."""
    assert len(features) == len(reference)
    for path, vector in zip(features["path"], features["features"]):
        expected = reference[path[len("file:"):] if path.startswith("file:") else path]
        got = np.asarray(vector, dtype=np.float32)
        assert got.shape == (1280,)
        assert np.linalg.norm(got - expected) / np.linalg.norm(expected) < 1e-4, path


def _photo(seed: int, size=(100, 100)) -> Image.Image:
    """A synthetic 'fruit': a coloured disc with texture on a light background."""
    rng = np.random.default_rng(seed)
    img = Image.new("RGB", size, tuple(int(v) for v in rng.integers(200, 256, 3)))
    draw = ImageDraw.Draw(img)
    w, h = size
    draw.ellipse([w * 0.15, h * 0.15, w * 0.85, h * 0.85], fill=tuple(int(v) for v in rng.integers(0, 256, 3)))
    pixels = np.asarray(img, dtype=np.int16) + rng.integers(-20, 20, size=(h, w, 3))
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def _save(img: Image.Image, path: Path, fmt: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, format=fmt)


def build_dataset(root: Path) -> Dict[str, List[Path]]:
    """Write the dataset; returns ``{"good": [...], "bad": [...]}`` and the expected error kinds.
    The broken files are in a class of their own, and one (``0-half.jpg``) among good images."""
    good: List[Path] = []
    test = root / "Test"
    if SHARED_SAMPLE.is_dir():
        for label in UNSEEN_CLASSES:
            for src in sorted((SHARED_SAMPLE / label).glob("*.jpg"))[:4]:
                dst = test / label / src.name
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(src, dst)
                good.append(dst)
    else:  # no shared data: generated photos still are images the pipeline never saw
        for c, label in enumerate(UNSEEN_CLASSES):
            for i in range(4):
                path = test / label / f"gen_{i}.jpg"
                _save(_photo(100 * c + i), path, "JPEG")
                good.append(path)
    odd = test / "Pêche é 2"  # non-ASCII and digits in the class name
    cases = {
        "grayscale.jpg": (_photo(1).convert("L"), "JPEG"),
        "cmyk.jpg": (_photo(2).convert("CMYK"), "JPEG"),
        "rgba.png": (_photo(3).convert("RGBA"), "PNG"),
        "large.JPG": (_photo(4, size=(6000, 4000)), "JPEG"),
        "ünïcödé name.jpeg": (_photo(5), "JPEG"),
    }
    for name, (img, fmt) in cases.items():
        _save(img, odd / name, fmt)
        good.append(odd / name)
    broken = test / "Broken"
    broken.mkdir(parents=True)
    jpeg = io.BytesIO()
    _photo(6, size=(300, 300)).save(jpeg, format="JPEG")
    data = jpeg.getvalue()
    bad = {
        test / UNSEEN_CLASSES[1] / "0-half.jpg": data[: len(data) // 3],  # first of its class
        broken / "truncated.jpg": data[: len(data) // 2],
        broken / "corrupt.jpg": b"\xff\xd8\xff\xe0" + bytes(np.random.default_rng(7).integers(0, 256, 2000, dtype=np.uint8)),
        broken / "empty.jpg": b"",
        broken / "not-an-image.jpg": b"name,weight\napple,120\n",
    }
    for path, content in bad.items():
        path.write_bytes(content)
    (root / "README.txt").write_text("not an image, ignored and counted as skipped")
    return {"good": good, "bad": list(bad)}
