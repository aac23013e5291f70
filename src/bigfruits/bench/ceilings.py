"""What the hardware can do without Spark: decode speed, and raw TensorFlow / ONNX Runtime
inference on already-decoded images (the ceilings the pipeline is compared with)."""
from __future__ import annotations

import time
from typing import Any, List

import numpy as np

from bigfruits.pipeline.featurize.images import decode_image, preprocess

CEILING_BATCH = 64


def decode_seconds_per_image(paths: List[str]) -> float:
    """One core: read, decode, resize and preprocess each file once."""
    clock = time.perf_counter()
    for path in paths:
        with open(path, "rb") as handle:
            preprocess(decode_image(handle.read())[None])
    return (time.perf_counter() - clock) / max(1, len(paths))


def decoded_batch(paths: List[str]) -> np.ndarray:
    """The model input for ``paths``: (n, 224, 224, 3) float32 in [-1, 1]."""
    arrays = []
    for path in paths:
        with open(path, "rb") as handle:
            arrays.append(decode_image(handle.read()))
    return preprocess(np.stack(arrays))


def _images_per_second(predict: Any, images: np.ndarray, batch: int) -> float:
    predict(images[:batch])  # warm-up: graph tracing, memory arenas
    clock = time.perf_counter()
    for start in range(0, len(images), batch):
        predict(images[start : start + batch])
    return len(images) / (time.perf_counter() - clock)


def raw_tensorflow_rate(model: Any, images: np.ndarray, batch: int = CEILING_BATCH) -> float:
    """A compiled ``tf.function`` of the Keras model, TensorFlow's default threads."""
    import tensorflow as tf

    call = tf.function(
        lambda x: model(x, training=False),
        input_signature=[tf.TensorSpec((None,) + images.shape[1:], tf.float32)],
    )
    return _images_per_second(lambda x: call(x).numpy(), images, batch)


def raw_onnxruntime_rate(
    onnx_bytes: bytes, images: np.ndarray, threads: int, batch: int = CEILING_BATCH
) -> float:
    from bigfruits.pipeline.featurize.engine_onnxruntime import load_engine

    return _images_per_second(load_engine(onnx_bytes, threads).predict, images, batch)
