"""``--precision int8``: the int8 graph of a model, made once on the user's machine from the fp32
export and kept beside it in the same cache (``cache.int8_path``), keyed by the weights, the
calibration set (``calibration``) and the quantizer version (``quantize``). It travels like the
fp32 graph (broadcast to the executors, uploaded as ``models/<sha256>/``); the nodes run it with
the onnxruntime they have.

How it is made (``make_int8``), measured rather than listed, since other weights have other
sensitive layers:

1. calibrate the activations' ranges on the calibration images;
2. if the whole graph in int8 does not meet the gate's thresholds on those images, rank the
   layers by their cost alone: each quantized on its own (the rest fp32), how far the features
   move from fp32 (1 - mean cosine) on up to ``SENSITIVITY_IMAGES`` calibration images;
3. keep the costliest in fp32, one more at a time (at most ``MAX_KEPT_FP32``), until the
   graph meets the thresholds on the calibration images;
4. the gate itself (``fidelity``) on the images held out of the calibration: pass, or refuse
   in one line saying why. Its figures go into the report, the manifest and ``model.json``.
"""
from __future__ import annotations

import hashlib
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from bigfruits.errors import EnvironmentProblem
from bigfruits.pipeline.config import DEFAULT_BATCH_SIZE, check_precision
from bigfruits.pipeline.featurize import cache, quantize
from bigfruits.pipeline.featurize.calibration import CalibrationSet, calibration_set, load_images
from bigfruits.pipeline.featurize.engines import Prepared
from bigfruits.pipeline.featurize.fidelity import (GATE_MEAN, GATE_P1, Fidelity, check_gate,
                                                   fidelity)

MAX_KEPT_FP32 = 8
SENSITIVITY_IMAGES = 32

Echo = Callable[[str], None]


def _stderr(line: str) -> None:
    print(f"bigfruits: {line}", file=sys.stderr, flush=True)


def features_of(blob: bytes, images: np.ndarray, threads: int) -> np.ndarray:
    """The features a worker would compute with this graph (the pipeline's own engine)."""
    from bigfruits.pipeline.featurize.engine_onnxruntime import load_engine

    engine = load_engine(blob, threads)
    return np.concatenate([engine.predict(images[start:start + DEFAULT_BATCH_SIZE])
                           for start in range(0, len(images), DEFAULT_BATCH_SIZE)])


def rank_layers(pre: Path, ranges: Path, images: np.ndarray, reference: np.ndarray,
                threads: int) -> List[Tuple[float, quantize.Layer]]:
    """``(cost, layer)`` for every layer quantized alone, costliest first (graph order on ties)."""
    costs = []
    for layer in quantize.layers(pre):
        alone = features_of(quantize.qdq_graph(pre, ranges, quantize_only=[layer]), images, threads)
        costs.append((1.0 - fidelity(reference, alone).mean, layer))
    return sorted(costs, key=lambda cost_layer: -cost_layer[0])


def keep_until_passing(pre: Path, ranges: Path, images: np.ndarray, reference: np.ndarray,
                       threads: int, max_kept: int,
                       ranking: Callable[[], Sequence[quantize.Layer]]
                       ) -> Tuple[List[quantize.Layer], bytes, Fidelity]:
    """The first graph, keeping 0, 1, 2, ... of the ranked layers in fp32, that meets the gate's
    thresholds on the calibration images (or the last tried, ``max_kept`` layers kept)."""
    kept: List[quantize.Layer] = []
    ranked: Sequence[quantize.Layer] = ()
    while True:
        blob = quantize.qdq_graph(pre, ranges, keep_fp32=kept)
        measured = fidelity(reference, features_of(blob, images, threads))
        if measured.passes() or len(kept) >= max_kept:
            return kept, blob, measured
        ranked = ranked or ranking()
        if len(kept) >= len(ranked):
            return kept, blob, measured
        kept = list(ranked[: len(kept) + 1])


def make_int8(fp32: bytes, calibration: CalibrationSet, threads: int,
              max_kept: int = MAX_KEPT_FP32) -> Tuple[bytes, Dict[str, Any]]:
    """``(int8 graph, report)`` of the fp32 graph (see the module docstring); refuses
    (``FidelityRefused``) a graph that fails the gate on the held-out images."""
    clock = time.perf_counter()
    images, held_out = load_images(calibration.calibration), load_images(calibration.held_out)
    reference, held_reference = features_of(fp32, images, threads), features_of(fp32, held_out, threads)
    with tempfile.TemporaryDirectory(prefix="bigfruits-int8-") as scratch:
        pre = quantize.pre_process(fp32, Path(scratch))
        ranges = quantize.calibrate(pre, images, Path(scratch))
        sample = slice(0, SENSITIVITY_IMAGES)
        costs: List[Tuple[float, quantize.Layer]] = []

        def ranking() -> List[quantize.Layer]:
            costs.extend(rank_layers(pre, ranges, images[sample], reference[sample], threads))
            return [layer for _cost, layer in costs]

        kept, blob, on_calibration = keep_until_passing(pre, ranges, images, reference, threads,
                                                        max_kept, ranking)
        layer_count = len(quantize.layers(pre))
    on_held_out = fidelity(held_reference, features_of(blob, held_out, threads))
    report = {"precision": "int8", "quantizer": quantize.quantizer_version(),
              "calibration": calibration.to_dict(), "layers": layer_count,
              "kept_fp32": [layer[0] for layer in kept],
              "sensitivity": [{"layer": layer[0], "cost": round(cost, 6)} for cost, layer in costs[:10]],
              "fidelity": {"calibration": on_calibration.to_dict(), "held_out": on_held_out.to_dict()},
              "gate": {"cosine_mean": GATE_MEAN, "cosine_p1": GATE_P1},
              "graph_sha256": hashlib.sha256(blob).hexdigest(),
              "seconds_to_make": round(time.perf_counter() - clock, 1)}
    check_gate(on_held_out, len(kept))
    return blob, report


def _from_cache(path: str) -> "Tuple[bytes, Dict[str, Any]] | None":
    found = cache.read_int8(path)
    if found and hashlib.sha256(found[0]).hexdigest() == found[1].get("graph_sha256"):
        return found
    return None


def int8_of(fp32: Prepared, calibration: Optional[str] = None, echo: Echo = _stderr) -> Prepared:
    """The int8 ``Prepared`` of an fp32 ONNX Runtime one: from the user's cache, else made here
    (about a minute, once) and cached."""
    from bigfruits.pipeline.featurize.engine_onnxruntime import OPSET

    chosen = calibration_set(calibration)
    path = cache.int8_path(fp32.weights.sha256, OPSET, chosen.sha256, quantize.quantizer_version())
    found = _from_cache(path)
    from_cache = found is not None
    if found is None:
        quantize.quantization_tools()  # a missing tool is said before the work starts
        echo(f"making the int8 graph of these weights (once; calibrated on "
             f"{len(chosen.calibration)} images of {chosen.to_dict()['source']}, checked on "
             f"{len(chosen.held_out)} held out)")
        found = make_int8(fp32.blob, chosen, os.cpu_count() or 1)
        cache.write_int8(path, *found)
        held = found[1]["fidelity"]["held_out"]
        echo(f"int8 graph ready in {found[1]['seconds_to_make']:.0f} s: "
             f"{len(found[1]['kept_fp32'])} of {found[1]['layers']} layers kept in fp32; held out: "
             f"mean cosine {held['cosine_mean']:.4f}, 1st percentile {held['cosine_p1']:.4f} vs fp32")
    blob, report = found
    return Prepared(fp32.engine, blob, fp32.weights, fp32.cached and from_cache, report)


def for_precision(prepared: Prepared, precision: str, calibration: Optional[str] = None,
                  echo: Echo = _stderr) -> Prepared:
    """``prepared`` (an fp32 graph) for ``--precision``: itself for fp32, its int8 graph else."""
    check_precision(precision, calibration)
    if precision == "fp32":
        return prepared
    if prepared.engine != "onnxruntime":
        raise EnvironmentProblem("--precision int8 runs with ONNX Runtime, which is not installed here",
                                 "pip install 'bigfruits[onnx]'")
    return int8_of(prepared, calibration, echo)
