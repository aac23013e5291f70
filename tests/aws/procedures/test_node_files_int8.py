"""``--precision int8`` in a step's arguments, with the int8 graph made on this machine from
trained weights (TensorFlow, tf2onnx and ORT's quantizer: not a pure test)."""
from __future__ import annotations

import hashlib
import json

import pytest

from bigfruits.aws.procedures import node_files
from bigfruits.errors import InputError
from bigfruits.pipeline.featurize import published
from tests.support.aws.stand_ins import REAL_LOCAL_MODEL as real_local_model
from tests.support.paths import SAMPLE
from tests.support.aws.upload_bucket import UploadBucket


def test_a_step_with_int8_uploads_the_int8_graph_made_here(trained_int8, trained_weights, tmp_path,
                                                           monkeypatch) -> None:
    """``--precision int8`` in a step's arguments: the int8 graph (from this machine's cache,
    calibrated on ``--calibration``) goes to its own models/<sha256>/ folder; the step keeps
    ``--precision`` (the node checks the graph is int8) but not ``--calibration``, a folder of
    this machine the node does not have."""
    import shutil

    monkeypatch.setattr(node_files, "local_model", real_local_model)  # the graphs made here
    fp32, quantized = trained_int8
    ctx = UploadBucket()
    fp32_uri = node_files.upload_model(ctx, str(trained_weights), 0, "fp32")
    int8_uri = node_files.upload_model(ctx, str(trained_weights), 0, "int8")
    assert fp32_uri != int8_uri and int8_uri.endswith(f"/{hashlib.sha256(quantized.blob).hexdigest()}/")
    identity = json.loads(ctx.keys[int8_uri.split("/", 3)[3] + published.IDENTITY_NAME])
    assert identity["precision"] == "int8" and identity["quantization"] == quantized.quantization
    assert ctx.keys[int8_uri.split("/", 3)[3] + published.GRAPH_NAME] == quantized.blob
    calibration = tmp_path / "my-images"
    shutil.copytree(SAMPLE, calibration)  # the same images: the same set, the same graph
    args = node_files.step_model_args(ctx, ["--k", "5", "--weights", str(trained_weights), "--precision",
                                            "int8", f"--calibration={calibration}"])
    assert args == ["--k", "5", "--weights", str(trained_weights), "--precision", "int8", "--model", int8_uri]
    assert len(ctx.uploads) == 4  # nothing uploaded twice
    with pytest.raises(InputError, match="--calibration calibrates an int8 graph"):
        node_files.step_model_args(ctx, ["--weights", str(trained_weights), "--calibration", str(calibration)])
