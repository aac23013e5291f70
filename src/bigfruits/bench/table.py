"""Benchmark results -> the targets of issue 3, a Markdown report and a console table.

Pure functions over the results dict that ``runner.measure`` returns, so they are unit-tested
without running anything.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

FULL_SIZE_LIMIT_S = 15 * 60


def _ratio(numerator: Optional[float], denominator: Optional[float]) -> Optional[float]:
    if numerator is None or not denominator:
        return None
    return numerator / denominator


def throughput_rows(results: Dict[str, Any]) -> List[Tuple[str, Optional[float], Optional[float], Optional[float]]]:
    """(what, images/s, x users' pattern, share of the raw ONNX Runtime ceiling)."""
    rates = results.get("rates", {})
    users = rates.get("users_rebuild_per_batch")
    ceiling = rates.get("raw_onnxruntime")
    labels = [
        ("users_rebuild_per_batch", "users: model rebuilt per batch, predict 1 image at a time"),
        ("course_scalar_iterator", "course: Scalar Iterator UDF, batched model.predict"),
        ("raw_tensorflow", "raw TensorFlow, no Spark, tf.function, batch 64"),
        ("raw_onnxruntime", "raw ONNX Runtime, no Spark, batch 64"),
    ]
    labels += [(key, "bigfruits run " + key.split("_", 1)[1].replace("_", " "))
               for key in sorted(rates) if key.startswith("run_")]
    return [(label, rates.get(key), _ratio(rates.get(key), users), _ratio(rates.get(key), ceiling))
            for key, label in labels if key in rates]


def largest_run(results: Dict[str, Any]) -> Tuple[Optional[int], Optional[float]]:
    """(images, end-to-end images/s) of the default engine's largest run: the set-up, PCA and
    writes cost seconds whatever the size, so throughput targets are judged at scale."""
    sized = results.get("sized_runs", {})
    if not sized:
        return None, None
    images = max(int(count) for count in sized)
    return images, images / sized[str(images)]["total"]


def targets(results: Dict[str, Any]) -> List[Tuple[str, str, Optional[bool]]]:
    """(target, measured, met) for each target of issue 3; met is None when not measured."""
    rates, pca = results.get("rates", {}), results.get("pca", {})
    images, end_to_end = largest_run(results)
    users, ceiling = rates.get("users_rebuild_per_batch"), rates.get("raw_onnxruntime")
    share, speedup = _ratio(end_to_end, ceiling), _ratio(end_to_end, users)
    over_spark = _ratio(pca.get("spark_ml_s"), pca.get("ours_s"))
    over_sklearn = _ratio(pca.get("ours_s"), pca.get("sklearn_s"))
    full = results.get("scale", {}).get("total_s")
    rows = [
        (f"run end to end ({images} images) >= 70% of raw ONNX Runtime",
         _fmt(share, "{:.0%}"), None if share is None else share >= 0.7),
        (f"run end to end ({images} images) >= 10x users' pattern",
         _fmt(speedup, "{:.1f}x"), None if speedup is None else speedup >= 10),
        ("PCA fit >= 5x faster than Spark ML",
         _fmt(over_spark, "{:.1f}x"), None if over_spark is None else over_spark >= 5),
        ("PCA fit within 2x of scikit-learn",
         _fmt(over_sklearn, "{:.2f}x sklearn's time"), None if over_sklearn is None else over_sklearn <= 2),
        ("full size (67,692 images) under 15 minutes",
         _fmt(full, "{:.0f} s"), None if full is None else full < FULL_SIZE_LIMIT_S),
    ]
    return rows


def _fmt(value: Optional[float], pattern: str) -> str:
    return "not measured" if value is None else pattern.format(value)


def _markdown_table(header: List[str], rows: List[List[str]]) -> List[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines + [""]


def markdown(results: Dict[str, Any]) -> str:
    """The whole report, as committed to the README."""
    machine = results.get("machine", {})
    lines = [
        f"Benchmark of {results.get('date', '?')} on {machine.get('description', '?')} "
        f"(load average {machine.get('load_before', '?')} before, "
        f"{machine.get('load_after', '?')} after; {results.get('images', '?')} images, "
        f"weights: {results.get('weights', '?')})",
        "",
    ]
    lines += _markdown_table(
        ["featurization", "images/s", "x users", "of ONNX ceiling"],
        [[label, _fmt(rate, "{:.1f}"), _fmt(users, "{:.1f}x"), _fmt(ceiling, "{:.0%}")]
         for label, rate, users, ceiling in throughput_rows(results)],
    )
    pca = results.get("pca", {})
    if pca:
        lines += _markdown_table(
            [f"PCA fit {pca.get('rows')} x {pca.get('width')} -> {pca.get('k')}", "seconds"],
            [["bigfruits ExactPCA (Spark)", _fmt(pca.get("ours_s"), "{:.2f}")],
             ["Spark ML PCA", _fmt(pca.get("spark_ml_s"), "{:.2f}")],
             ["scikit-learn PCA (driver only)", _fmt(pca.get("sklearn_s"), "{:.2f}")]],
        )
    memory = results.get("memory", [])
    if memory:
        lines += _markdown_table(
            ["images", "peak driver Python (MiB)", "peak all processes (MiB)", "seconds",
             "images/s end to end"],
            [[str(m["images"]), f"{m['driver_python'] / 2**20:.0f}",
              f"{m['all_processes'] / 2**20:.0f}", f"{m['total_s']:.1f}",
              f"{m['images'] / m['total_s']:.1f}"] for m in memory],
        )
    breakdown = results.get("breakdown", {})
    if breakdown:
        lines += _markdown_table(
            ["where the time goes (bigfruits run)", "seconds"],
            [[name, f"{seconds:.1f}"] for name, seconds in breakdown.items()],
        )
    scale = results.get("scale", {})
    if scale:
        lines += [f"Full size: {scale['images']} images in {scale['total_s']:.0f} s "
                  f"({scale['images'] / scale['total_s']:.1f} images/s end to end).", ""]
    lines += _markdown_table(
        ["target", "measured", "met"],
        [[name, measured, {True: "yes", False: "NO", None: "-"}[met]]
         for name, measured, met in targets(results)],
    )
    errors = results.get("errors", {})
    if errors:
        lines += ["Steps that failed:", ""] + [f"- {step}: {text}" for step, text in errors.items()]
    return "\n".join(lines) + "\n"
