"""``--reuse`` keeps an input's features only when its whole identity is unchanged, and only
from a run of the same model. Each field of each identity is tested alone: changing just that
field must mean "not reused", or a user keeps stale features (``cp -p``, ``rsync -t`` or a
restore from backup keep a file's old time over new content; a rewrite can keep its size).

The Spark side (reading the previous output, the join) is tested in test_reuse.py."""
from __future__ import annotations

import json
from typing import Any, Dict, List, Tuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bigfruits.pipeline import reuse
from bigfruits.pipeline.featurize.images import PREPROCESSING_VERSION
from bigfruits.pipeline.featurize.model import FEATURE_DIM
from bigfruits.pipeline.ingest import ImageFile
from bigfruits.pipeline.reuse import model_identity, unchanged_inputs

#: pure: no Spark, no moto, no network (run per mutant by mutmut, docs/mutation-testing.md)
pytestmark = pytest.mark.pure
#: no per-example deadline: mutmut runs these on loaded cores, where a slow example is no bug
relaxed = settings(deadline=None)

paths = st.text(min_size=1, max_size=30).map(lambda s: f"file:/in/Test/Kiwi/{s}.jpg")
sizes = st.integers(min_value=0, max_value=2 ** 40)
stamps = st.one_of(st.integers(min_value=0, max_value=2 ** 62).map(lambda n: f"mtime:{n}"),
                   st.text(alphabet="0123456789abcdef", min_size=32, max_size=32).map(lambda e: f"etag:{e}"),
                   st.integers(min_value=0).map(lambda n: f"mtime_ms:{n}"))
images = st.builds(ImageFile, path=paths, size=sizes, stamp=stamps)


def row(image: ImageFile) -> Tuple[str, int, str]:
    return image.path, image.size, image.stamp


# --- the input's identity: path, size, stamp ------------------------------------------------

@relaxed
@given(image=images)
def test_an_input_with_its_whole_identity_unchanged_is_reused(image: ImageFile) -> None:
    assert unchanged_inputs([row(image)], [image]) == [image]


@relaxed
@given(image=images, other=sizes)
def test_only_the_size_changed_is_not_reused(image: ImageFile, other: int) -> None:
    """Protects against a rewrite with its old time restored (``cp -p``, ``rsync -t``, a
    restore from backup): same path and stamp, another size, featurized again."""
    if other == image.size:
        return
    now = ImageFile(image.path, other, image.stamp)
    assert unchanged_inputs([row(image)], [now]) == []


@relaxed
@given(image=images, other=stamps)
def test_only_the_stamp_changed_is_not_reused(image: ImageFile, other: str) -> None:
    """Protects against a file rewritten in place with the same size: a new mtime (or ETag)
    alone means featurized again."""
    if other == image.stamp:
        return
    now = ImageFile(image.path, image.size, other)
    assert unchanged_inputs([row(image)], [now]) == []


@relaxed
@given(image=images, other=paths)
def test_only_the_path_changed_is_not_reused(image: ImageFile, other: str) -> None:
    """Another file with the same size and time is another input (new, so featurized)."""
    if other == image.path:
        return
    now = ImageFile(other, image.size, image.stamp)
    assert unchanged_inputs([row(image)], [now]) == []


@relaxed
@given(before=st.lists(images, unique_by=lambda im: im.path, max_size=8),
       changes=st.lists(st.sampled_from(["same", "size", "stamp", "gone", "new"]), max_size=8))
def test_exactly_the_inputs_with_an_unchanged_identity_are_reused(before: List[ImageFile],
                                                                 changes: List[str]) -> None:
    """Over a mixed folder: reused = the previous rows whose path, size and stamp all equal a
    current input's; nothing else, and each of those once."""
    now: List[ImageFile] = []
    expected: List[ImageFile] = []
    for image, change in zip(before, changes + ["same"] * len(before)):
        if change == "same":
            now.append(image)
            expected.append(image)
        elif change == "size":
            now.append(ImageFile(image.path, image.size + 1, image.stamp))
        elif change == "stamp":
            now.append(ImageFile(image.path, image.size, image.stamp + "0"))
        elif change == "new":
            now.append(ImageFile(image.path.replace("file:/in/", "file:/new/"), image.size, image.stamp))
            now.append(image)
            expected.append(image)
    assert unchanged_inputs([row(im) for im in before], now) == expected


def test_pandas_rows_compare_like_python_ones() -> None:
    """``plan_reuse`` passes the previous run's columns as read by pandas (numpy int64 sizes)."""
    import numpy as np

    image = ImageFile("file:/in/a.jpg", 10, "mtime:5")
    assert unchanged_inputs([("file:/in/a.jpg", np.int64(10), "mtime:5")], [image]) == [image]
    assert unchanged_inputs([("file:/in/a.jpg", np.int64(11), "mtime:5")], [image]) == []


# --- the model's identity: weights, engine, preprocessing, feature dimension ----------------

engines = st.sampled_from(["tensorflow", "onnxruntime", "onnx", "keras"]) | st.text(min_size=1, max_size=12)
digests = st.text(alphabet="0123456789abcdef", min_size=64, max_size=64)


def same_model(previous: Dict[str, Any], now: Dict[str, Any]) -> bool:
    """Through the comparison ``plan_reuse`` makes (``why_not_reusable``), on the identity as
    written to manifest.json and read back."""
    return reuse.why_not_reusable(json.loads(json.dumps({"model": previous})), now) == ""


def test_why_an_output_is_not_reusable_is_said() -> None:
    now = model_identity("onnxruntime", "ab" * 32)
    assert reuse.why_not_reusable({"model": dict(now), "k": 5}, now) == ""
    for field, value in (("engine", "tensorflow"), ("preprocessing", "v0"), ("weights_sha256", "cd" * 32),
                         ("feature_dim", 1000)):
        assert reuse.why_not_reusable({"model": {**now, field: value}}, now) == (
            "made with another model (weights, engine, precision or preprocessing)"), field
    assert reuse.why_not_reusable({"model": {k: v for k, v in now.items() if k != "engine"}}, now) != ""
    assert reuse.why_not_reusable({"k": 5}, now) == "made by a bigfruits without --reuse support (no model identity)"
    assert reuse.why_not_reusable({"model": None}, now) == "made with another model (weights, engine, precision or preprocessing)"


def test_dropped_are_the_previous_inputs_featurized_or_failed_that_are_gone() -> None:
    """Protects the count the manifest reports: an input removed since the previous run counts
    once whether it had features or was an error row (a broken file deleted), and an input
    still there counts not at all, nor does a new one."""
    previous, failed = ["a", "b", "c", "c"], ["x", "b"]
    assert reuse.dropped_count(previous, failed, ["a", "new"]) == 3  # b, c, x
    assert reuse.dropped_count(previous, failed, ["a", "b", "c", "x"]) == 0
    assert reuse.dropped_count([], ["x"], []) == 1  # only an error row, now removed
    assert reuse.dropped_count(iter(previous), iter(failed), iter(["a"])) == 3  # any iterables, once each


def test_the_model_identity_names_all_four() -> None:
    identity = model_identity("tensorflow", "ab" * 32)
    assert identity == {"weights_sha256": "ab" * 32, "engine": "tensorflow",
                        "preprocessing": PREPROCESSING_VERSION, "feature_dim": FEATURE_DIM}


@relaxed
@given(engine=engines, sha=digests)
def test_the_same_model_is_reused(engine: str, sha: str) -> None:
    assert same_model(model_identity(engine, sha), model_identity(engine, sha))


@relaxed
@given(engine=engines, sha=digests, other=digests)
def test_only_the_weights_changed_is_not_reused(engine: str, sha: str, other: str) -> None:
    if other == sha:
        return
    assert not same_model(model_identity(engine, sha), model_identity(engine, other))


@relaxed
@given(engine=engines, other=engines, sha=digests)
def test_only_the_engine_changed_is_not_reused(engine: str, other: str, sha: str) -> None:
    """Protects against features from another engine (TensorFlow vs ONNX Runtime give close
    but not equal vectors) mixed into one output."""
    if other == engine:
        return
    assert not same_model(model_identity(engine, sha), model_identity(other, sha))


@pytest.mark.parametrize("name, value", [("PREPROCESSING_VERSION", PREPROCESSING_VERSION + 1
                                          if isinstance(PREPROCESSING_VERSION, int)
                                          else f"{PREPROCESSING_VERSION}-next"),
                                         ("FEATURE_DIM", FEATURE_DIM + 1)],
                         ids=["preprocessing", "feature_dim"])
def test_only_the_preprocessing_or_the_dimension_changed_is_not_reused(
        name: str, value: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A bigfruits whose preprocessing (resize, scaling) or feature size changed makes other
    features from the same weights and engine: an output of the older one is not reused."""
    previous = model_identity("tensorflow", "ab" * 32)
    monkeypatch.setattr(reuse, name, value)
    assert not same_model(previous, model_identity("tensorflow", "ab" * 32))


# --- precision: an int8 graph is another model than its fp32 graph --------------------------

def quantization(calibration: str = "c" * 64, quantizer: str = "q-v1") -> Dict[str, Any]:
    """The parts of an int8 report (``featurize/int8``) the identity reads."""
    return {"calibration": {"sha256": calibration}, "quantizer": quantizer, "kept_fp32": ["x"]}


def test_fp32_keeps_the_identity_it_had_before_int8() -> None:
    """An output made before int8 existed (fp32) stays reusable by an fp32 run."""
    assert model_identity("onnxruntime", "ab" * 32, None) == model_identity("onnxruntime", "ab" * 32)
    assert "precision" not in model_identity("onnxruntime", "ab" * 32)


@relaxed
@given(sha=digests)
def test_int8_and_fp32_of_the_same_weights_are_not_reused_for_each_other(sha: str) -> None:
    fp32, int8 = model_identity("onnxruntime", sha), model_identity("onnxruntime", sha, quantization())
    assert not same_model(fp32, int8) and not same_model(int8, fp32)
    assert int8["precision"] == "int8" and same_model(int8, model_identity("onnxruntime", sha, quantization()))


@relaxed
@given(sha=digests, calibration=digests, other=digests)
def test_only_the_calibration_set_changed_is_not_reused(sha: str, calibration: str, other: str) -> None:
    if other == calibration:
        return
    assert not same_model(model_identity("onnxruntime", sha, quantization(calibration)),
                          model_identity("onnxruntime", sha, quantization(other)))


def test_only_the_quantizer_changed_is_not_reused() -> None:
    assert not same_model(model_identity("onnxruntime", "ab" * 32, quantization(quantizer="q-v1")),
                          model_identity("onnxruntime", "ab" * 32, quantization(quantizer="q-v2")))
