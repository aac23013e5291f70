"""One run of the pipeline, stage by stage, with timings: list -> featurize -> split features
and errors -> PCA -> write -> report -> publish."""
from __future__ import annotations

import math
import os
import platform
import time
from dataclasses import dataclass
from typing import Any, Dict, List

from bigfruits import __version__
from bigfruits.errors import InputError
from bigfruits.pipeline import report
from bigfruits.pipeline.config import RunConfig
from bigfruits.pipeline.engines import make_payload, resolve_engine
from bigfruits.pipeline.featurize import WorkerBuilds, featurize
from bigfruits.pipeline.ingest import (ImageFile, input_not_found, is_local, list_images, read_images,
                                      resolve_input, select_images)
from bigfruits.pipeline.model import check_weights_arg, load_model
from bigfruits.pipeline.outputs import OutputTarget, output_exists
from bigfruits.pipeline.progress import image_progress
from bigfruits.pipeline.session import ARROW_BATCH_CONF, get_session, sql_conf

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


def run_pipeline(config: RunConfig, spark: Any = None) -> RunResult:
    """Run the whole pipeline; on any failure nothing is published and staging is removed."""
    started = time.perf_counter()
    _check_local_paths(config)
    spark = spark or get_session(config.master, config.spark_conf)
    target = OutputTarget(spark, config.output)
    target.check_free(config.overwrite)
    try:
        with sql_conf(spark, RUN_SETTINGS):
            manifest = _run(spark, config, target, started)
    except BaseException:
        target.discard()
        raise
    target.cleanup_local()
    return RunResult(target.final, manifest)


def _check_local_paths(config: RunConfig) -> None:
    """Catch the common mistakes on local paths in a blink, before Spark and TensorFlow start."""
    check_weights_arg(config.weights)
    input_uri, output = resolve_input(config.input), resolve_input(config.output)
    if is_local(input_uri) and not os.path.exists(input_uri.replace("file:", "", 1)):
        raise input_not_found(input_uri)
    if is_local(output) and os.path.exists(output.replace("file:", "", 1)) and not config.overwrite:
        raise output_exists(output)


def read_settings(images: List[ImageFile], parallelism: int) -> Dict[str, str]:
    """binaryFile packs small files by ``openCostInBytes`` (4 MB each by default: 32 Fruits-360
    images per task); size tasks by image count instead."""
    per_task = min(MAX_IMAGES_PER_TASK,
                   max(MIN_IMAGES_PER_TASK, math.ceil(len(images) / (4 * max(1, parallelism)))))
    average = max(1, sum(image.size for image in images) // max(1, len(images)))
    return {
        "spark.sql.files.openCostInBytes": str(average),
        "spark.sql.files.maxPartitionBytes": str(per_task * 2 * average),
        ARROW_BATCH_CONF: str(ARROW_BATCH_ROWS),
    }


def _account_missing(spark: Any, selected: List[ImageFile], staged: Any) -> Any:
    """Error rows for listed images that binaryFile never returned (zero-byte files, files
    that vanished), so that every input path appears exactly once in features/ or errors/.

    Only the paths come to the driver (as Arrow), never the features."""
    returned = set(staged.select("path").toPandas()["path"])
    missing = [(image.path, "empty file (0 bytes)" if image.size == 0 else
                "not returned by Spark's binaryFile reader (vanished or unreadable)")
               for image in selected if image.path not in returned]
    return spark.createDataFrame(missing, "path string, error string")


def _versions(spark: Any) -> Dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {"python": platform.python_version(), "spark": spark.version, "bigfruits": __version__}
    for name in VERSIONED_PACKAGES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            continue
    return found


def _run(spark: Any, config: RunConfig, target: OutputTarget, started: float) -> Dict[str, Any]:
    from bigfruits.pipeline.pca import ExactPCA

    timings: Dict[str, float] = {}
    sc = spark.sparkContext
    input_uri = resolve_input(config.input)
    listing = list_images(spark, input_uri)
    selected = select_images(listing.images, config.classes, config.limit)
    if config.k is not None and config.k > len(selected):
        raise InputError(f"--k {config.k} is more than the {len(selected)} images selected",
                         f"pass --k {len(selected)} or less, or select more images")

    model, weights = load_model(config.weights, config.seed)
    engine = resolve_engine(config.engine)
    threads = int(spark.conf.get("spark.task.cpus", "1"))
    payload = sc.broadcast(make_payload(engine, model, weights.sha256, threads))
    del model

    clock = time.perf_counter()
    builds = sc.accumulator({}, WorkerBuilds())
    with sql_conf(spark, read_settings(selected, sc.defaultParallelism)):
        images = read_images(spark, listing, selected)
        with image_progress(spark, len(selected), config.progress) as counter:
            featurize(images, payload, config.batch_size, counter, builds).write.parquet(
                target.uri("_featurized"))
    timings["featurize"] = time.perf_counter() - clock

    clock = time.perf_counter()
    staged = spark.read.parquet(target.uri("_featurized"))
    staged.where("error IS NULL").select("path", "label", "features").write.parquet(target.uri("features"))
    (staged.where("error IS NOT NULL").select("path", "error")
     .unionByName(_account_missing(spark, selected, staged))
     .coalesce(1).write.parquet(target.uri("errors")))
    target.delete_staged("_featurized")
    features = spark.read.parquet(target.uri("features"))
    errors = spark.read.parquet(target.uri("errors"))
    images_ok, images_failed = features.count(), errors.count()
    accounted = features.select("path").union(errors.select("path")).distinct().count()
    if not (images_ok + images_failed == accounted == len(selected)):
        raise RuntimeError(f"accounting mismatch: {len(selected)} listed, {images_ok} featurized, "
                           f"{images_failed} failed, {accounted} distinct paths")
    timings["write"] = time.perf_counter() - clock
    if images_ok == 0:
        raise InputError(f"none of the {len(selected)} images could be featurized",
                         f"see the errors above; e.g. {errors.first()['error']}")
    if config.k is not None and config.k > images_ok:
        raise InputError(f"--k {config.k} is more than the {images_ok} images featurized",
                         f"pass --k {images_ok} or less")

    clock = time.perf_counter()
    pca = ExactPCA(inputCol="features", outputCol="pca")
    pca = pca.setK(config.k) if config.k is not None else pca.setVarianceThreshold(config.variance)
    pca_model = pca.fit(features)
    timings["pca_fit"] = time.perf_counter() - clock

    clock = time.perf_counter()
    from pyspark.sql import functions as F

    projected = pca_model.transform(features).select("path", "label", "pca")
    projected.write.parquet(target.uri("pca"))
    pca_model.save(target.uri("pca_model"))
    written = spark.read.parquet(target.uri("pca"))
    k = int(pca_model.k)
    written.select("path", "label", *[F.col("pca")[i].alias(f"pc{i + 1}") for i in range(k)]) \
        .write.option("header", True).csv(target.uri("pca_csv"))
    explained = report.explained_variance_table(pca_model.explained_variance_ratio_)
    explained.to_csv(target.local_file("explained_variance.csv"), index=False)
    target.put("explained_variance.csv")
    plot_paths = [target.local_file("plots/cumulative_variance.png"), target.local_file("plots/pc1_pc2.png")]
    report.save_figure(report.figure_cumulative_variance(explained), plot_paths[0])
    if k >= 2:
        report.save_figure(report.figure_pc_scatter(report.pc_points(written)), plot_paths[1])
    else:
        plot_paths.pop()
    for path in plot_paths:
        target.put("plots/" + path.rsplit("/", 1)[1])
    timings["write"] += time.perf_counter() - clock
    timings["total"] = time.perf_counter() - started

    manifest: Dict[str, Any] = {
        "bigfruits": __version__,
        "run_id": target.run_id,
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "input": listing.root,
        "output": target.final,
        "images_total": len(selected),
        "images_ok": images_ok,
        "images_failed": images_failed,
        "files_skipped": listing.skipped,
        "k": k,
        "variance_kept": float(explained["cumulative"].iloc[-1]),
        "engine": engine,
        "inference_threads_per_task": threads,
        "python_workers": len(builds.value),
        "engine_builds": sum(builds.value.values()),
        "weights": weights.to_dict(),
        "features_meaningful": weights.meaningful,
        "spark_master": sc.master,
        "versions": _versions(spark),
        "parameters": {**config.to_dict(), "input": listing.root},
        "timings": {stage: round(seconds, 3) for stage, seconds in timings.items()},
        "images_per_s": round(len(selected) / max(timings["featurize"], 1e-9), 2),
        "images_per_s_end_to_end": round(len(selected) / max(timings["total"], 1e-9), 2),
    }
    if not weights.meaningful:
        manifest["warning"] = "features computed with RANDOM weights: not meaningful (test run)"
    with open(target.local_file("report.html"), "w", encoding="utf-8") as handle:
        handle.write(report.render_report(manifest, plot_paths, errors.limit(50).toPandas()))
    target.put("report.html")
    target.publish(manifest, config.overwrite)
    return manifest
