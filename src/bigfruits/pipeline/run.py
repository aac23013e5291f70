"""One run of the pipeline as a list of named stages: list -> engine -> reuse -> featurize ->
account -> PCA -> write -> report -> publish. Each stage is one function below, in that order;
``progress.StageLog`` times each one and says on stderr what it did (the manifest's
``timings``), and ``build_manifest`` says what the run did.

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
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional

from bigfruits import __version__
from bigfruits.errors import EnvironmentProblem, InputError
from bigfruits.pipeline import report
from bigfruits.pipeline.class_archive import records_at_exit
from bigfruits.pipeline.config import RunConfig
from bigfruits.pipeline.featurize.engines import Prepared, from_cache, prepare, resolve_engine
from bigfruits.pipeline.featurize.calibration import calibration_set
from bigfruits.pipeline.featurize.int8 import for_precision
from bigfruits.pipeline.featurize.model import (WeightsInfo, check_weights_arg, download_imagenet_weights,
                                                import_tensorflow)
from bigfruits.pipeline.featurize.published import read_published
from bigfruits.pipeline.featurize.udf import WorkerBuilds, featurize
from bigfruits.pipeline.hadoop_fs import absolute_uri, is_local
from bigfruits.pipeline.ingest import (ImageFile, Listing, images_frame, input_not_found, list_images,
                                       listed_without_spark, select_images, unfoldered_note)
from bigfruits.pipeline.outputs import OutputTarget, output_exists
from bigfruits.pipeline.progress import StageLog, image_progress
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
    the Spark broadcast of the payload every Python worker rebuilds the engine from, whether
    the model came from the user's cache, and an int8 graph's report."""

    engine: str
    threads: int
    weights: WeightsInfo
    payload: Any
    cached: bool = False
    #: an int8 graph's report (``featurize/int8``); None for fp32
    quantization: Optional[Dict[str, Any]] = None

    @property
    def identity(self) -> Dict[str, Any]:
        """What ``--reuse`` compares (``reuse.model_identity``)."""
        return model_identity(self.engine, self.weights.sha256, self.quantization)


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
    table and the local paths of the plots by name (for the report)."""

    k: int
    explained: Any
    plots: Dict[str, str]


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
            if cached is None:
                try:
                    import_tensorflow()
                except ImportError:
                    pass  # prepare() says what to install
        finally:
            quiet.set()
        fp32 = cached or prepare(engine, config.weights, config.seed)
        return for_precision(fp32, config.precision, config.calibration)

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
    ours = spark is None
    with StageLog(config.progress) as stages:
        # local and S3 inputs are listed before Spark starts: a wrong input fails in a second
        early = (listed(stages, None, config) if listed_without_spark(absolute_uri(config.input))
                 else None)
        preparing, quiet = start_preparing(config)
        if ours:
            spark = spark_stage(stages, config, quiet)
        target = OutputTarget(spark, config.output)
        target.check_free(config.overwrite)
        try:
            with sql_conf(spark, RUN_SETTINGS):
                manifest = _run(spark, config, target, started, preparing, stages, early)
        except BaseException:
            target.discard()
            raise
        target.cleanup_local()
        if ours and records_at_exit(spark.conf.get("spark.driver.extraJavaOptions", "") or ""):
            stages.say("once this process ends, Spark's JVM records its class archive for a "
                       "few seconds (first run only: later runs start faster)")
    return RunResult(target.final, manifest)


def spark_stage(stages: StageLog, config: RunConfig, quiet: threading.Event) -> Any:
    """Start the embedded Spark session, once no TensorFlow import holds stderr (``quiet``)."""
    with stages.stage("spark_start", f"starting Spark ({config.master}) while the model is prepared",
                      announce_after=0) as stage:
        from pyspark.sql import SparkSession  # noqa: F401  (the import overlaps TF's)

        quiet.wait()
        spark = get_session(config.master, config.spark_conf)
        stage.done = (f"Spark {spark.version} started ({spark.sparkContext.master}, "
                      f"{spark.sparkContext.defaultParallelism} cores)")
    return spark


def listed(stages: StageLog, spark: Any, config: RunConfig) -> Selection:
    """The list stage, said and timed (``spark`` None: before Spark starts)."""
    with stages.stage("list", f"listing {config.input or 'the bundled sample'}") as stage:
        selection = list_stage(spark, config)
        stage.done = describe_selection(selection)
    return selection


def _run(spark: Any, config: RunConfig, target: OutputTarget, started: float,
         preparing: "Future[Prepared]", stages: StageLog, early: Optional[Selection] = None) -> Dict[str, Any]:
    """The stages, in order, each timed under its key in the manifest's ``timings`` (the list
    stage done already, before Spark, for local and S3 inputs)."""
    selection = early or listed(stages, spark, config)
    with stages.stage("model", "preparing the model") as stage:
        inference = engine_stage(spark, preparing, config.model, config.precision)
        stage.done = describe_model(inference, config.model)
    with stages.stage("reuse", f"planning --reuse {config.reuse}", shown=bool(config.reuse)) as stage:
        reuse = reuse_stage(spark, config, selection, inference)
        stage.done = f"--reuse: {reuse.reused} images reused, {len(reuse.to_featurize)} to featurize"
    todo = len(reuse.to_featurize)
    # the bar says what the featurize stage is doing
    with stages.stage("featurize", f"featurizing {todo} images", announce_after=None) as stage:
        builds = featurize_stage(spark, config, target, reuse.to_featurize, selection, inference)
        stage.done = ((lambda s: f"featurized {todo} images ({todo / max(s, 1e-9):.1f} images/s)")
                      if todo else "nothing to featurize: every image reused")
    with stages.stage("write_features", "writing features/ and errors/") as stage:
        accounted = account_stage(spark, config, target, selection, reuse)
        stage.done = describe_accounted(accounted)
    with stages.stage("pca_fit", f"fitting the PCA on {accounted.images_ok} images") as stage:
        pca_model = pca_stage(config, accounted)
        stage.done = (f"PCA fitted: k={pca_model.k} keeps "
                      f"{pca_model.explained_variance_ratio_.sum():.1%} of the variance")
    written = write_stage(spark, target, pca_model, accounted.features, stages)
    timings = {**stages.timings, "total": time.perf_counter() - started}
    manifest = build_manifest(spark, config, target, selection, inference, builds, accounted,
                              written, timings, reuse)
    with stages.stage(None, "writing report.html") as stage:
        report_stage(target, manifest, written, accounted.errors, selection)
        stage.done = "wrote report.html"
    with stages.stage(None, f"publishing {target.final}") as stage:
        target.publish(manifest, config.overwrite)
        stage.done = f"published {target.final}"
    return manifest


def describe_selection(selection: Selection) -> str:
    """``"100 images in 10 classes in <root>"``, and what was left out or skipped."""
    images = selection.images
    notes = []
    left_out = len(selection.listing.images) - len(images)
    if left_out:
        notes.append(f"{left_out} more left out by --classes/--limit")
    skipped = sum(selection.listing.skipped.values())
    if skipped:
        notes.append(f"{skipped} other files skipped")
    return (f"{len(images)} images in {len({image.label for image in images})} classes in "
            f"{selection.listing.root}" + (f" ({', '.join(notes)})" if notes else ""))


def describe_model(inference: Inference, model: Optional[str]) -> str:
    built = (", exported to ONNX once (cached for the next runs)" if inference.engine == "onnxruntime"
             else ", built")
    source = (f"published model {model}" if model is not None else
              f"{inference.weights.kind} weights" + (", from the cache" if inference.cached else built))
    precision = ", int8" if inference.quantization else ""
    return f"model ready: {inference.engine}{precision}, {source}"


def describe_accounted(accounted: Accounted) -> str:
    """Where every image went; the failures only when there are some."""
    if not accounted.images_failed:
        return f"wrote features/: all {accounted.images_ok} images featurized"
    return (f"wrote features/ ({accounted.images_ok} images) and errors/ "
            f"({accounted.images_failed} failed, see errors/)")


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
    if config.precision == "int8" and config.model is None:
        calibration_set(config.calibration)  # a wrong --calibration: said before any download
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


def engine_stage(spark: Any, preparing: "Future[Prepared]", model: Optional[str] = None,
                 precision: str = "fp32") -> Inference:
    """Wait for the model (prepared while Spark started, or read from the published folder
    ``model``, which must be of the ``precision`` asked) and broadcast it in the chosen
    engine's form."""
    prepared = read_published(spark, model) if model is not None else preparing.result()
    if prepared.precision != precision:
        raise InputError(f"--model {model} is an {prepared.precision} graph, not {precision}",
                         f"pass --precision {prepared.precision}, or publish the {precision} graph "
                         f"(run and submit upload it for --precision {precision})")
    threads = int(spark.conf.get("spark.task.cpus", "1"))
    payload = spark.sparkContext.broadcast(prepared.payload(threads))
    return Inference(prepared.engine, threads, prepared.weights, payload, prepared.cached,
                     prepared.quantization)


def reuse_stage(spark: Any, config: RunConfig, selection: Selection, inference: Inference) -> Reuse:
    """With ``--reuse``: which images take their features from the previous output."""
    reuse = plan_reuse(spark, config.reuse, selection.images, inference.identity)
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


def write_stage(spark: Any, target: OutputTarget, pca_model: Any, features: Any,
                stages: StageLog) -> Written:
    """Project the images (pca/), then write pca.csv, the model, the explained variance and the
    plots: two stages on stderr (``project``, ``write``)."""
    k = int(pca_model.k)
    with stages.stage("project", f"projecting the images onto {k} components") as stage:
        pca_model.transform(features.select("path", "label", "features")) \
            .select("path", "label", "pca").write.parquet(target.uri("pca"))
        stage.done = f"projected the images onto {k} components: pca/"
    with stages.stage("write", "writing pca.csv, pca_model/, explained_variance.csv, plots/") as stage:
        written = spark.read.parquet(target.uri("pca"))
        write_pca_csv(target, written, k)
        pca_model.save(target.uri("pca_model"))
        explained = report.explained_variance_table(pca_model.explained_variance_ratio_)
        explained.to_csv(target.local_file("explained_variance.csv"), index=False)
        target.put("explained_variance.csv")
        plots = {"cumulative_variance": report.figure_cumulative_variance(explained)}
        if k >= 2:
            plots["pc1_pc2"] = report.figure_pc_scatter(report.pc_points(written), explained)
        paths = {}
        for name, figure in plots.items():
            paths[name] = target.local_file(f"plots/{name}.png")
            report.save_figure(figure, paths[name])
            target.put(f"plots/{name}.png")
        stage.done = "wrote pca.csv, pca_model/, explained_variance.csv, plots/"
    return Written(k, explained, paths)


def write_pca_csv(target: OutputTarget, pca: Any, k: int) -> None:
    """``pca.csv``: ``path, label, pc1 … pck``, one row per featurized image, in path order;
    one file a user opens (a spreadsheet, pandas), not a folder of Spark part files.

    It can be large (a million images with k = 50: about 500 MB of text), so it never passes
    through the driver: one Spark task reads pca/ and streams the rows, sorted within that task
    (spilling to disk if need be), into one part file, which then takes its place as pca.csv.
    The memory is one task's, whatever the size; the cost is one core writing the text, small
    next to featurizing as many images."""
    from pyspark.sql import functions as F

    columns = [F.col("pca")[i].alias(f"pc{i + 1}") for i in range(k)]
    target.write_single_csv(pca.select("path", "label", *columns).coalesce(1)
                            .sortWithinPartitions("path"), "pca.csv")


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
        "precision": "fp32" if inference.quantization is None else "int8",
        "model": inference.identity,
        "model_from_cache": inference.cached,
        "features_meaningful": weights.meaningful,
        "spark_master": spark.sparkContext.master,
        "versions": _versions(spark),
        "parameters": {**config.to_dict(), "input": selection.listing.root},
        "timings": {stage: round(seconds, 3) for stage, seconds in timings.items()},
        "images_per_s": round(len(reuse.to_featurize) / max(timings["featurize"], 1e-9), 2),
        "images_per_s_end_to_end": round(images_total / max(timings["total"], 1e-9), 2),
    }
    if inference.quantization is not None:
        manifest["quantization"] = inference.quantization
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


def report_stage(target: OutputTarget, manifest: Dict[str, Any], written: Written, errors: Any,
                 selection: Selection) -> None:
    """``report.html``: the run, images per class, a few of them, the PCA, timings, errors."""
    from pyspark.sql import functions as F

    from bigfruits.pipeline.ingest import LABEL_PATTERN
    from bigfruits.pipeline.report_page import MAX_ERRORS_SHOWN, ReportContent, render_report
    from bigfruits.pipeline.thumbnails import class_thumbnails

    failed = {row["label"]: int(row["count"]) for row in errors.select(
        F.regexp_extract("path", LABEL_PATTERN, 1).alias("label")).groupBy("label").count().collect()}
    settings = S3Settings.from_environment() if is_s3(selection.listing.root) else None
    content = ReportContent(
        manifest, written.explained, written.plots,
        report.class_table((image.label for image in selection.images), failed),
        class_thumbnails(selection.images, settings),
        errors.orderBy("path").limit(MAX_ERRORS_SHOWN).toPandas())
    with open(target.local_file("report.html"), "w", encoding="utf-8") as handle:
        handle.write(render_report(content))
    target.put("report.html")
