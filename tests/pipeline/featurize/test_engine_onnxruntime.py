"""The ONNX Runtime engine gives the features Keras gives, with the same (seeded) weights."""
from __future__ import annotations

import sys

import numpy as np
import pytest

from tests.support.ci import require_module  # noqa: E402

keras = require_module("keras")
require_module("tf2onnx")
require_module("onnxruntime")

from bigfruits.pipeline.featurize.engine_onnxruntime import (  # noqa: E402
    export_model,
    load_engine,
    trim_heap,
)


@pytest.fixture(scope="module")
def keras_model():
    keras.utils.set_random_seed(1234)
    return keras.applications.MobileNetV2(
        weights=None, include_top=False, pooling="avg", input_shape=(224, 224, 3)
    )


@pytest.fixture(scope="module")
def onnx_bytes(keras_model):
    return export_model(keras_model)


def preprocessed_images(count: int, seed: int) -> np.ndarray:
    """Inputs as preprocess_input leaves them: float32 in [-1, 1]."""
    return np.random.default_rng(seed).uniform(-1, 1, (count, 224, 224, 3)).astype(np.float32)


def relative_error(ours: np.ndarray, reference: np.ndarray) -> float:
    return float(np.abs(ours - reference).max() / np.abs(reference).max())


def test_onnx_features_match_keras(keras_model, onnx_bytes):
    images = preprocessed_images(5, seed=0)
    expected = np.asarray(keras_model(images, training=False))
    features = load_engine(onnx_bytes, threads=1).predict(images)
    assert features.shape == (5, 1280) and features.dtype == np.float32
    assert np.abs(expected).max() > 0  # a non-trivial comparison
    assert relative_error(features, expected) < 1e-4


def test_any_batch_size_and_thread_count(keras_model, onnx_bytes):
    images = preprocessed_images(3, seed=1)
    engine = load_engine(onnx_bytes, threads=2)
    assert engine.name == "onnxruntime"
    assert engine.session.get_session_options().intra_op_num_threads == 2
    assert engine.session.get_session_options().inter_op_num_threads == 1
    whole = engine.predict(images)
    one_by_one = np.concatenate([engine.predict(images[i : i + 1]) for i in range(3)])
    np.testing.assert_allclose(whole, one_by_one, rtol=1e-5, atol=1e-6)
    assert engine.predict(images[:0]).shape == (0, 1280)


def rss() -> int:
    """This process's resident memory in bytes."""
    return require_module("psutil").Process().memory_info().rss


def test_release_memory_gives_the_batch_arena_back_and_changes_no_feature(onnx_bytes):
    """Called at the end of every task: an idle worker must not keep a batch's working memory
    (about 300 MiB at 32 images) while later stages start workers of their own.

    Measured against the same engine after a 1-image run, not as a fixed number of MiB: how
    much of the process the heap holds depends on what ran before in it (an absolute 150 MiB
    bar failed once on CI at 147)."""
    engine = load_engine(onnx_bytes, threads=1)
    images = preprocessed_images(32, seed=3)
    engine.predict(images[:1])
    trim_heap()  # what earlier tests left freed in the heap is not this engine's to give back
    one_image = rss()
    before = engine.predict(images)
    grown = rss() - one_image
    assert grown > 100 * 2**20, grown >> 20  # the batch did grow the arena: a real measure
    engine.release_memory()
    kept = rss() - one_image
    assert kept < grown / 4, (grown >> 20, kept >> 20)
    np.testing.assert_array_equal(engine.predict(images), before)


def test_trim_heap_returns_freed_pages_to_the_system():
    """glibc keeps freed small chunks in its heap; the trim hands their pages back."""
    if sys.platform != "linux":
        pytest.skip("malloc_trim is glibc's")
    trim_heap()
    start = rss()
    # 200 MiB in 64 KiB pieces: below the mmap threshold, so they live in the heap
    pieces = [np.ones(16 * 1024, dtype=np.float32) for _ in range(3200)]
    keep = pieces[-1]  # the heap's top stays in use, so free() alone cannot shrink it
    del pieces
    freed_not_returned = rss() - start
    trim_heap()
    after = rss() - start
    assert freed_not_returned > 100 * 2**20, freed_not_returned >> 20  # else nothing to see
    assert after < freed_not_returned / 4, (freed_not_returned >> 20, after >> 20)
    del keep


def recorded_run_sizes(engine) -> list:
    """Wraps the engine's session: the number of images each ``session.run`` received."""
    sizes, run = [], engine.session.run

    class Recording:
        def __getattr__(self, name):
            return getattr(engine.session, name)

        def run(self, outputs, feeds, *rest):
            sizes.append(next(iter(feeds.values())).shape[0])
            return run(outputs, feeds, *rest)

    engine.session = Recording()
    return sizes


def test_an_int8_payload_runs_a_few_images_per_call_and_fp32_its_whole_batch(onnx_bytes):
    """What a worker builds from the broadcast payload (``engine_for``): an int8 graph runs
    ``INT8_RUN_BATCH`` images per ``session.run`` (faster: its activations stay in cache), the
    same features in the same order; fp32 still one run per decoded batch (same bits as before)."""
    from bigfruits.pipeline.featurize.engines import INT8_RUN_BATCH, EnginePayload, engine_for

    images = preprocessed_images(INT8_RUN_BATCH * 2 + 1, seed=5)
    fp32 = engine_for(EnginePayload("onnxruntime", onnx_bytes, "w" * 64, 1, "fp32"))
    fp32_sizes = recorded_run_sizes(fp32)
    whole = fp32.predict(images)
    assert fp32_sizes == [len(images)]
    int8 = engine_for(EnginePayload("onnxruntime", onnx_bytes, "w" * 64, 1, "int8:cal:quantizer"))
    assert int8 is not fp32
    int8_sizes = recorded_run_sizes(int8)
    split = int8.predict(images)
    assert int8_sizes == [INT8_RUN_BATCH, INT8_RUN_BATCH, 1]
    assert split.shape == whole.shape and split.dtype == np.float32
    np.testing.assert_allclose(split, whole, rtol=1e-5, atol=1e-6)  # same rows, same order
    assert int8.predict(images[:0]).shape == (0, 1280)
