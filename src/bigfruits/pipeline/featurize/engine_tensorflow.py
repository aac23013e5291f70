"""TensorFlow engine: the weights travel as an ``.npz`` blob; each worker rebuilds MobileNetV2
and runs it as a compiled ``tf.function`` (not ``model.predict``, whose per-call set-up costs
more than the inference on small batches)."""
from __future__ import annotations

import io
from typing import Any, List

import numpy as np

from bigfruits.pipeline.featurize.model import INPUT_SHAPE, build_mobilenet, import_tensorflow


def export_model(model: Any) -> bytes:
    """Driver side: the weights as one ``.npz`` blob (the architecture is rebuilt in code)."""
    buffer = io.BytesIO()
    weights: List[np.ndarray] = model.get_weights()
    np.savez(buffer, *weights)
    return buffer.getvalue()


def _limit_threads(threads: int) -> None:
    """Spark tasks x inference threads <= cores: pin TF's pools before TF starts them."""
    tf = import_tensorflow()
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:  # TF already initialised in this process: keep its pools
        pass


class TensorFlowEngine:
    """``predict``: (n, 224, 224, 3) float32 in [-1, 1] -> (n, 1280) float32."""

    name = "tensorflow"

    def __init__(self, blob: bytes, threads: int) -> None:
        _limit_threads(threads)
        import tensorflow as tf

        with np.load(io.BytesIO(blob)) as arrays:
            weights = [arrays[f"arr_{i}"] for i in range(len(arrays.files))]
        self._model = build_mobilenet(None)
        self._model.set_weights(weights)
        self._call = tf.function(
            lambda x: self._model(x, training=False),
            input_signature=[tf.TensorSpec((None,) + INPUT_SHAPE, tf.float32)],
        )

    def predict(self, batch: np.ndarray) -> np.ndarray:
        return np.asarray(self._call(batch), dtype=np.float32)

    def release_memory(self) -> None:
        """Nothing to release: TensorFlow keeps no per-batch arena we can shrink."""


def load_engine(blob: bytes, threads: int) -> TensorFlowEngine:
    """Worker side: an engine from the broadcast weights."""
    return TensorFlowEngine(blob, threads)
