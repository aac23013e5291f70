"""Replicated benchmark inputs keep the Fruits-360 layout and have exactly N images."""
from __future__ import annotations

import os
from pathlib import Path

from bigfruits.bench.inputs import choose_source, distinct_images, replicate_images, source_images


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


def test_a_prefix_spreads_over_the_classes_and_more_than_the_source_replicates(tmp_path):
    make_source(tmp_path / "src")
    out = replicate_images(str(tmp_path / "src"), 2, str(tmp_path / "two"))
    assert sorted(os.listdir(out)) == ["Apple Red 1", "Banana"]  # one of each, not two apples
    assert distinct_images(str(tmp_path / "src"), 2) == 2
    assert distinct_images(str(tmp_path / "src"), 10) == 4
    more = replicate_images(str(tmp_path / "src"), 3, str(tmp_path / "two"), start=2)
    names = sorted(os.path.basename(p) for p in source_images(more))
    assert names == ["00000_0_100.jpg", "00000_0_100.jpg", "00000_1_100.jpg",
                     "00000_1_100.jpg", "00001_0_100.jpg"]


def test_the_real_images_beside_the_clone_are_the_default_source(tmp_path, monkeypatch):
    from bigfruits.bench import inputs

    make_source(tmp_path / "shared")
    monkeypatch.setattr(inputs, "SHARED_TEST_IMAGES", tmp_path / "shared")
    assert choose_source(None, "bundled")[0] == str(tmp_path / "shared")
    assert choose_source(str(tmp_path / "mine"), "bundled") == (str(tmp_path / "mine"), "--source")
    monkeypatch.setattr(inputs, "SHARED_TEST_IMAGES", tmp_path / "absent")
    assert choose_source(None, "bundled") == ("bundled", "the bundled sample")
    assert inputs.REPO == Path(__file__).resolve().parents[2]  # <repo>/../shared/... is beside the clone
