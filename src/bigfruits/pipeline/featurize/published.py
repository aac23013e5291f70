"""A model exported once on the user's machine and published as two files in one folder
(local or ``s3://``), so cluster nodes run it without TensorFlow, Keras, onnx or tf2onnx:

- ``model.onnx``: the graph ONNX Runtime runs (the same bytes as the user's ONNX cache);
- ``model.json``: what identifies it: the weights (kind, source, tensor sha256, meaningful),
  the preprocessing version, the graph's sha256 and its precision; an int8 graph also carries
  its report (calibration set and its sha256, quantizer version, layers kept in fp32, fidelity
  to fp32), so a run on a node reports and compares (``--reuse``) what the user's machine made.

The folder is named by the sha256 of the graph (``models/<sha256>/`` in the project's bucket),
so the same model is uploaded once. ``bigfruits run --model <folder>`` uses it instead of
``--weights``; the run's model identity (``--reuse``) is the weights sha256 either way.
"""
from __future__ import annotations

import hashlib
import json
from typing import Any, Dict, Optional, Tuple

from bigfruits.errors import InputError

GRAPH_NAME = "model.onnx"
IDENTITY_NAME = "model.json"
ENGINE = "onnxruntime"


def files_of(prepared: Any) -> Tuple[str, bytes, bytes]:
    """``(sha256 of the graph, graph bytes, identity JSON bytes)`` of an ONNX Runtime ``Prepared``."""
    from bigfruits.pipeline.featurize.images import PREPROCESSING_VERSION

    if prepared.engine != ENGINE:
        raise InputError(f"only an ONNX Runtime model can be published (got {prepared.engine})",
                         "pass --engine onnxruntime or auto")
    identity = {"weights": prepared.weights.to_dict(), "preprocessing": PREPROCESSING_VERSION,
                "engine": ENGINE, "graph_sha256": hashlib.sha256(prepared.blob).hexdigest(),
                "precision": prepared.precision}
    if prepared.quantization is not None:
        identity["quantization"] = prepared.quantization
    return identity["graph_sha256"], prepared.blob, json.dumps(identity, sort_keys=True, indent=1).encode()


def from_files(uri: str, blob: bytes, identity_json: bytes) -> Any:
    """The ``Prepared`` of a published folder's two files, checked against this package."""
    from bigfruits.pipeline.featurize.engines import Prepared
    from bigfruits.pipeline.featurize.images import PREPROCESSING_VERSION
    from bigfruits.pipeline.featurize.model import WeightsInfo

    try:
        identity: Dict[str, Any] = json.loads(identity_json)
        weights = identity["weights"]
        info = WeightsInfo(weights["kind"], weights["source"], weights["sha256"], bool(weights["meaningful"]))
        quantization = _quantization(identity)
    except (ValueError, KeyError, TypeError):
        raise InputError(f"--model {uri}: {IDENTITY_NAME} is not a bigfruits model identity",
                         "publish the model again (create-cluster, run or submit do)") from None
    if identity.get("preprocessing") != PREPROCESSING_VERSION:
        raise InputError(f"--model {uri}: made for preprocessing {identity.get('preprocessing')}, "
                         f"this bigfruits uses {PREPROCESSING_VERSION}",
                         "publish the model with this version of bigfruits")
    if hashlib.sha256(blob).hexdigest() != identity.get("graph_sha256"):
        raise InputError(f"--model {uri}: {GRAPH_NAME} does not match its {IDENTITY_NAME}",
                         "publish the model again")
    return Prepared(ENGINE, blob, info, True, quantization)


def _quantization(identity: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    """An int8 graph's report (None for fp32; a model.json before int8 existed is fp32)."""
    precision = identity.get("precision", "fp32")
    if precision == "fp32":
        return None
    report = identity["quantization"]
    if precision != "int8" or not (report["calibration"]["sha256"] and report["quantizer"]):
        raise ValueError(f"precision {precision}")
    return dict(report)


def read_published(spark: Any, uri: str) -> Any:
    """The published model at ``uri`` (any filesystem Spark reads: s3:// on EMR, local)."""
    from bigfruits.pipeline.hadoop_fs import absolute_uri, hadoop_path, jvm_path, read_bytes

    fs, root = hadoop_path(spark, absolute_uri(uri))
    folder = root.toString().rstrip("/")

    def read(name: str) -> bytes:
        path = jvm_path(spark, f"{folder}/{name}")
        if not fs.exists(path):
            raise InputError(f"--model {uri}: no {name} there",
                             "pass the models/<sha256>/ folder that create-cluster, run or submit printed")
        return read_bytes(spark, fs, path)

    return from_files(uri, read(GRAPH_NAME), read(IDENTITY_NAME))
