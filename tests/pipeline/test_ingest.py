"""Listing, labels and selection."""
from __future__ import annotations

import pytest

from bigfruits.errors import InputError
from bigfruits.pipeline.ingest import (ImageFile, _escape_glob, _skip_reason, label_of,
                                       list_images, select_images)


def images(spec):
    return [ImageFile(f"file:/d/Test/{label}/{i:03d}.jpg", 10) for label, n in spec for i in range(n)]


def test_label_is_the_parent_folder_with_spaces_and_digits():
    assert label_of("s3://b/raw/Test/Apple Red 1/r_32_100.jpg") == "Apple Red 1"
    assert label_of("file:/x/Training/Pêche é/ü.jpg") == "Pêche é"


def test_skip_reasons():
    assert _skip_reason("Test/Kiwi/a.JPG") is None
    assert _skip_reason("Test/Kiwi/a.jpeg") is None
    assert _skip_reason("Test/Kiwi/a.Png") is None
    assert _skip_reason("Test/Kiwi/notes.txt") == "not .jpg/.jpeg/.png"
    assert "hidden" in _skip_reason("Test/Kiwi/._a.jpg")
    assert "hidden" in _skip_reason("_tmp/Kiwi/a.jpg")


def test_classes_glob_and_comma_list():
    files = images([("Apple Braeburn", 3), ("Apple Red 1", 2), ("Kiwi", 4)])
    assert {f.label for f in select_images(files, classes="Apple*")} == {"Apple Braeburn", "Apple Red 1"}
    assert len(select_images(files, classes="Kiwi, Apple Red 1")) == 6


def test_limit_spreads_over_classes_in_path_order():
    files = images([("A", 10), ("B", 10), ("C", 2)])
    picked = select_images(files, limit=7)
    counts = {label: sum(f.label == label for f in picked) for label in "ABC"}
    assert counts == {"A": 3, "B": 2, "C": 2}  # round robin A0 B0 C0 A1 B1 C1 A2
    assert picked == sorted(picked, key=lambda f: f.path)
    assert select_images(files, limit=7) == picked  # deterministic


def test_selection_errors_are_user_errors():
    files = images([("Kiwi", 2)])
    with pytest.raises(InputError, match="no class matches"):
        select_images(files, classes="Banana*")
    with pytest.raises(InputError, match="at least 1"):
        select_images(files, limit=0)


def test_glob_characters_in_names_stay_literal():
    assert _escape_glob("file:/d/a[1]{x}*.jpg") == r"file:/d/a\[1\]\{x\}\*.jpg"


def test_listing_sees_zero_byte_files_and_skips_hidden(spark, tmp_path):
    (tmp_path / "Test" / "Kiwi").mkdir(parents=True)
    (tmp_path / "Test" / "Kiwi" / "a.jpg").write_bytes(b"x" * 10)
    (tmp_path / "Test" / "Kiwi" / "empty.jpg").write_bytes(b"")
    (tmp_path / "Test" / "Kiwi" / "._a.jpg").write_bytes(b"junk")
    (tmp_path / "Test" / "Kiwi" / "notes.txt").write_text("hi")
    listing = list_images(spark, str(tmp_path))
    assert [(f.path.rsplit("/", 1)[1], f.size) for f in listing.images] == [("a.jpg", 10), ("empty.jpg", 0)]
    assert sum(listing.skipped.values()) == 2
    assert listing.images[0].path.startswith("file:/")


def test_listing_errors(spark, tmp_path):
    with pytest.raises(InputError, match="input not found"):
        list_images(spark, str(tmp_path / "missing"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no images found"):
        list_images(spark, str(tmp_path / "empty"))
