"""The calibration set is fixed and versioned: the same images give the same set and digest
wherever the folder is; one byte, one file or one name changed gives another digest (so
another int8 graph and another model identity), and a folder too small to calibrate and to
check a graph is refused in one line."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bigfruits.errors import InputError
from bigfruits.pipeline.featurize import calibration
from bigfruits.pipeline.featurize.calibration import calibration_set
from tests.support.paths import SAMPLE

pytestmark = pytest.mark.pure


@pytest.fixture()
def folder(tmp_path) -> Path:
    copy = tmp_path / "calibration"
    shutil.copytree(SAMPLE, copy)
    return copy


def test_the_bundled_sample_is_the_default_split_by_class() -> None:
    chosen = calibration_set()
    assert (len(chosen.calibration), len(chosen.held_out)) == (70, 30)  # 10 classes x (7 + 3)
    assert not set(chosen.calibration) & set(chosen.held_out)
    held_classes = {Path(path).parent.name for path in chosen.held_out}
    assert len(held_classes) == 10
    assert chosen.to_dict()["source"] == "the bundled sample"
    assert calibration_set() == chosen  # fixed: the same every time


def test_the_digest_is_of_the_images_not_of_where_the_folder_is(folder) -> None:
    assert calibration_set(str(folder)).sha256 == calibration_set().sha256


def test_one_byte_changed_is_another_set(folder) -> None:
    before = calibration_set(str(folder)).sha256
    image = sorted(folder.rglob("*.jpg"))[0]
    data = bytearray(image.read_bytes())
    data[-3] ^= 1
    image.write_bytes(bytes(data))
    assert calibration_set(str(folder)).sha256 != before


def test_a_file_added_removed_or_renamed_is_another_set(folder) -> None:
    before = calibration_set(str(folder)).sha256
    images = sorted(folder.rglob("*.jpg"))
    shutil.copy(images[0], images[0].parent / "zz_extra.jpg")
    added = calibration_set(str(folder)).sha256
    (images[0].parent / "zz_extra.jpg").unlink()
    images[1].rename(images[1].parent / "renamed.jpg")
    renamed = calibration_set(str(folder)).sha256
    assert len({before, added, renamed}) == 3


def test_the_split_rule_is_part_of_the_digest(folder, monkeypatch) -> None:
    before = calibration_set(str(folder)).sha256
    monkeypatch.setattr(calibration, "SPLIT_VERSION", calibration.SPLIT_VERSION + "-next")
    assert calibration_set(str(folder)).sha256 != before


def test_hidden_files_and_non_images_are_not_part_of_it(folder) -> None:
    before = calibration_set(str(folder))
    (folder / "Test" / "Kiwi" / "notes.txt").write_text("not an image")
    (folder / "Test" / "Kiwi" / "._33_100.jpg").write_bytes(b"macOS companion")
    assert calibration_set(str(folder)).sha256 == before.sha256


def test_a_large_folder_is_capped_and_spread_over_its_classes(tmp_path) -> None:
    for label in ("A", "B", "C"):
        (tmp_path / label).mkdir()
        for index in range(200):
            shutil.copy(next(SAMPLE.rglob("*.jpg")), tmp_path / label / f"{index:03d}.jpg")
    chosen = calibration_set(str(tmp_path))
    assert len(chosen.calibration) + len(chosen.held_out) == calibration.MAX_IMAGES
    assert {Path(p).parent.name for p in chosen.held_out} == {"A", "B", "C"}


@pytest.mark.parametrize("how", ["too few", "missing", "s3"])
def test_an_unusable_folder_is_one_line_saying_what_to_do(how, tmp_path) -> None:
    if how == "too few":
        (tmp_path / "Kiwi").mkdir()
        for image in sorted((SAMPLE / "Test" / "Kiwi").glob("*.jpg")):
            shutil.copy(image, tmp_path / "Kiwi")
    source = {"too few": str(tmp_path), "missing": str(tmp_path / "nope"),
              "s3": "s3://bucket/calibration/"}[how]
    with pytest.raises(InputError) as refused:
        calibration_set(source)
    assert "\n" not in str(refused.value) and "--calibration" in str(refused.value)


def test_an_image_that_cannot_be_decoded_is_named(folder) -> None:
    chosen = calibration_set(str(folder))
    broken = Path(chosen.held_out[0])
    broken.write_bytes(b"not a jpeg")
    with pytest.raises(InputError, match=broken.name):
        calibration.load_images(calibration_set(str(folder)).held_out)
