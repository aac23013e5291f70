"""``--reuse PATH``: take the features of unchanged inputs from a previous run's output.

An input is unchanged when its identity -- path, size and stamp (local modification time in
nanoseconds, S3 ETag; see ``ingest.ImageFile``) -- is the one recorded beside its features in
PATH's ``features/``, and PATH's ``manifest.json`` names the same model (``model_identity``).
New and changed inputs are featurized again, and so are the previous run's error rows (a file
that failed may have been fixed in place with the same size and time, and errors are few).
Inputs of the previous run that are not inputs of this one are dropped.

A previous output without identities (made before ``--reuse`` existed) or made with another
model gives nothing to reuse, said in one line; a PATH that is not a bigfruits output is a user
mistake (exit 2)."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Optional, Tuple

from bigfruits.errors import InputError
from bigfruits.pipeline.featurize.images import PREPROCESSING_VERSION
from bigfruits.pipeline.featurize.model import FEATURE_DIM
from bigfruits.pipeline.hadoop_fs import (absolute_uri, copy, hadoop_path, is_local, jvm_path,
                                         read_text)
from bigfruits.pipeline.ingest import ImageFile
from bigfruits.pipeline.session import local_frame

#: features/ columns: the features and, after them, the input identity --reuse compares
FEATURE_COLUMNS = ("path", "label", "features", "size", "stamp")
IDENTITY_SCHEMA = "path string, size long, stamp string"
#: why a --reuse PATH is not a previous output (the same words whether checked locally or by Hadoop)
NOT_FOUND, NO_MANIFEST = "not found", "not a bigfruits output (no manifest.json)"


def model_identity(engine: str, weights_sha256: str,
                   quantization: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """What must be equal for two runs' features to be interchangeable. An int8 graph
    (``quantization``: its report) adds its precision, calibration set and quantizer; fp32's
    identity is what it was before int8 existed, so earlier fp32 outputs stay reusable."""
    identity = {"weights_sha256": weights_sha256, "engine": engine,
                "preprocessing": PREPROCESSING_VERSION, "feature_dim": FEATURE_DIM}
    if quantization is not None:
        identity.update({"precision": "int8", "calibration_sha256": quantization["calibration"]["sha256"],
                         "quantizer": quantization["quantizer"]})
    return identity


@dataclass
class Reuse:
    """The plan: ``features`` (a DataFrame in ``FEATURE_COLUMNS``, or None) for the reused
    inputs (``reused_paths``), ``to_featurize`` for the others, and what the manifest says
    about it. ``whole_folder``: the previous ``features/`` holds exactly the reused inputs,
    once each, so its files can be copied as they are instead of rewritten."""

    source: Optional[str]
    features: Any
    to_featurize: List[ImageFile]
    reused_paths: List[str] = field(default_factory=list)
    dropped: int = 0
    note: str = ""
    whole_folder: bool = False

    @property
    def reused(self) -> int:
        return len(self.reused_paths)

    def counts(self) -> Dict[str, Any]:
        return {"from": self.source, "reused": self.reused, "featurized": len(self.to_featurize),
                "dropped": self.dropped, "note": self.note}


def unchanged_inputs(known: Iterable[Tuple[str, int, str]],
                     selected: List[ImageFile]) -> List[ImageFile]:
    """The inputs of ``selected`` whose whole identity -- path, size *and* stamp -- is one of
    the previous run's ``known`` rows (one entry per matching row, in ``known``'s order)."""
    current = {image.path: image for image in selected}
    return [current[p] for p, size, stamp in known
            if p in current and current[p].size == size and current[p].stamp == stamp]


def why_not_reusable(manifest: Dict[str, Any], identity: Dict[str, Any]) -> str:
    """Why a previous output's features cannot stand for this run's ("" when they can): its
    manifest names another model (weights, engine, precision, preprocessing, feature size), or none."""
    if manifest.get("model") == identity:
        return ""
    if "model" in manifest:
        return "made with another model (weights, engine, precision or preprocessing)"
    return "made by a bigfruits without --reuse support (no model identity)"


def dropped_count(previous: Iterable[str], failed: Iterable[str], selected: Iterable[str]) -> int:
    """Inputs of the previous run, featurized or error rows, that are not inputs any more."""
    now = set(selected)
    return sum(1 for path in set(previous) | set(failed) if path not in now)


def identity_frame(spark: Any, images: List[ImageFile]) -> Any:
    """``DataFrame[path, size, stamp]`` of ``images`` (made on the driver, small)."""
    import pandas as pd

    frame = pd.DataFrame({"path": [im.path for im in images],
                          "size": pd.Series([im.size for im in images], dtype="int64"),
                          "stamp": [im.stamp for im in images]})
    return local_frame(spark, frame, IDENTITY_SCHEMA)


def not_a_previous_output(path: str, why: str) -> InputError:
    return InputError(f"--reuse {path}: {why}",
                      "pass the --output folder of a finished bigfruits run, or leave out --reuse")


def check_local_previous_output(path: Optional[str]) -> None:
    """``read_manifest``'s checks on a local ``--reuse`` PATH, before Spark starts: a mistake
    is said in a blink instead of after Spark's start-up."""
    if path is None or not is_local(absolute_uri(path)):
        return
    previous = absolute_uri(path).replace("file:", "", 1)
    if not os.path.isdir(previous):
        raise not_a_previous_output(path, NOT_FOUND)
    if not os.path.isfile(os.path.join(previous, "manifest.json")):
        raise not_a_previous_output(path, NO_MANIFEST)


def read_manifest(spark: Any, path: str) -> "tuple[str, Dict[str, Any]]":
    """``(qualified uri, manifest)`` of a previous output, or a one-line user error."""
    fs, root = hadoop_path(spark, absolute_uri(path))
    if not fs.exists(root):
        raise not_a_previous_output(path, NOT_FOUND)
    uri = root.toString().rstrip("/")
    manifest_uri = f"{uri}/manifest.json"
    if not fs.exists(jvm_path(spark, manifest_uri)):
        raise not_a_previous_output(path, NO_MANIFEST)
    try:
        manifest = json.loads(read_text(spark, fs, manifest_uri))
    except ValueError:
        raise not_a_previous_output(path, "its manifest.json is not JSON") from None
    return uri, manifest


def _previous_errors(spark: Any, uri: str) -> set:
    fs, errors = hadoop_path(spark, f"{uri}/errors")
    if not fs.exists(errors):
        return set()
    return set(spark.read.parquet(errors.toString()).select("path").toPandas()["path"])


def plan_reuse(spark: Any, path: Optional[str], selected: List[ImageFile],
               identity: Dict[str, Any]) -> Reuse:
    """Which of ``selected`` take their features from ``path`` (None: no reuse)."""
    if path is None:
        return Reuse(None, None, list(selected))
    uri, manifest = read_manifest(spark, path)
    why = why_not_reusable(manifest, identity)
    if why:
        return Reuse(uri, None, list(selected), note=f"nothing reused: {path} was {why}")
    previous = spark.read.parquet(f"{uri}/features")
    if not set(FEATURE_COLUMNS) <= set(previous.columns):
        return Reuse(uri, None, list(selected),
                     note=f"nothing reused: {path}/features has no input identity (size, stamp)")
    known = previous.select("path", "size", "stamp").toPandas()  # columns only: small
    failed = _previous_errors(spark, uri)
    unchanged = unchanged_inputs(zip(known["path"], known["size"], known["stamp"]), selected)
    kept = {image.path for image in unchanged}
    dropped = dropped_count(known["path"], failed, (image.path for image in selected))
    to_featurize = [image for image in selected if image.path not in kept]
    features = None
    if unchanged:
        from pyspark.sql import functions as F

        features = (previous.join(F.broadcast(identity_frame(spark, unchanged)),
                                  ["path", "size", "stamp"])
                    .select(*FEATURE_COLUMNS))
    whole = (len(unchanged) == len(known) and known["path"].is_unique
             and tuple(previous.columns) == FEATURE_COLUMNS)
    return Reuse(uri, features, to_featurize, [image.path for image in unchanged], dropped,
                 whole_folder=whole)


def copy_features_folder(spark: Any, source: str, destination: str) -> None:
    """Copy the previous run's ``features/`` files into ``destination`` as they are: when every
    row is reused, this is a file copy instead of Spark decoding and re-encoding every feature
    vector (on S3 each file is streamed through the driver, still one pass over the bytes)."""
    source_fs, folder = hadoop_path(spark, f"{source}/features")
    target_fs, target = hadoop_path(spark, destination)  # absent: the copy is named `target`
    if not copy(spark, source_fs, folder, target_fs, target):
        raise OSError(f"could not copy {source}/features to {destination}")
