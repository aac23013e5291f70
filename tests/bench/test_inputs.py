"""Replicated benchmark inputs keep the Fruits-360 layout and have exactly N images."""
from __future__ import annotations

import os

from bigfruits.bench.inputs import replicate_images, source_images


def make_source(root):
    for label in ("Apple Red 1", "Banana"):
        (root / label).mkdir(parents=True)
        for i in range(2):
            (root / label / f"{i}_100.jpg").write_bytes(f"{label}{i}".encode())
    (root / "Banana" / "._hidden.jpg").write_bytes(b"x")
    (root / "README.md").write_text("not an image")


def test_replicates_to_exact_count_with_labels(tmp_path):
    make_source(tmp_path / "src")
    assert len(source_images(str(tmp_path / "src"))) == 4
    out = replicate_images(str(tmp_path / "src"), 10, str(tmp_path / "out"))
    images = source_images(out)
    assert len(images) == 10 and len(set(images)) == 10
    assert {os.path.basename(os.path.dirname(p)) for p in images} == {"Apple Red 1", "Banana"}
    first = os.path.join(out, "Apple Red 1", "00000_0_100.jpg")
    assert open(first, "rb").read() == b"Apple Red 10"
    assert os.stat(first).st_nlink >= 2  # a hard link, not a copy (same file system)
    replicate_images(str(tmp_path / "src"), 10, out)  # idempotent
    assert len(source_images(out)) == 10
