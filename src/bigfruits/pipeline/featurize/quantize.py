"""ONNX Runtime's static quantization of the exported fp32 graph into a QDQ int8 graph, on the
user's machine: ``onnx`` and ``onnxruntime.quantization`` are needed here only, the nodes run
the result with the onnxruntime they already have.

- ``quant_pre_process`` first: shape inference and ORT's basic optimizations (the batch-norm
  multiplies and adds tf2onnx leaves after the depthwise convolutions fold into them);
- the activations' ranges are calibrated once, a few images at a time: ORT's histogram
  calibrators keep every intermediate tensor of all that one ``collect_data`` call sees
  (MobileNetV2: ~13 MB per image) before folding it into their histograms, so each call gets
  ``CALIBRATION_BATCH`` images and memory stays flat whatever the calibration set;
- QDQ graphs are then made from those ranges (ORT's calibration cache) as many times as the
  layer search needs, without calibrating again: activations uint8, weights int8 per channel
  (what ORT advises for x86 CPUs, VNNI or not), the named layers left in fp32.

A "layer" is a Conv/Gemm/MatMul/Add node with the Clip/Relu that alone follows it: quantized,
ORT folds that activation into the node's output range, so measuring the node without it
would charge it the cost of quantizing the unclipped output, which no whole graph pays.
"""
from __future__ import annotations

import contextlib
import io
import logging
import tempfile
from collections import defaultdict
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from bigfruits.errors import EnvironmentProblem

#: bumped when how the graph is made changes (method, types, layer rule, search)
QUANTIZER_SCHEME = "ort-static-qdq-u8s8-per-channel-entropy-sensitivity-v1"
CALIBRATION_BATCH = 8
LAYER_OPS = ("Conv", "Gemm", "MatMul", "Add")
FOLDED_ACTIVATIONS = ("Clip", "Relu")

Layer = Tuple[str, ...]  # the node's name, then its folded activation's (if any)


def quantizer_version() -> str:
    """Our scheme and the onnxruntime that quantizes (its calibrators and quantizer shape the
    graph): part of the int8 graph's cache key and of the model identity."""
    try:
        runtime = version("onnxruntime")
    except PackageNotFoundError:
        runtime = "none"
    return f"{QUANTIZER_SCHEME}+onnxruntime-{runtime}"


def quantization_tools() -> Any:
    """``onnxruntime.quantization`` when it can make int8 graphs here, else one clear line."""
    try:
        import onnx  # noqa: F401  (the quantizer's own dependency)
        from onnxruntime import quantization
        from onnxruntime.quantization import calibrate
    except ImportError as missing:
        raise EnvironmentProblem(f"cannot make the int8 graph on this machine ({missing})",
                                 "pip install 'bigfruits[onnx]' (onnx and onnxruntime)") from None
    if not hasattr(calibrate, "save_tensors_data"):
        raise EnvironmentProblem(
            f"onnxruntime {version('onnxruntime')} cannot reuse calibration ranges (needed to "
            "measure each layer without calibrating again)",
            "pip install -U onnxruntime on this machine (the nodes need no change)")
    return quantization


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """ORT's calibrators print their progress and its quantizer logs warnings per tensor."""
    logger = logging.getLogger()
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        logger.setLevel(level)


def pre_process(fp32: bytes, folder: Path) -> Path:
    """``folder/pre.onnx``: the fp32 graph after ``quant_pre_process``."""
    tools = quantization_tools()
    source, target = folder / "fp32.onnx", folder / "pre.onnx"
    source.write_bytes(fp32)
    with _quiet():
        tools.quant_pre_process(str(source), str(target))
    return target


class _Batches:
    """ORT's ``CalibrationDataReader`` over one small batch."""

    def __init__(self, name: str, batch: np.ndarray) -> None:
        self._feeds = iter([{name: batch}])

    def get_next(self) -> Optional[Dict[str, np.ndarray]]:
        return next(self._feeds, None)


def calibrate(model: Path, images: np.ndarray, folder: Path) -> Path:
    """``folder/ranges.json``: the activations' ranges (ORT's entropy calibrator), fed
    ``CALIBRATION_BATCH`` images per ``collect_data`` call."""
    tools = quantization_tools()
    from onnxruntime.quantization.calibrate import save_tensors_data

    with _quiet():
        calibrator = tools.create_calibrator(
            str(model), None, augmented_model_path=str(folder / "augmented.onnx"),
            calibrate_method=tools.CalibrationMethod.Entropy)
        name = calibrator.infer_session.get_inputs()[0].name
        for start in range(0, len(images), CALIBRATION_BATCH):
            calibrator.collect_data(_Batches(name, images[start:start + CALIBRATION_BATCH]))
        ranges = calibrator.compute_data()
    target = folder / "ranges.json"
    save_tensors_data(ranges, target)
    return target


def layers(model: Path) -> List[Layer]:
    """The graph's layers in graph order (see the module docstring)."""
    import onnx

    graph = onnx.load(str(model)).graph
    consumers: Dict[str, List[Any]] = defaultdict(list)
    for node in graph.node:
        for name in node.input:
            consumers[name].append(node)
    found: List[Layer] = []
    for node in graph.node:
        if node.op_type not in LAYER_OPS:
            continue
        after = consumers[node.output[0]]
        folded = (after[0].name,) if len(after) == 1 and after[0].op_type in FOLDED_ACTIVATIONS else ()
        found.append((node.name, *folded))
    return found


def qdq_graph(model: Path, ranges: Path, quantize_only: Sequence[Layer] = (),
              keep_fp32: Sequence[Layer] = ()) -> bytes:
    """A QDQ int8 graph of ``model`` from the calibrated ``ranges``: every layer quantized but
    ``keep_fp32``, or only ``quantize_only`` when given."""
    tools = quantization_tools()
    with tempfile.TemporaryDirectory(prefix="bigfruits-qdq-") as scratch, _quiet():
        target = Path(scratch) / "int8.onnx"
        tools.quantize_static(
            str(model), str(target), None, quant_format=tools.QuantFormat.QDQ, per_channel=True,
            activation_type=tools.QuantType.QUInt8, weight_type=tools.QuantType.QInt8,
            nodes_to_quantize=[name for layer in quantize_only for name in layer] or None,
            nodes_to_exclude=[name for layer in keep_fp32 for name in layer] or None,
            calibrate_method=tools.CalibrationMethod.Entropy, calibration_cache_path=str(ranges))
        return target.read_bytes()
