"""Every measurement of issue 3, in one process, on the same images.

Each step is timed on its own; a step that fails is recorded under ``errors`` and the others
still run, so one broken engine does not hide the rest of the picture.
"""
from __future__ import annotations

import os
import platform
import tempfile
import time
import traceback
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Dict, Tuple

from bigfruits.bench import ceilings, users_patterns
from bigfruits.bench.inputs import replicate_images, source_images
from bigfruits.bench.memory import peak_memory
from bigfruits.bench.pca_fits import synthetic_features, time_pca_fits

FULL_SIZE_IMAGES = 67_692


@dataclass
class BenchSettings:
    """What to measure and how big; ``quick()`` gives a run of a few minutes."""

    source: str
    workdir: str
    images: int = 2000
    users_images: int = 300
    ceiling_images: int = 640
    pca_rows: int = 20_000
    memory_sizes: Tuple[int, ...] = (1000, 20_000)
    engines: Tuple[str, ...] = ("onnxruntime", "tensorflow")
    weights: str = "random"
    scale: bool = False
    steps: Tuple[str, ...] = ("users", "ceilings", "runs", "pca", "memory")

    @classmethod
    def quick(cls, source: str, workdir: str) -> "BenchSettings":
        return cls(source, workdir, images=200, users_images=40, ceiling_images=128,
                   pca_rows=2000, memory_sizes=(100, 400))


@dataclass
class Bench:
    settings: BenchSettings
    spark: Any
    results: Dict[str, Any] = field(default_factory=dict)

    def step(self, name: str, action: Callable[[], None]) -> None:
        print(f"[bench] {name} ...", flush=True)
        clock = time.perf_counter()
        try:
            action()
        except Exception as exc:  # keep measuring the rest, report this one
            self.results.setdefault("errors", {})[name] = f"{type(exc).__name__}: {exc}"[:500]
            traceback.print_exc()
        print(f"[bench] {name} took {time.perf_counter() - clock:.1f} s", flush=True)

    def folder(self, count: int) -> str:
        return replicate_images(self.settings.source, count,
                                os.path.join(self.settings.workdir, f"images_{count}"))

    def run_pipeline(self, count: int, engine: str) -> Dict[str, Any]:
        from bigfruits.pipeline.config import RunConfig
        from bigfruits.pipeline.run import run_pipeline

        config = RunConfig(input=self.folder(count), weights=self.settings.weights, engine=engine,
                           output=os.path.join(self.settings.workdir, f"out_{engine}_{count}"),
                           k=min(50, count), overwrite=True, progress=False)
        return run_pipeline(config, self.spark).manifest


def machine() -> Dict[str, Any]:
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            names = [line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")]
        model = names[0] if names else model
    except OSError:
        pass
    import psutil

    memory = psutil.virtual_memory().total / 2**30
    return {"cores": os.cpu_count(), "cpu": model, "memory_gib": round(memory, 1),
            "description": f"{os.cpu_count()} cores ({model}), {memory:.0f} GiB, {platform.system()}",
            "load_before": round(os.getloadavg()[0], 2)}


def measure(settings: BenchSettings, spark: Any) -> Dict[str, Any]:
    """Run every step in ``settings.steps`` (and the scale run if asked); the results dict."""
    from bigfruits.pipeline.featurize.engine_onnxruntime import export_model
    from bigfruits.pipeline.featurize.model import load_model

    bench = Bench(settings, spark)
    cores = spark.sparkContext.defaultParallelism
    results = bench.results
    results.update({"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "machine": machine(),
                    "settings": asdict(settings), "images": settings.images,
                    "weights": settings.weights, "default_engine": settings.engines[0],
                    "spark_parallelism": cores, "rates": {}})
    rates = results["rates"]
    model, _ = load_model(settings.weights)
    clock = time.perf_counter()
    onnx_bytes = export_model(model)
    results["onnx_export_s"] = time.perf_counter() - clock
    paths = source_images(bench.folder(settings.images))

    def users() -> None:
        weights = spark.sparkContext.broadcast(model.get_weights())
        folder = bench.folder(settings.users_images)
        for key, make_udf in (("users_rebuild_per_batch", users_patterns.rebuild_per_batch_udf),
                              ("course_scalar_iterator", users_patterns.course_iterator_udf)):
            clock = time.perf_counter()
            users_patterns.run_users_pattern(spark, folder, make_udf(weights))
            rates[key] = settings.users_images / (time.perf_counter() - clock)

    def engine_ceilings() -> None:
        sample = paths[: settings.ceiling_images]
        results["decode_s_per_image"] = ceilings.decode_seconds_per_image(sample)
        images = ceilings.decoded_batch(sample)
        rates["raw_tensorflow"] = ceilings.raw_tensorflow_rate(model, images)
        rates["raw_onnxruntime"] = ceilings.raw_onnxruntime_rate(onnx_bytes, images, threads=cores)

    def runs() -> None:
        for engine in settings.engines:
            manifest = bench.run_pipeline(settings.images, engine)
            timings = manifest["timings"]
            rates[f"run_{engine}_end_to_end"] = settings.images / timings["total"]
            rates[f"run_{engine}_featurize_stage"] = settings.images / timings["featurize"]
            results.setdefault("manifests", {})[engine] = manifest
            if engine == settings.engines[0]:
                results.setdefault("sized_runs", {})[str(settings.images)] = timings
        results["breakdown"] = breakdown(results, settings.images, cores)

    def pca() -> None:
        matrix = synthetic_features(settings.pca_rows)
        results["pca"] = time_pca_fits(spark, matrix, os.path.join(settings.workdir, "pca_features"))

    def memory() -> None:
        results["memory"] = []
        for count in settings.memory_sizes:
            bench.folder(count)
            with peak_memory() as peak:
                manifest = bench.run_pipeline(count, settings.engines[0])
            results["memory"].append({"images": count, **peak, "total_s": manifest["timings"]["total"]})
            results.setdefault("sized_runs", {})[str(count)] = manifest["timings"]

    def scale() -> None:
        manifest = bench.run_pipeline(FULL_SIZE_IMAGES, settings.engines[0])
        results["scale"] = {"images": FULL_SIZE_IMAGES, "total_s": manifest["timings"]["total"],
                            "timings": manifest["timings"]}
        results.setdefault("sized_runs", {})[str(FULL_SIZE_IMAGES)] = manifest["timings"]

    steps = {"users": users, "ceilings": engine_ceilings, "runs": runs, "pca": pca, "memory": memory}
    for name in settings.steps:
        bench.step(name, steps[name])
    if settings.scale:
        bench.step("scale", scale)
    results["machine"]["load_after"] = round(os.getloadavg()[0], 2)
    return results


def breakdown(results: Dict[str, Any], count: int, cores: int) -> Dict[str, float]:
    """Where the default engine's run spent its time. Decode and inference are estimated from
    the no-Spark measurements (decode spread over the cores, inference at the raw ONNX Runtime
    rate); Spark overhead is what the featurize stage took beyond them."""
    manifest = results.get("manifests", {}).get(results["default_engine"])
    if not manifest:
        return {}
    timings = manifest["timings"]
    decode = results.get("decode_s_per_image", 0.0) * count / cores
    ceiling = results["rates"].get("raw_onnxruntime")
    inference = count / ceiling if ceiling else 0.0
    staged = timings["featurize"] + timings.get("pca_fit", 0.0) + timings.get("write", 0.0)
    return {
        "set-up (session, model, ONNX export, listing)": timings["total"] - staged,
        "decode + resize (estimated)": decode,
        "inference (estimated)": inference,
        "Spark overhead in featurize": timings["featurize"] - decode - inference,
        "PCA fit": timings.get("pca_fit", 0.0),
        "write outputs": timings.get("write", 0.0),
        "total": timings["total"],
    }


def default_workdir() -> str:
    return tempfile.mkdtemp(prefix="bigfruits-bench-")


