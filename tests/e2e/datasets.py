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

from tests.conftest import SAMPLE, SHARED_SAMPLE

UNSEEN_CLASSES = ("Avocado ripe", "Guava", "Walnut")  # not among the bundled sample's classes


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
    """Write the dataset; returns ``{"good": [...], "bad": [...]}`` and the expected error kinds."""
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
        broken / "truncated.jpg": data[: len(data) // 2],
        broken / "corrupt.jpg": b"\xff\xd8\xff\xe0" + bytes(np.random.default_rng(7).integers(0, 256, 2000, dtype=np.uint8)),
        broken / "empty.jpg": b"",
        broken / "not-an-image.jpg": b"name,weight\napple,120\n",
    }
    for path, content in bad.items():
        path.write_bytes(content)
    (root / "README.txt").write_text("not an image, ignored and counted as skipped")
    return {"good": good, "bad": list(bad)}
