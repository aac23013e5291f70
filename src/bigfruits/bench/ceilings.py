"""What the hardware can do without Spark: decode speed, and raw TensorFlow / ONNX Runtime
inference on already-decoded images (the ceilings the pipeline is compared with)."""
from __future__ import annotations

import time
from typing import Any, List

import numpy as np

from bigfruits.pipeline.config import DEFAULT_BATCH_SIZE
from bigfruits.pipeline.featurize.images import decode_image, preprocess

#: the pipeline's own default, so the ceiling runs ONNX Runtime as a Spark task does
CEILING_BATCH = DEFAULT_BATCH_SIZE


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


def images_per_second(predict: Any, images: np.ndarray, batch: int = CEILING_BATCH) -> float:
    """``predict`` over ``images`` in batches of ``batch``, after one warm-up batch."""
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
    return images_per_second(lambda x: call(x).numpy(), images, batch)


def raw_onnxruntime_rate(
    onnx_bytes: bytes, images: np.ndarray, threads: int, batch: int = CEILING_BATCH
) -> float:
    """The pipeline's own ONNX Runtime engine with ``threads`` threads: inference alone."""
    from bigfruits.pipeline.featurize.engine_onnxruntime import load_engine

    return images_per_second(load_engine(onnx_bytes, threads).predict, images, batch)


def _decode_and_infer(onnx_path: str, paths: List[str], batch: int, start_line: Any,
                      results: Any) -> None:
    """One process of the decode+inference ceiling: the pipeline's own decode, preprocess and
    ONNX Runtime engine (one thread, as each Spark task runs it), timed from a common start."""
    from bigfruits.pipeline.featurize.engine_onnxruntime import load_engine

    with open(onnx_path, "rb") as handle:
        engine = load_engine(handle.read(), 1)
    with open(paths[0], "rb") as handle:  # warm-up: memory arenas
        engine.predict(preprocess(decode_image(handle.read())[None]))
    start_line.wait()
    clock = time.perf_counter()
    for start in range(0, len(paths), batch):
        arrays = []
        for path in paths[start : start + batch]:
            with open(path, "rb") as handle:
                arrays.append(decode_image(handle.read()))
        engine.predict(preprocess(np.stack(arrays)))
    results.put((len(paths), time.perf_counter() - clock))


def decode_inference_rate(onnx_path: str, paths: List[str], processes: int,
                          batch: int = CEILING_BATCH) -> float:
    """What the hardware can do on these files without Spark: one process per core, each
    reading, decoding, resizing, preprocessing and running ONNX Runtime on its share; images
    per second from the moment all start to the moment the last one ends."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")  # no JVM, threads or TF inherited
    shares = [share for share in (paths[i::processes] for i in range(processes)) if share]
    start_line, results = context.Barrier(len(shares) + 1), context.Queue()
    workers = [context.Process(target=_decode_and_infer, args=(onnx_path, share, batch, start_line, results))
               for share in shares]
    for worker in workers:
        worker.start()
    try:
        start_line.wait(timeout=600)
        done = [results.get(timeout=3600) for _ in workers]
    finally:
        for worker in workers:
            worker.join(timeout=60)
    return sum(n for n, _ in done) / max(seconds for _, seconds in done)
