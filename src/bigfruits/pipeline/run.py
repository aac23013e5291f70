"""One run of the pipeline as a list of named stages: list -> engine -> reuse -> featurize ->
account -> PCA -> write -> report -> publish. Each stage is one function below, in that order;
``timed`` measures the ones the manifest reports, and ``build_manifest`` says what the run did.

The model is prepared (read from the user's cache, or built and exported) in a thread while the
Spark session starts (``start_preparing``)."""
from __future__ import annotations

import importlib.util
import math
import os
import platform
import sys
import threading
import time
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterator, List, Optional

from bigfruits import __version__
from bigfruits.errors import EnvironmentProblem, InputError
from bigfruits.pipeline import report
from bigfruits.pipeline.config import RunConfig
from bigfruits.pipeline.featurize.engines import Prepared, from_cache, prepare, resolve_engine
from bigfruits.pipeline.featurize.model import (WeightsInfo, check_weights_arg, download_imagenet_weights,
                                                import_tensorflow)
from bigfruits.pipeline.featurize.published import read_published
from bigfruits.pipeline.featurize.udf import WorkerBuilds, featurize
from bigfruits.pipeline.hadoop_fs import absolute_uri, is_local
from bigfruits.pipeline.ingest import (ImageFile, Listing, images_frame, input_not_found, list_images,
                                       listed_without_spark, select_images, unfoldered_note)
from bigfruits.pipeline.outputs import OutputTarget, output_exists
from bigfruits.pipeline.progress import image_progress
from bigfruits.pipeline.reuse import (FEATURE_COLUMNS, Reuse, check_local_previous_output,
                                      copy_features_folder, identity_frame, model_identity,
                                      plan_reuse)
from bigfruits.pipeline.s3 import S3Settings, is_s3
from bigfruits.pipeline.session import ARROW_BATCH_CONF, get_session, local_frame, sql_conf

#: images per Spark task, so tasks are long enough to amortise their start-up but many enough
#: to balance the cores and move the progress bar
MIN_IMAGES_PER_TASK, MAX_IMAGES_PER_TASK = 64, 2000
ARROW_BATCH_ROWS = 256
#: for the run only: paths and 2-D points come to the driver as Arrow, not as Row objects
RUN_SETTINGS = {"spark.sql.execution.arrow.pyspark.enabled": "true"}
VERSIONED_PACKAGES = ("pyspark", "tensorflow", "keras", "onnxruntime", "onnx", "numpy", "pandas",
                      "pyarrow", "pillow", "scikit-learn")


@dataclass
class RunResult:
    """Where the results were published, and the manifest written there."""

    output: str
    manifest: Dict[str, Any]


@dataclass
class Selection:
    """What the list stage found under the input, and the images the run works on."""

    listing: Listing
    images: List[ImageFile]


@dataclass
class Inference:
    """What the engine stage prepared: the engine's name, its threads per task, the weights,
    the Spark broadcast of the payload every Python worker rebuilds the engine from, and
    whether the model came from the user's cache."""

    engine: str
    threads: int
    weights: WeightsInfo
    payload: Any
    cached: bool = False


@dataclass
class Accounted:
    """features/ and errors/ as written, and their counts (every listed image in exactly one)."""

    features: Any
    errors: Any
    images_ok: int
    images_failed: int


@dataclass
class Written:
    """What the write stage produced beside the Parquet outputs: k, the explained-variance
    table and the local paths of the plots (for the report)."""

    k: int
    explained: Any
    plots: List[str]


def _in_background(action: Callable[[], Any], then: Callable[[], None] = lambda: None) -> "Future[Any]":
    """``action()`` in a daemon thread (a failed run does not wait for it); its result or
    exception through the returned future; then ``then()``, whose result nobody waits for."""
    future: "Future[Any]" = Future()

    def body() -> None:
        try:
            future.set_result(action())
        except BaseException as exc:  # handed to whoever asks for the result
            future.set_exception(exc)
            return
        try:
            then()
        except Exception:  # only a head start: the stage that needs it imports it again
            pass

    threading.Thread(target=body, name="bigfruits-prepare-model", daemon=True).start()
    return future


def start_preparing(config: RunConfig) -> "tuple[Future[Prepared], threading.Event]":
    """Prepare the model in a thread: from the user's cache (no TensorFlow), else import
    TensorFlow, build and export. The event is set once no TensorFlow import is under way:
    the import captures file descriptor 2 for a few seconds (``import_tensorflow``), and a
    process started meanwhile (the Spark JVM) would inherit the capture as its stderr."""
    quiet = threading.Event()
    if config.model is not None:  # read from the published folder once Spark runs (engine_stage)
        if config.engine == "tensorflow":
            raise InputError("--model is an ONNX graph: it runs with --engine onnxruntime or auto",
                             "leave out --engine, or pass --weights instead of --model")
        if importlib.util.find_spec("onnxruntime") is None:
            raise EnvironmentProblem("--model needs ONNX Runtime", "pip install 'bigfruits[node]'")
        quiet.set()
        done: "Future[Prepared]" = Future()
        done.set_result(None)
        return done, quiet
    engine = resolve_engine(config.engine)

    def action() -> Prepared:
        try:
            cached = from_cache(engine, config.weights, config.seed)
            if cached is not None:
                return cached
            try:
                import_tensorflow()
            except ImportError:
                pass  # prepare() says what to install
        finally:
            quiet.set()
        return prepare(engine, config.weights, config.seed)

    return _in_background(action, then=_import_later_stages), quiet


def _import_later_stages() -> None:
    """What the PCA and write stages import (Spark ML, matplotlib: seconds of a small run),
    imported while the driver waits for the featurize stage's Python workers."""
    import bigfruits.pipeline.pca  # noqa: F401

    report.import_pyplot_ahead()


def run_pipeline(config: RunConfig, spark: Any = None) -> RunResult:
    """Run the whole pipeline; on any failure nothing is published and staging is removed."""
    started = time.perf_counter()
    _check_local_paths(config)
    early = list_stage(None, config) if listed_without_spark(absolute_uri(config.input)) else None
    preparing, quiet = start_preparing(config)
    if spark is None:
        from pyspark.sql import SparkSession  # noqa: F401  (the import overlaps TF's)

        quiet.wait()
        spark = get_session(config.master, config.spark_conf)
    target = OutputTarget(spark, config.output)
    target.check_free(config.overwrite)
    try:
        with sql_conf(spark, RUN_SETTINGS):
            manifest = _run(spark, config, target, started, preparing, early)
    except BaseException:
        target.discard()
        raise
    target.cleanup_local()
    return RunResult(target.final, manifest)


def _run(spark: Any, config: RunConfig, target: OutputTarget, started: float,
         preparing: "Future[Prepared]", early: Optional[Selection] = None) -> Dict[str, Any]:
    """The stages, in order (the list stage done already, before Spark, for local and S3
    inputs). The manifest's ``write`` time covers both stages that write results: account
    (features/, errors/) and write (the PCA outputs and plots)."""
    timings: Dict[str, float] = {}
    selection = early or list_stage(spark, config)
    inference = engine_stage(spark, preparing, config.model)
    with timed(timings, "reuse"):
        reuse = reuse_stage(spark, config, selection, inference)
    with timed(timings, "featurize"):
        builds = featurize_stage(spark, config, target, reuse.to_featurize, selection, inference)
    with timed(timings, "write"):
        accounted = account_stage(spark, config, target, selection, reuse)
    with timed(timings, "pca_fit"):
        pca_model = pca_stage(config, accounted)
    with timed(timings, "write"):
        written = write_stage(spark, target, pca_model, accounted.features)
    timings["total"] = time.perf_counter() - started
    manifest = build_manifest(spark, config, target, selection, inference, builds, accounted,
                              written, timings, reuse)
    report_stage(target, manifest, written.plots, accounted.errors)
    target.publish(manifest, config.overwrite)
    return manifest


@contextmanager
def timed(timings: Dict[str, float], name: str) -> Iterator[None]:
    """Add the wall time of the block to ``timings[name]``."""
    clock = time.perf_counter()
    yield
    timings[name] = timings.get(name, 0.0) + time.perf_counter() - clock


def _check_local_paths(config: RunConfig) -> None:
    """Catch the common mistakes in a blink, before Spark and TensorFlow start: local input and
    output paths, a previous output to reuse, the weights (ImageNet's downloaded now if missing:
    no internet is one line, not a JVM later)."""
    input_uri, output = absolute_uri(config.input), absolute_uri(config.output)
    if is_local(input_uri) and not os.path.exists(input_uri.replace("file:", "", 1)):
        raise input_not_found(input_uri)
    if is_local(output) and os.path.exists(output.replace("file:", "", 1)) and not config.overwrite:
        raise output_exists(output)
    check_local_previous_output(config.reuse)
    if config.model is None:
        check_weights_arg(config.weights)
        if config.weights == "imagenet":
            download_imagenet_weights()


def note(message: str) -> None:
    """One line for the user on stderr (beside the progress bars)."""
    if message:
        print(f"bigfruits: {message}", file=sys.stderr, flush=True)


def list_stage(spark: Any, config: RunConfig) -> Selection:
    """List the input and select the images (``--classes``, ``--limit``); ``spark`` is None
    when it runs before Spark starts (local and S3 inputs). A default k too large for the
    selection is lowered, said in one line."""
    listing = list_images(spark, absolute_uri(config.input))
    note(unfoldered_note(listing))
    selected = select_images(listing.images, config.classes, config.limit)
    note(config.components(len(selected), "images selected")[1])
    return Selection(listing, selected)


def engine_stage(spark: Any, preparing: "Future[Prepared]", model: Optional[str] = None) -> Inference:
    """Wait for the model (prepared while Spark started, or read from the published folder
    ``model``) and broadcast it in the chosen engine's form."""
    prepared = read_published(spark, model) if model is not None else preparing.result()
    threads = int(spark.conf.get("spark.task.cpus", "1"))
    payload = spark.sparkContext.broadcast(prepared.payload(threads))
    return Inference(prepared.engine, threads, prepared.weights, payload, prepared.cached)


def reuse_stage(spark: Any, config: RunConfig, selection: Selection, inference: Inference) -> Reuse:
    """With ``--reuse``: which images take their features from the previous output."""
    identity = model_identity(inference.engine, inference.weights.sha256)
    reuse = plan_reuse(spark, config.reuse, selection.images, identity)
    note(reuse.note)
    return reuse


def images_per_task(images: int, parallelism: int) -> int:
    """About four tasks per core, each of ``MIN_IMAGES_PER_TASK`` to ``MAX_IMAGES_PER_TASK``."""
    return min(MAX_IMAGES_PER_TASK,
               max(MIN_IMAGES_PER_TASK, math.ceil(images / (4 * max(1, parallelism)))))


def featurize_stage(spark: Any, config: RunConfig, target: OutputTarget, todo: List[ImageFile],
                    selection: Selection, inference: Inference) -> Dict[str, int]:
    """Featurize the images ``todo`` (each Python worker reads their bytes itself, ahead of
    the model: ``fetch.py``) and write features or an error per image to staging
    ``_featurized`` (nothing when every image was reused); returns the engines built per
    Python worker."""
    if not todo:
        return {}
    sc = spark.sparkContext
    builds = sc.accumulator({}, WorkerBuilds())
    per_task = images_per_task(len(todo), sc.defaultParallelism)
    settings = S3Settings.from_environment() if is_s3(selection.listing.root) else None
    with sql_conf(spark, {ARROW_BATCH_CONF: str(ARROW_BATCH_ROWS)}):
        # at least one task per core while there are images enough: a small input still uses
        # every executor (each builds its model once), a large one gets tasks of per_task
        tasks = max(math.ceil(len(todo) / per_task), min(len(todo), sc.defaultParallelism))
        images = images_frame(spark, todo, tasks)
        with image_progress(spark, len(todo), config.progress) as counter:
            featurize(images, inference.payload, config.batch_size, counter, builds,
                      settings).write.parquet(target.uri("_featurized"))
    return dict(builds.value)


def _missing_images(selected: List[ImageFile], returned: set) -> List["tuple[str, str]"]:
    """Error rows for listed images that the featurize stage did not return (it returns one
    row per input, a read error included: this is the check that none was lost), so that
    every input path appears exactly once in features/ or errors/."""
    return [(image.path, "empty file (0 bytes)" if image.size == 0 else
             "not returned by the featurize stage")
            for image in selected if image.path not in returned]


def error_frame(spark: Any, rows: List["tuple[str, str]"]) -> Any:
    """``DataFrame[path, error]`` of error rows made on the driver."""
    import pandas as pd

    return local_frame(spark, pd.DataFrame(rows, columns=["path", "error"], dtype=object),
                       "path string, error string")


def check_accounting(listed: int, images_ok: int, images_failed: int, distinct: int) -> None:
    """Every listed image is in exactly one of features/ and errors/: as many rows in both as
    images listed, and as many distinct paths (no image twice, none lost)."""
    if not (images_ok + images_failed == distinct == listed):
        raise RuntimeError(f"accounting mismatch: {listed} listed, {images_ok} featurized, "
                           f"{images_failed} failed, {distinct} distinct paths")


def account_stage(spark: Any, config: RunConfig, target: OutputTarget, selection: Selection,
                  reuse: Reuse) -> Accounted:
    """Split ``_featurized`` into features/ (with each input's identity, and the reused
    features) and errors/, and check that every selected image is in exactly one of them;
    fail when nothing is left to fit the PCA on.

    The accounting is done on the paths alone, which come to the driver once (as Arrow):
    one small job instead of counting what was written (two counts and a distinct: a shuffle).
    The PCA stage then checks that it read as many rows from features/ as counted here."""
    from pyspark.sql import functions as F

    selected, todo = selection.images, reuse.to_featurize
    parts = [] if reuse.features is None else [reuse.features]
    ok_paths, failed_paths = list(reuse.reused_paths), []
    if not todo:
        errors = error_frame(spark, [])
    else:
        staged = spark.read.parquet(target.uri("_featurized"))
        outcome = staged.select("path", F.col("error").isNull().alias("ok")).toPandas()
        missing = _missing_images(todo, set(outcome["path"]))
        ok = outcome["ok"].astype(bool)
        ok_paths += list(outcome["path"][ok])
        failed_paths += list(outcome["path"][~ok]) + [path for path, _ in missing]
        parts.insert(0, staged.where("error IS NULL").select("path", "label", "features")
                     .join(F.broadcast(identity_frame(spark, todo)), "path")
                     .select(*FEATURE_COLUMNS))
        errors = staged.where("error IS NOT NULL").select("path", "error")
        if missing:  # a union with a local frame only when needed
            errors = errors.unionByName(error_frame(spark, missing))
    check_accounting(len(selected), len(ok_paths), len(failed_paths),
                     len(set(ok_paths) | set(failed_paths)))
    if reuse.whole_folder and not todo:
        copy_features_folder(spark, reuse.source, target.uri("features"))
    else:
        features = parts[0]
        for part in parts[1:]:
            features = features.unionByName(part)
        features.write.parquet(target.uri("features"))
    errors.coalesce(1).write.parquet(target.uri("errors"))
    if todo:
        target.delete_staged("_featurized")
    features = spark.read.parquet(target.uri("features"))
    errors = spark.read.parquet(target.uri("errors"))
    if not ok_paths:
        raise InputError(f"none of the {len(selected)} images could be featurized",
                         f"see the errors above; e.g. {errors.first()['error']}")
    if len(ok_paths) < len(selected):  # fewer than the selection's k was chosen for
        note(config.components(len(ok_paths), "images featurized")[1])
    return Accounted(features, errors, len(ok_paths), len(failed_paths))


def pca_stage(config: RunConfig, accounted: Accounted) -> Any:
    """Fit the exact PCA on the features (``--k`` or ``--variance``), and check that the fit
    read as many rows from features/ as the account stage counted."""
    from bigfruits.pipeline.pca import ExactPCA

    k, _ = config.components(accounted.images_ok, "images featurized")
    pca = ExactPCA(inputCol="features", outputCol="pca")
    pca = pca.setK(k) if k is not None else pca.setVarianceThreshold(config.variance)
    model = pca.fit(accounted.features)
    if model.n_samples_ != accounted.images_ok:
        raise RuntimeError(f"accounting mismatch: {accounted.images_ok} images featurized, "
                           f"{model.n_samples_} rows in features/")
    return model


def write_stage(spark: Any, target: OutputTarget, pca_model: Any, features: Any) -> Written:
    """Write the projections (Parquet and CSV), the model, the explained variance and the plots."""
    from pyspark.sql import functions as F

    pca_model.transform(features.select("path", "label", "features")).select("path", "label", "pca") \
        .write.parquet(target.uri("pca"))
    pca_model.save(target.uri("pca_model"))
    written = spark.read.parquet(target.uri("pca"))
    k = int(pca_model.k)
    written.select("path", "label", *[F.col("pca")[i].alias(f"pc{i + 1}") for i in range(k)]) \
        .write.option("header", True).csv(target.uri("pca_csv"))
    explained = report.explained_variance_table(pca_model.explained_variance_ratio_)
    explained.to_csv(target.local_file("explained_variance.csv"), index=False)
    target.put("explained_variance.csv")
    plots = [target.local_file("plots/cumulative_variance.png"), target.local_file("plots/pc1_pc2.png")]
    report.save_figure(report.figure_cumulative_variance(explained), plots[0])
    if k >= 2:
        report.save_figure(report.figure_pc_scatter(report.pc_points(written)), plots[1])
    else:
        plots.pop()
    for path in plots:
        target.put("plots/" + path.rsplit("/", 1)[1])
    return Written(k, explained, plots)


def build_manifest(spark: Any, config: RunConfig, target: OutputTarget, selection: Selection,
                   inference: Inference, builds: Dict[str, int], accounted: Accounted,
                   written: Written, timings: Dict[str, float], reuse: Reuse) -> Dict[str, Any]:
    """``manifest.json``: what was run, on what, with which versions, what came out, how fast."""
    images_total = len(selection.images)
    weights = inference.weights
    manifest: Dict[str, Any] = {
        "bigfruits": __version__,
        "run_id": target.run_id,
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "input": selection.listing.root,
        "output": target.final,
        "images_total": images_total,
        "images_ok": accounted.images_ok,
        "images_failed": accounted.images_failed,
        "reused": reuse.reused,
        "featurized": len(reuse.to_featurize),
        "dropped": reuse.dropped,
        "reuse": reuse.counts(),
        "files_skipped": selection.listing.skipped,
        "k": written.k,
        "variance_kept": float(written.explained["cumulative"].iloc[-1]),
        "engine": inference.engine,
        "inference_threads_per_task": inference.threads,
        "python_workers": len(builds),
        "engine_builds": sum(builds.values()),
        "weights": weights.to_dict(),
        "model": model_identity(inference.engine, weights.sha256),
        "model_from_cache": inference.cached,
        "features_meaningful": weights.meaningful,
        "spark_master": spark.sparkContext.master,
        "versions": _versions(spark),
        "parameters": {**config.to_dict(), "input": selection.listing.root},
        "timings": {stage: round(seconds, 3) for stage, seconds in timings.items()},
        "images_per_s": round(len(reuse.to_featurize) / max(timings["featurize"], 1e-9), 2),
        "images_per_s_end_to_end": round(images_total / max(timings["total"], 1e-9), 2),
    }
    if not weights.meaningful:
        manifest["warning"] = "features computed with RANDOM weights: not meaningful (test run)"
    return manifest


def _versions(spark: Any) -> Dict[str, str]:
    """The versions that shape the results: Python, Spark, bigfruits and the installed packages."""
    from importlib.metadata import PackageNotFoundError, version

    found = {"python": platform.python_version(), "spark": spark.version, "bigfruits": __version__}
    for name in VERSIONED_PACKAGES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            continue
    return found


def report_stage(target: OutputTarget, manifest: Dict[str, Any], plots: List[str], errors: Any) -> None:
    """``report.html``: the manifest's figures, the plots and the first errors, on one page."""
    with open(target.local_file("report.html"), "w", encoding="utf-8") as handle:
        handle.write(report.render_report(manifest, plots, errors.limit(50).toPandas()))
    target.put("report.html")
