"""Every measurement of the benchmark (our users' patterns as the baseline, the ceilings
without Spark, the pipeline's runs, --reuse, start-up, memory, PCA fits, reads from S3), from
one command, on the same images.

Each step is timed on its own; a step that fails is recorded under ``errors`` and the others
still run, so one broken engine does not hide the rest of the picture. What a user runs
(``reuse``, ``sample``, ``memory``, the full size) is run as a user runs it: ``bigfruits run``
in its own process, timed from outside, its memory summed over all its processes.
"""
from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import asdict, dataclass, field
from functools import partial
from typing import Any, Callable, Dict, Optional, Tuple

from bigfruits.bench import ceilings, users_patterns
from bigfruits.bench.inputs import distinct_images, replicate_images, source_images
from bigfruits.bench.memory import peak_memory
from bigfruits.bench.pca_fits import synthetic_features, time_pca_fits
from bigfruits.bench.precision import measure_precision
from bigfruits.bench.s3_reads import measure_s3_reads
from bigfruits.bench.table import writing_s
from bigfruits.locations import BUNDLED_SAMPLE, PACKAGE_DIR

FULL_SIZE_IMAGES = 67_692
#: the folder that holds the ``bigfruits`` package the benchmark runs (for the CLI runs)
PACKAGE_ROOT = str(PACKAGE_DIR.parent)


@dataclass
class BenchSettings:
    """What to measure and how big; ``quick()`` gives a run of a few minutes."""

    source: str
    workdir: str
    source_kind: str = "--source"
    images: int = 2000
    users_images: int = 300
    ceiling_images: int = 1000
    pca_rows: int = 20_000
    memory_sizes: Tuple[int, ...] = (1000,)
    #: images of the --reuse measurement (None: every distinct source image), and added after
    reuse_images: Optional[int] = None
    added_images: int = 1000
    engines: Tuple[str, ...] = ("onnxruntime",)
    weights: str = "random"
    master: str = "local[*]"
    scale: bool = False
    #: images of the S3 step (local disk, then S3 through Toxiproxy at 0, 30 and 100 ms)
    s3_images: int = 1500
    #: the precision step: images of its CLI runs (None: every distinct source image), of its
    #: bare inference and fidelity, of its resize options; rounds of CLI runs; and another
    #: bigfruits package (a folder holding ``bigfruits/``) whose fp32 run is compared
    precision_images: Optional[int] = None
    precision_inference_images: int = 1000
    resize_images: int = 500
    precision_rounds: int = 2
    baseline: Optional[str] = None
    steps: Tuple[str, ...] = ("ceilings", "runs", "reuse", "sample", "memory", "pca", "users", "s3")

    @classmethod
    def quick(cls, source: str, workdir: str, source_kind: str = "--source") -> "BenchSettings":
        """Small sizes (``--quick``): checks the benchmark works."""
        return cls(source, workdir, source_kind, images=200, users_images=40, ceiling_images=128,
                   pca_rows=2000, memory_sizes=(200,), reuse_images=300, added_images=50,
                   s3_images=200, precision_images=300, precision_inference_images=128,
                   resize_images=64, precision_rounds=1)


@dataclass
class Bench:
    """One benchmark run: its settings, the Spark session, the results the steps fill in."""

    settings: BenchSettings
    spark: Any
    results: Dict[str, Any] = field(default_factory=dict)
    #: set before the steps run: the Spark cores, the source's distinct images, the ONNX model
    #: (its bytes, and the file the ceilings read)
    cores: int = 0
    distinct_source_images: int = 0
    onnx_model: bytes = b""
    onnx_path: str = ""

    def step(self, name: str, action: Callable[[], None]) -> None:
        """Run and time one step; its failure goes to ``results["errors"]``, not further."""
        print(f"[bench] {name} ...", flush=True)
        clock = time.perf_counter()
        try:
            action()
        except Exception as exc:  # keep measuring the rest, report this one
            self.results.setdefault("errors", {})[name] = f"{type(exc).__name__}: {exc}"[:500]
            traceback.print_exc()
        print(f"[bench] {name} took {time.perf_counter() - clock:.1f} s", flush=True)

    def folder(self, count: int) -> str:
        """A folder of ``count`` images made from the source (made once, shared by steps)."""
        return replicate_images(self.settings.source, count,
                                os.path.join(self.settings.workdir, f"images_{count}"))

    def run_pipeline(self, count: int, engine: str) -> Dict[str, Any]:
        """The pipeline in this process (the benchmark's own session) on ``count`` images; its
        manifest."""
        from bigfruits.pipeline.config import RunConfig
        from bigfruits.pipeline.run import run_pipeline

        config = RunConfig(input=self.folder(count), weights=self.settings.weights, engine=engine,
                           output=os.path.join(self.settings.workdir, f"out_{engine}_{count}"),
                           k=min(50, count), overwrite=True, progress=False)
        return run_pipeline(config, self.spark).manifest

    def cli_run(self, output: str, *args: str, env: Optional[Dict[str, str]] = None,
                weights: Optional[str] = None, package: Optional[str] = None) -> Dict[str, Any]:
        """``bigfruits run`` as a user runs it, in its own process (``env``: its environment,
        this bigfruits, or the one in the folder ``package``, first on its path; ``weights``:
        instead of the benchmark's): wall seconds, peak memory of all its processes at one
        instant, and its manifest."""
        import psutil

        env = child_env(env, package or PACKAGE_ROOT)
        command = [sys.executable, "-m", "bigfruits", "run", "--output", output, "--overwrite",
                   "--weights", weights or self.settings.weights, "--master", self.settings.master,
                   "--no-progress", *args]
        clock = time.perf_counter()
        process = psutil.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=env)
        with peak_memory(process) as peak:
            _, stderr = process.communicate()
        wall = time.perf_counter() - clock
        if process.returncode != 0:
            last = [line for line in stderr.splitlines() if line.strip()][-3:]
            raise RuntimeError(f"bigfruits run {' '.join(args)} failed: {' / '.join(last)}")
        with open(os.path.join(output, "manifest.json"), encoding="utf-8") as handle:
            manifest = json.load(handle)
        return {"wall_s": wall, "peak_all_processes": peak["all_processes"],
                "peak_driver_python": peak["driver_python"], "manifest": manifest}


def child_env(base: Optional[Dict[str, str]] = None, package: str = PACKAGE_ROOT) -> Dict[str, str]:
    """The environment of a measured subprocess: this bigfruits (or the one in the folder
    ``package``) first on its path."""
    base = dict(os.environ) if base is None else base
    return {**base, "PYTHONPATH": os.pathsep.join(
        filter(None, [package, base.get("PYTHONPATH")]))}


def sized(run: Dict[str, Any], source: str) -> Dict[str, Any]:
    """The figures of one CLI run the report shows (not its whole manifest)."""
    manifest = run["manifest"]
    images = manifest["images_total"]
    return {"images": images, "distinct": distinct_images(source, images), "wall_s": run["wall_s"],
            "peak_all_processes": run["peak_all_processes"],
            "peak_driver_python": run["peak_driver_python"], "timings": manifest["timings"],
            "featurized": manifest.get("featurized", images), "reused": manifest.get("reused", 0),
            "featurize_rate": manifest.get("featurized", images) / max(manifest["timings"]["featurize"], 1e-9),
            "model_from_cache": manifest.get("model_from_cache")}


def record_class_archive(bench: "Bench") -> bool:
    """Every timed run should start its JVM as a user's second run does, from the class archive
    (``pipeline.class_archive``): when there is none yet, an untimed run on the bundled sample
    records it first (the classes a real run loads), so no timed run pays the recording at its
    exit. True when one was recorded."""
    from bigfruits.pipeline.class_archive import SETTLE_SECONDS, archive_options
    from bigfruits.pipeline.session import java_executable, spark_jars

    java = java_executable()
    options = archive_options(java, spark_jars()) if java else []
    if not any(option.startswith("-XX:ArchiveClassesAtExit=") for option in options):
        return False
    bench.cli_run(os.path.join(bench.settings.workdir, "record_class_archive"),
                  "--input", str(BUNDLED_SAMPLE))
    time.sleep(SETTLE_SECONDS + 1)
    return True


STARTUP = ("import time; t = time.perf_counter(); "
           "from bigfruits.pipeline.session import get_session; "
           "get_session('local[*]').range(10).count(); print(time.perf_counter() - t)")


def spark_startup(pairs: int = 3) -> Dict[str, float]:
    """Seconds to start a local session and run a first job, without and with the class
    archive, alternating (a slow spell hits both); the best of each."""
    env = child_env()
    best = {"0": float("inf"), "1": float("inf")}
    for _ in range(pairs):
        for switch in best:
            done = subprocess.run([sys.executable, "-c", STARTUP], capture_output=True, text=True,
                                  env={**env, "BIGFRUITS_JVM_ARCHIVE": switch}, timeout=600, check=True)
            best[switch] = min(best[switch], float(done.stdout.strip().splitlines()[-1]))
    return {"without_archive_s": best["0"], "with_archive_s": best["1"]}


def machine() -> Dict[str, Any]:
    """Cores, CPU model, memory and load now: what the figures are read against."""
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
    from bigfruits.pipeline.featurize.engines import prepare

    bench = Bench(settings, spark)
    record_what_is_measured(bench)
    results = bench.results
    clock = time.perf_counter()
    prepared = prepare("onnxruntime", settings.weights)
    results["onnx_prepare_s"] = time.perf_counter() - clock
    os.makedirs(settings.workdir, exist_ok=True)
    results["class_archive_recorded"] = record_class_archive(bench)
    bench.onnx_model, bench.onnx_path = prepared.blob, os.path.join(settings.workdir, "model.onnx")
    with open(bench.onnx_path, "wb") as handle:
        handle.write(prepared.blob)
    for name in settings.steps:
        bench.step(name, partial(STEPS[name], bench))
    if settings.scale:
        bench.step("scale", partial(measure_full_size, bench))
    results["machine"]["load_after"] = round(os.getloadavg()[0], 2)
    return results


def record_what_is_measured(bench: Bench) -> None:
    """The results' header (date, machine, settings, source images, weights, parallelism);
    keeps the cores and the distinct source images for the steps."""
    settings = bench.settings
    bench.cores = bench.spark.sparkContext.defaultParallelism
    bench.distinct_source_images = len(source_images(settings.source))
    bench.results.update({"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "machine": machine(),
                          "settings": asdict(settings), "images": settings.images,
                          "source": {"path": settings.source, "kind": settings.source_kind,
                                     "distinct_images": bench.distinct_source_images},
                          "weights": settings.weights, "default_engine": settings.engines[0],
                          "spark_parallelism": bench.cores, "rates": {}})


def measure_users_patterns(bench: Bench) -> None:
    """Step ``users``: our users' two featurization patterns, images per second each."""
    from bigfruits.pipeline.featurize.model import load_model

    settings, spark = bench.settings, bench.spark
    model, _ = load_model(settings.weights)
    weights = spark.sparkContext.broadcast(model.get_weights())
    folder = bench.folder(settings.users_images)
    for key, make_udf in (("users_rebuild_per_batch", users_patterns.rebuild_per_batch_udf),
                          ("course_scalar_iterator", users_patterns.course_iterator_udf)):
        clock = time.perf_counter()
        users_patterns.run_users_pattern(spark, folder, make_udf(weights))
        bench.results["rates"][key] = settings.users_images / (time.perf_counter() - clock)


def measure_ceilings(bench: Bench) -> None:
    """Step ``ceilings``: what the hardware does without Spark (decode, decode+inference, raw
    inference) on the same images."""
    settings, results, rates = bench.settings, bench.results, bench.results["rates"]
    sample = source_images(bench.folder(settings.ceiling_images))
    results["ceiling_images"] = {"images": len(sample),
                                 "distinct": distinct_images(settings.source, len(sample))}
    results["decode_s_per_image"] = ceilings.decode_seconds_per_image(sample)
    rates["decode_inference"] = ceilings.decode_inference_rate(bench.onnx_path, sample, bench.cores)
    images = ceilings.decoded_batch(sample)
    rates["raw_onnxruntime"] = ceilings.raw_onnxruntime_rate(bench.onnx_model, images, threads=bench.cores)
    if "tensorflow" in settings.engines:
        from bigfruits.pipeline.featurize.model import load_model

        rates["raw_tensorflow"] = ceilings.raw_tensorflow_rate(load_model(settings.weights)[0], images)


def measure_runs_in_process(bench: Bench) -> None:
    """Step ``runs``: the pipeline in this process with each engine, and where the time goes."""
    settings, results = bench.settings, bench.results
    for engine in settings.engines:
        manifest = bench.run_pipeline(settings.images, engine)
        timings = manifest["timings"]
        results["rates"][f"run_{engine}_end_to_end"] = settings.images / timings["total"]
        results["rates"][f"run_{engine}_featurize_stage"] = settings.images / timings["featurize"]
        results.setdefault("manifests", {})[engine] = manifest
    results["breakdown"] = breakdown(results, settings.images, bench.cores)


def measure_reuse(bench: Bench) -> None:
    """Step ``reuse``: a first CLI run, again with only ``--k`` changed and ``--reuse``, then
    with images added and ``--reuse``."""
    settings = bench.settings
    count = settings.reuse_images or bench.distinct_source_images
    folder = bench.folder(count)
    first_out, second_out, third_out = (os.path.join(settings.workdir, f"reuse_{name}")
                                        for name in ("first", "k_changed", "added"))
    k = min(50, count)
    first = bench.cli_run(first_out, "--input", folder, "--k", str(k))
    second = bench.cli_run(second_out, "--input", folder, "--k", str(max(1, min(20, k - 1))),
                           "--reuse", first_out)
    replicate_images(settings.source, settings.added_images, folder, start=count)
    third = bench.cli_run(third_out, "--input", folder, "--k", str(k), "--reuse", first_out)
    bench.results["reuse"] = {"first": sized(first, settings.source),
                              "k_changed": sized(second, settings.source),
                              "added": {**sized(third, settings.source), "added": settings.added_images}}


def measure_sample_runs(bench: Bench) -> None:
    """Step ``sample``: Spark's start-up without and with the class archive, then the bundled
    sample run twice as a user runs it."""
    bench.results["startup"] = spark_startup()
    out = os.path.join(bench.settings.workdir, "sample")
    runs = [bench.cli_run(out, "--input", str(BUNDLED_SAMPLE)) for _ in range(2)]
    bench.results["sample"] = {"first_s": runs[0]["wall_s"], "second_s": runs[1]["wall_s"],
                               "second": sized(runs[1], str(BUNDLED_SAMPLE))}


def measure_pca_fits(bench: Bench) -> None:
    """Step ``pca``: ExactPCA, Spark ML's and scikit-learn's PCA on the same synthetic features."""
    matrix = synthetic_features(bench.settings.pca_rows)
    bench.results["pca"] = time_pca_fits(bench.spark, matrix,
                                         os.path.join(bench.settings.workdir, "pca_features"))


def measure_memory(bench: Bench) -> None:
    """Step ``memory``: a CLI run per size in ``memory_sizes``, each with its peak memory."""
    settings = bench.settings
    bench.results["memory"] = []
    for count in settings.memory_sizes:
        run = bench.cli_run(os.path.join(settings.workdir, f"memory_{count}"),
                            "--input", bench.folder(count), "--k", str(min(50, count)))
        bench.results["memory"].append(sized(run, settings.source))


def measure_full_size(bench: Bench) -> None:
    """``--scale``: a CLI run on the full size, ``FULL_SIZE_IMAGES`` inputs."""
    run = bench.cli_run(os.path.join(bench.settings.workdir, "full_size"),
                        "--input", bench.folder(FULL_SIZE_IMAGES))
    bench.results["scale"] = sized(run, bench.settings.source)


def measure_reads_from_s3(bench: Bench) -> None:
    """Step ``s3``: the same images read from local disk, then from S3 at each latency added."""
    bench.results["s3"] = measure_s3_reads(bench.cli_run, bench.folder(bench.settings.s3_images),
                                           bench.settings.workdir)


#: ``--steps`` name -> the step
STEPS: Dict[str, Callable[[Bench], None]] = {
    "users": measure_users_patterns, "ceilings": measure_ceilings, "runs": measure_runs_in_process,
    "reuse": measure_reuse, "sample": measure_sample_runs, "pca": measure_pca_fits,
    "memory": measure_memory, "s3": measure_reads_from_s3, "precision": measure_precision}


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
    staged = timings["featurize"] + timings.get("pca_fit", 0.0) + writing_s(timings)
    return {
        "set-up (session, model, ONNX export, listing)": timings["total"] - staged,
        "decode + resize (estimated)": decode,
        "inference (estimated)": inference,
        "Spark overhead in featurize": timings["featurize"] - decode - inference,
        "PCA fit": timings.get("pca_fit", 0.0),
        "write outputs": writing_s(timings),
        "total": timings["total"],
    }


def default_workdir() -> str:
    """A new temporary scratch folder (``__main__`` removes it after the run)."""
    return tempfile.mkdtemp(prefix="bigfruits-bench-")


