"""ONNX Runtime engine: the driver broadcasts ONNX bytes; each Python worker opens one session.

Threads: ``threads`` intra-op threads, one inter-op thread and sequential execution, so that
Spark tasks x threads stays within the cores (ONNX Runtime's default takes every core in every
task, which oversubscribes the machine as soon as two tasks run).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from bigfruits.errors import EnvironmentProblem


def export_model(model: Any) -> bytes:
    """Driver side (needs TensorFlow and tf2onnx): the Keras model as ONNX bytes."""
    from bigfruits.pipeline.onnx_export import keras_to_onnx

    return keras_to_onnx(model)


class OnnxRuntimeEngine:
    """``predict``: (n, 224, 224, 3) float32 in [-1, 1] -> (n, 1280) float32."""

    name = "onnxruntime"

    def __init__(self, blob: bytes, threads: int) -> None:
        try:
            import onnxruntime
        except ImportError:
            raise EnvironmentProblem(
                "onnxruntime is not installed where the features are computed",
                "pip install 'bigfruits[onnx]' on every node, or pass --engine tensorflow",
            ) from None
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = max(1, int(threads))
        options.inter_op_num_threads = 1
        options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Idle pool threads sleep instead of spinning: with cores shared by other tasks
        # (decoding, Spark), spinning burns the CPU they need (measured 42 -> 61 images/s).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = onnxruntime.InferenceSession(
            blob, sess_options=options, providers=["CPUExecutionProvider"]
        )
        self._input = self.session.get_inputs()[0].name
        self._output = self.session.get_outputs()[0].name
        self._width = int(self.session.get_outputs()[0].shape[-1])

    def predict(self, batch: np.ndarray) -> np.ndarray:
        images = np.ascontiguousarray(batch, dtype=np.float32)
        if images.shape[0] == 0:
            return np.empty((0, self._width), dtype=np.float32)
        (features,) = self.session.run([self._output], {self._input: images})
        return np.asarray(features, dtype=np.float32)


def load_engine(blob: bytes, threads: int) -> OnnxRuntimeEngine:
    """Worker side: an engine from the broadcast ONNX bytes."""
    return OnnxRuntimeEngine(blob, threads)
