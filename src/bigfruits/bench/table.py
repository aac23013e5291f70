"""Benchmark results -> the performance targets (speed against the decode+inference ceiling,
full size, --reuse, the sample's second run, memory; and reads from S3), judged, and the
Markdown report printed and written.

Pure functions over the results dict that ``runner.measure`` returns, so they are unit-tested
without running anything.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

FULL_SIZE_LIMIT_S = 5 * 60
SAMPLE_SECOND_RUN_LIMIT_S = 15.0
PEAK_MEMORY_LIMIT = 4 * 2**30


def _ratio(numerator: Optional[float], denominator: Optional[float]) -> Optional[float]:
    if numerator is None or not denominator:
        return None
    return numerator / denominator


def throughput_rows(results: Dict[str, Any]) -> List[Tuple[str, Optional[float], Optional[float], Optional[float]]]:
    """(what, images/s, x users' pattern, share of the decode+inference ceiling)."""
    rates = results.get("rates", {})
    users = rates.get("users_rebuild_per_batch")
    ceiling = rates.get("decode_inference")
    labels = [
        ("users_rebuild_per_batch", "users: model rebuilt per batch, predict 1 image at a time"),
        ("course_scalar_iterator", "course: Scalar Iterator UDF, batched model.predict"),
        ("decode_inference", "ceiling: read + decode + resize + preprocess + ONNX Runtime, "
                             "no Spark, one process per core"),
        ("raw_onnxruntime", "inference only: ONNX Runtime on decoded images, no Spark"),
        ("raw_tensorflow", "inference only: TensorFlow tf.function on decoded images"),
    ]
    labels += [(key, "bigfruits run " + key.split("_", 1)[1].replace("_", " ")
                + f" ({results.get('images', '?')} images, in-process)")
               for key in sorted(rates) if key.startswith("run_")]
    return [(label, rates.get(key), _ratio(rates.get(key), users), _ratio(rates.get(key), ceiling))
            for key, label in labels if key in rates]


def featurize_share(results: Dict[str, Any]) -> Tuple[Optional[int], Optional[float]]:
    """(images, featurize-stage rate / ceiling) of the largest run that featurized everything:
    the full size, else the first --reuse run, else the in-process run."""
    ceiling = results.get("rates", {}).get("decode_inference")
    for run in (results.get("scale"), results.get("reuse", {}).get("first")):
        if run:
            return run["images"], _ratio(run["featurize_rate"], ceiling)
    rate = results.get("rates", {}).get(f"run_{results.get('default_engine')}_featurize_stage")
    return (results.get("images") if rate else None), _ratio(rate, ceiling)


def peak_memory(results: Dict[str, Any]) -> Tuple[Optional[int], Optional[int]]:
    """(images, bytes) of the CLI run with the highest peak, all processes at one instant."""
    runs = list(results.get("memory", []))
    runs += [results[key] for key in ("scale",) if results.get(key)]
    runs += [run for key, run in results.get("reuse", {}).items()]
    if not runs:
        return None, None
    worst = max(runs, key=lambda run: run["peak_all_processes"])
    return worst["images"], worst["peak_all_processes"]


def targets(results: Dict[str, Any]) -> List[Tuple[str, str, Optional[bool]]]:
    """(target, measured, met) for each performance target (featurize stage and end to end
    against the ceiling, full size, --reuse, the sample's second run, peak memory); met is None
    when not measured."""
    ceiling = results.get("rates", {}).get("decode_inference")
    scale, reuse, sample = results.get("scale", {}), results.get("reuse", {}), results.get("sample", {})
    images, featurize = featurize_share(results)
    end_to_end = _ratio(_ratio(scale.get("images"), scale.get("wall_s")), ceiling)
    full = scale.get("wall_s")
    first, second, added = reuse.get("first", {}), reuse.get("k_changed", {}), reuse.get("added", {})
    reuse_share = _ratio(second.get("wall_s"), first.get("wall_s"))
    memory_images, memory = peak_memory(results)
    sample_s = sample.get("second_s")
    added_ok = None if not added else added["featurized"] == added["added"]
    return [
        (f"featurize stage ({images} images) >= 85% of the decode+inference ceiling",
         _fmt(featurize, "{:.0%}"), None if featurize is None else featurize >= 0.85),
        ("end to end at full size >= 75% of the decode+inference ceiling",
         _fmt(end_to_end, "{:.0%}"), None if end_to_end is None else end_to_end >= 0.75),
        ("full size (67,692 inputs) end to end under 5 minutes",
         _fmt(full, "{:.0f} s"), None if full is None else full < FULL_SIZE_LIMIT_S),
        (f"second run, only --k changed, --reuse ({first.get('images')} images) <= 10% of the first",
         "not measured" if reuse_share is None else
         f"{reuse_share:.0%} ({second['wall_s']:.1f} s of {first['wall_s']:.1f} s, "
         f"{second['featurized']} featurized)",
         None if reuse_share is None else reuse_share <= 0.10),
        (f"adding {added.get('added', 1000)} images featurizes those only",
         "not measured" if not added else f"{added['featurized']} featurized, {added['reused']} reused",
         added_ok),
        ("bundled sample, second run, <= 15 s end to end",
         _fmt(sample_s, "{:.1f} s"), None if sample_s is None else sample_s <= SAMPLE_SECOND_RUN_LIMIT_S),
        (f"peak memory of a local run ({memory_images} images), all processes, <= 4 GiB",
         _fmt(None if memory is None else memory / 2**30, "{:.2f} GiB"),
         None if memory is None else memory <= PEAK_MEMORY_LIMIT),
    ]


def s3_targets(s3: Dict[str, Any]) -> List[Tuple[str, str, Optional[bool]]]:
    """(target, measured, met) of reads from S3, from the S3 step's runs: the rate with 30 and
    100 ms added against S3 with 0 ms added, peak memory against the local run, no input lost."""
    by_latency = {run["latency_ms"]: run for run in s3.get("runs", [])}
    local, base = by_latency.get(None), by_latency.get(0)
    rows: List[Tuple[str, str, Optional[bool]]] = []
    for latency, floor in ((30, 0.85), (100, 0.70)):
        run = by_latency.get(latency)
        share = run["featurize_rate"] / base["featurize_rate"] if run and base else None
        rows.append((f"featurize from S3, {latency} ms added, >= {floor:.0%} of the rate with 0 ms added",
                     "not measured" if share is None else f"{share:.0%}",
                     None if share is None else share >= floor))
    if local and base:
        rows.append(("featurize from S3 (0 ms added) against local disk (reported)",
                     f"{base['featurize_rate'] / local['featurize_rate']:.0%} of local's rate", None))
        worst = max(run["peak_all_processes"] for run in s3["runs"])
        rows.append(("peak memory, all processes, S3 runs against the local run",
                     f"{worst / 2**20:.0f} MiB vs {local['peak_all_processes'] / 2**20:.0f} MiB",
                     worst <= 1.10 * local["peak_all_processes"]))
    lost = sum(run["images"] - run["images_ok"] for run in s3.get("runs", []))
    if s3.get("runs"):
        rows.append(("inputs failed or lost in the S3 runs", str(lost), lost == 0))
    return rows


def _fmt(value: Optional[float], pattern: str) -> str:
    return "not measured" if value is None else pattern.format(value)


def _markdown_table(header: List[str], rows: List[List[str]]) -> List[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines + [""]


def _source_line(results: Dict[str, Any]) -> str:
    source = results.get("source", {})
    return (f"Images: {source.get('kind', '?')} ({source.get('path', '?')}, "
            f"{source.get('distinct_images', '?')} distinct); a run of N inputs uses min(N, "
            f"{source.get('distinct_images', '?')}) distinct images, replicated (own names) beyond.")


def _cli_rows(results: Dict[str, Any]) -> List[List[str]]:
    named = [(f"memory {m['images']}", m) for m in results.get("memory", [])]
    reuse = results.get("reuse", {})
    named += [("--reuse: first run", reuse.get("first")), ("--reuse: only --k changed", reuse.get("k_changed")),
              ("--reuse: images added", reuse.get("added")),
              ("bundled sample, second run", results.get("sample", {}).get("second")),
              ("full size", results.get("scale"))]
    return [[name, str(run["images"]), str(run["distinct"]), str(run["featurized"]), f"{run['wall_s']:.1f}",
             f"{run['featurize_rate']:.1f}" if run["featurized"] else "-",
             f"{run['peak_driver_python'] / 2**20:.0f}", f"{run['peak_all_processes'] / 2**20:.0f}"]
            for name, run in named if run]


#: how the report writes a target's ``met``
MET_WORDS = {True: "yes", False: "NO", None: "-"}


def _heading(results: Dict[str, Any]) -> List[str]:
    """When and where it ran, the load around it, the weights, and which images."""
    machine = results.get("machine", {})
    return [
        f"Benchmark of {results.get('date', '?')} on {machine.get('description', '?')} "
        f"(load average {machine.get('load_before', '?')} before, "
        f"{machine.get('load_after', '?')} after; weights: {results.get('weights', '?')})",
        "",
        _source_line(results),
        "",
    ]


def _targets_section(results: Dict[str, Any]) -> List[str]:
    return _markdown_table(
        ["target (issue 12)", "measured", "met"],
        [[name, measured, MET_WORDS[met]] for name, measured, met in targets(results)],
    )


def _throughput_section(results: Dict[str, Any]) -> List[str]:
    return _markdown_table(
        ["featurization", "images/s", "x users", "of decode+inference ceiling"],
        [[label, _fmt(rate, "{:.1f}"), _fmt(users, "{:.1f}x"), _fmt(ceiling, "{:.0%}")]
         for label, rate, users, ceiling in throughput_rows(results)],
    )


def _pca_section(results: Dict[str, Any]) -> List[str]:
    pca = results.get("pca", {})
    return _markdown_table(
        [f"PCA fit {pca.get('rows')} x {pca.get('width')} -> {pca.get('k')}", "seconds"],
        [["bigfruits ExactPCA (Spark)", _fmt(pca.get("ours_s"), "{:.2f}")],
         ["Spark ML PCA", _fmt(pca.get("spark_ml_s"), "{:.2f}")],
         ["scikit-learn PCA (driver only)", _fmt(pca.get("sklearn_s"), "{:.2f}")]],
    ) if pca else []


def _cli_runs_section(results: Dict[str, Any]) -> List[str]:
    rows = _cli_rows(results)
    if not rows:
        return []
    return _markdown_table(
        ["`bigfruits run` in its own process", "inputs", "distinct", "featurized",
         "wall s", "featurize images/s", "peak driver MiB", "peak all processes MiB"], rows)


def _startup_section(results: Dict[str, Any]) -> List[str]:
    startup = results.get("startup", {})
    return _markdown_table(
        ["local Spark: session + first job (best of 3, alternating)", "seconds"],
        [["without the JVM class archive", f"{startup['without_archive_s']:.1f}"],
         ["with it (a user's second run onwards)", f"{startup['with_archive_s']:.1f}"]],
    ) if startup else []


#: the manifest's timings of the stages that write outputs: features/ and errors/, pca/, then
#: pca.csv, the model and plots (before the run reported them apart, ``write`` held them all)
WRITE_TIMINGS = ("write_features", "project", "write")


def writing_s(timings: Dict[str, float]) -> float:
    """Seconds a run spent writing its outputs."""
    return sum(timings.get(name, 0.0) for name in WRITE_TIMINGS)


def _sample_run_section(results: Dict[str, Any]) -> List[str]:
    """Where the bundled sample's second run spends its time."""
    sample = results.get("sample", {}).get("second", {})
    if not sample.get("timings"):
        return []
    timings = sample["timings"]
    staged = sum(timings.get(name, 0.0) for name in ("reuse", "featurize", "pca_fit")) + writing_s(timings)
    return _markdown_table(
        ["bundled sample, second run: where the time goes", "seconds"],
        [["start (Python, Spark session, model from the cache, listing)",
          f"{timings['total'] - staged:.1f}"]]
        + [[name, f"{timings[name]:.1f}"] for name in ("featurize", "pca_fit") if name in timings]
        + [["write", f"{writing_s(timings):.1f}"]]
        + [["total in the process (wall, with exit: "
            f"{sample['wall_s']:.1f})", f"{timings['total']:.1f}"]])


def _breakdown_section(results: Dict[str, Any]) -> List[str]:
    breakdown = results.get("breakdown", {})
    return _markdown_table(
        ["where the time goes (bigfruits run)", "seconds"],
        [[name, f"{seconds:.1f}"] for name, seconds in breakdown.items()],
    ) if breakdown else []


def _s3_section(results: Dict[str, Any]) -> List[str]:
    """The S3 step's runs against S3 with 0 ms added and local disk, then its targets."""
    s3 = results.get("s3", {})
    if not s3.get("runs"):
        return []
    base = next((run for run in s3["runs"] if run["latency_ms"] == 0), None)
    local = s3["runs"][0]
    rounds = s3.get("rounds", 1)
    lines = _markdown_table(
        [f"featurize the same {s3['images']} images (own process each"
         + (f", best of {rounds} rounds forth and back)" if rounds > 1 else ")"),
         "featurize s" + (" (each round)" if rounds > 1 else ""),
         "images/s", "x S3 0 ms", "x local disk", "failed", "peak all processes MiB"],
        [[run["name"], f"{run['featurize_s']:.1f}" + (
            " (" + ", ".join(f"{t:.1f}" for t in run["featurize_s_all"]) + ")"
            if len(run.get("featurize_s_all", [])) > 1 else ""),
          f"{run['featurize_rate']:.1f}",
          _fmt(_ratio(run["featurize_rate"], base and base["featurize_rate"]), "{:.0%}"),
          _fmt(_ratio(run["featurize_rate"], local["featurize_rate"]), "{:.0%}"),
          str(run["images_failed"]), f"{run['peak_all_processes'] / 2**20:.0f}"]
         for run in s3["runs"]])
    return lines + _markdown_table(
        ["target (issue 18)", "measured", "met"],
        [[name, measured, MET_WORDS[met]] for name, measured, met in s3_targets(s3)])


#: int8 against fp32, in one benchmark run (issue 28)
INT8_FEATURIZE_RATIO, INT8_END_TO_END_RATIO = 1.8, 1.6


def precision_targets(precision: Dict[str, Any]) -> List[Tuple[str, str, Optional[bool]]]:
    """(target, measured, met) of the precision step: int8's speed against fp32's (featurize
    stage, whole run), its fidelity (real images, its own held-out gate), fp32 unchanged."""
    runs = precision.get("runs", {}).get("best", {})
    fp32, int8 = runs.get("fp32", {}), runs.get("int8", {})
    stage = _ratio(int8.get("featurize_rate"), fp32.get("featurize_rate"))
    whole = _ratio(int8.get("end_to_end_rate"), fp32.get("end_to_end_rate"))
    real = precision.get("fidelity_real_images", {})
    held = (precision.get("quantization") or {}).get("fidelity", {}).get("held_out", {})
    gate = (precision.get("quantization") or {}).get("gate", {})
    rows = [
        (f"featurize stage ({fp32.get('images')} images), int8 >= {INT8_FEATURIZE_RATIO}x fp32",
         _fmt(stage, "{:.2f}x"), None if stage is None else stage >= INT8_FEATURIZE_RATIO),
        (f"whole run end to end (wall), int8 >= {INT8_END_TO_END_RATIO}x fp32",
         _fmt(whole, "{:.2f}x"), None if whole is None else whole >= INT8_END_TO_END_RATIO),
        (f"int8 vs fp32 features on {real.get('images')} real images never calibrated on: "
         f"mean cosine >= {gate.get('cosine_mean')}, 1st percentile >= {gate.get('cosine_p1')}",
         "not measured" if not real else f"{real['cosine_mean']:.4f} / {real['cosine_p1']:.4f}",
         real.get("passes")),
        (f"the int8 graph's own gate ({held.get('images')} held-out calibration images)",
         "not measured" if not held else f"{held['cosine_mean']:.4f} / {held['cosine_p1']:.4f}",
         None if not held else held["cosine_mean"] >= gate["cosine_mean"] and held["cosine_p1"] >= gate["cosine_p1"]),
    ]
    same = precision.get("runs", {}).get("fp32_same_as_baseline")
    baseline = runs.get("fp32 baseline")
    if same and baseline:
        rows.append((f"fp32 unchanged: features identical to the baseline's ({same['images']} images)",
                     "identical" if same["identical"] else f"{same['differing']} differ", same["identical"]))
        rows.append(("fp32 featurize rate against the baseline's (reported)",
                     _fmt(_ratio(fp32.get("featurize_rate"), baseline["featurize_rate"]), "{:.0%}"), None))
    return rows


def _precision_section(results: Dict[str, Any]) -> List[str]:
    """The precision step: rates side by side, each run round by round, the targets, the
    resize options."""
    precision = results.get("precision", {})
    if not precision:
        return []
    quantization = precision.get("quantization") or {}
    inference, runs = precision.get("inference", {}), precision.get("runs", {})
    best, rounds = runs.get("best", {}), runs.get("rounds", {})
    lines = [f"Precision: fp32 against int8, weights {precision.get('weights')}; the int8 graph "
             f"keeps {len(quantization.get('kept_fp32', []))} of {quantization.get('layers')} layers in "
             f"fp32 ({', '.join(quantization.get('kept_fp32', [])) or 'none'}), made in "
             f"{quantization.get('seconds_to_make')} s (calibrated on "
             f"{quantization.get('calibration', {}).get('source')}).", ""]
    names = [name for name in ("fp32", "int8", "fp32 baseline") if name in best]
    speed = [["bare inference, 1 thread, "
              f"{inference.get('images')} decoded images (best of {len(inference.get('rounds', {}).get('fp32', []))})",
              *[_fmt(inference.get("best", {}).get(name), "{:.1f}") for name in names]]]
    for key, label in (("featurize_rate", "featurize stage"), ("end_to_end_rate", "whole run, wall")):
        speed.append([f"`bigfruits run` {label} ({best.get('fp32', {}).get('images')} images, best of "
                      f"{len(rounds.get('fp32', []))})", *[f"{best[name][key]:.1f}" for name in names]])
    for row in speed:
        row.append(_fmt(_ratio(_number(row[2]), _number(row[1])), "{:.2f}x"))
    lines += _markdown_table(["images/s (alternating)", *names, "int8 / fp32"], speed)
    lines += _markdown_table(
        ["`bigfruits run`, round by round", "featurize s", "wall s", "peak all processes MiB"],
        [[f"{name}, round {index + 1}", f"{run['featurize_s']:.1f}", f"{run['wall_s']:.1f}",
          f"{run['peak_all_processes'] / 2**20:.0f}"]
         for index in range(len(rounds.get("fp32", []))) for name in names for run in [rounds[name][index]]])
    lines += _markdown_table(["target (issue 28)", "measured", "met"],
                             [[name, measured, MET_WORDS[met]] for name, measured, met in precision_targets(precision)])
    resize = precision.get("resize_options", [])
    return lines + (_markdown_table(
        [f"bytes -> 224x224 ({resize[0]['images']} real images, one core)", "ms/image", "x pipeline's speed",
         "fp32 features: mean cosine", "1st percentile"],
        [[row["option"], f"{row['ms_per_image']:.3f}", f"{row['speed']:.2f}x", f"{row['cosine_mean']:.4f}",
          f"{row['cosine_p1']:.4f}"] for row in resize]) if resize else [])


def _number(text: str) -> Optional[float]:
    try:
        return float(text)
    except ValueError:
        return None


def _failed_steps_section(results: Dict[str, Any]) -> List[str]:
    errors = results.get("errors", {})
    if not errors:
        return []
    return ["Steps that failed:", ""] + [f"- {step}: {text}" for step, text in errors.items()]


def markdown(results: Dict[str, Any]) -> str:
    """The whole report, as committed to the README: the heading, then each section that has
    figures, in this order."""
    lines = _heading(results)
    for section in (_targets_section, _throughput_section, _pca_section, _cli_runs_section,
                    _startup_section, _sample_run_section, _breakdown_section, _s3_section,
                    _precision_section, _failed_steps_section):
        lines += section(results)
    return "\n".join(lines) + "\n"
