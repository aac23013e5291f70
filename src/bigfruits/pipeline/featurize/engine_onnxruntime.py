"""ONNX Runtime engine: the driver exports the Keras model to ONNX bytes with tf2onnx and
broadcasts them; each Python worker opens one session.

Why tf2onnx and not a hand-written converter: measured here (TF 2.21, Keras 3.15, tf2onnx
1.17) it converts the model in ~6 s with a relative error of 3e-7 against Keras, and tf2onnx
1.17 only asks for numpy>=1.23.5 and protobuf>=3.20, so it also installs beside TF 2.16 and
numpy<2 (EMR 7). Only the machine that exports needs TensorFlow and tf2onnx (the user's: a
cluster gets the exported graph with ``--model``, see ``published``); workers need onnxruntime.

Threads: ``threads`` intra-op threads, one inter-op thread and sequential execution, so that
Spark tasks x threads stays within the cores (ONNX Runtime's default takes every core in every
task, which oversubscribes the machine as soon as two tasks run).
"""
from __future__ import annotations

import ctypes
import ctypes.util
import functools
from typing import Any, Callable, Optional

import numpy as np

from bigfruits.errors import EnvironmentProblem
from bigfruits.pipeline.featurize.model import import_tensorflow

#: ONNX opset: 15 has every op MobileNetV2 needs and runs on onnxruntime >= 1.10.
OPSET = 15
INPUT_NAME = "images"


def export_model(model: Any) -> bytes:
    """Driver side (needs TensorFlow and tf2onnx): the serialized ONNX graph of the Keras
    ``model`` (NHWC float32 in, features out, any batch size)."""
    try:
        tf = import_tensorflow()
        import tf2onnx
    except ImportError as missing:
        raise EnvironmentProblem(
            f"cannot export the model to ONNX ({missing})",
            "pip install 'bigfruits[onnx]' (tf2onnx and tensorflow are needed on the driver)",
        ) from None
    signature = (tf.TensorSpec((None,) + tuple(model.input_shape[1:]), tf.float32, INPUT_NAME),)

    @tf.function(input_signature=signature)
    def features(images):
        return model(images, training=False)

    proto, _ = tf2onnx.convert.from_function(features, input_signature=signature, opset=OPSET)
    return proto.SerializeToString()


class OnnxRuntimeEngine:
    """``predict``: (n, 224, 224, 3) float32 in [-1, 1] -> (n, 1280) float32, in one
    ``session.run``, or in runs of at most ``run_batch`` images when given (see
    ``engines.INT8_RUN_BATCH``)."""

    name = "onnxruntime"

    def __init__(self, blob: bytes, threads: int, run_batch: Optional[int] = None) -> None:
        try:
            import onnxruntime
        except ImportError:
            raise EnvironmentProblem(
                "onnxruntime is not installed where the features are computed",
                "pip install 'bigfruits[node]' on every node (what create-cluster's bootstrap installs)",
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
        self.run_batch = None if run_batch is None else max(1, int(run_batch))
        self._input = self.session.get_inputs()[0].name
        self._output = self.session.get_outputs()[0].name
        self._width = int(self.session.get_outputs()[0].shape[-1])
        self._one_image = np.zeros([1, *self.session.get_inputs()[0].shape[1:]], dtype=np.float32)
        self._shrink = onnxruntime.RunOptions()
        self._shrink.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")

    def predict(self, batch: np.ndarray) -> np.ndarray:
        images = np.ascontiguousarray(batch, dtype=np.float32)
        if images.shape[0] == 0:
            return np.empty((0, self._width), dtype=np.float32)
        step = self.run_batch or images.shape[0]
        if step >= images.shape[0]:
            return self._run(images)
        return np.concatenate([self._run(images[start:start + step])
                               for start in range(0, images.shape[0], step)])

    def _run(self, images: np.ndarray) -> np.ndarray:
        (features,) = self.session.run([self._output], {self._input: images})
        return np.asarray(features, dtype=np.float32)

    def release_memory(self) -> None:
        """Shrink ONNX Runtime's arena (one 1-image run with the shrink option, ~30 ms): an
        idle worker otherwise keeps its batch-time peak (480 -> 165 MiB measured at batch 32)
        while later stages start workers of their own; the next task regrows it (~90 ms).
        Then hand the freed pages back to the system: glibc keeps freed chunks below its mmap
        threshold in the heap, so without the trim a worker whose heap is fragmented gave back
        147 instead of ~300 MiB (measured on CI; the trim takes 3-17 ms)."""
        self.session.run([self._output], {self._input: self._one_image}, self._shrink)
        trim_heap()


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim`` (Linux, EMR's Amazon Linux included), or None elsewhere
    (macOS, musl), where freed memory is given back by the allocator itself or not at all."""
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):
        return None


def trim_heap() -> None:
    """Return the heap's free pages to the system where the C library can."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


def load_engine(blob: bytes, threads: int, run_batch: Optional[int] = None) -> OnnxRuntimeEngine:
    """Worker side: an engine from the broadcast ONNX bytes."""
    return OnnxRuntimeEngine(blob, threads, run_batch)
