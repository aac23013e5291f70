"""``run --model``: a published graph runs with ONNX Runtime only, and no TensorFlow starts."""
from __future__ import annotations

import sys

import pytest

from bigfruits.errors import InputError
from bigfruits.pipeline.config import RunConfig
from bigfruits.pipeline.run import start_preparing


def test_a_published_model_is_not_prepared_from_weights_and_needs_no_tensorflow(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "tensorflow", None)  # importing it would fail
    preparing, quiet = start_preparing(RunConfig(model="s3://b/models/abc/", weights="random"))
    assert quiet.is_set() and preparing.result() is None  # read by the engine stage, from the folder


def test_a_published_model_is_an_onnx_graph_not_a_tensorflow_one() -> None:
    with pytest.raises(InputError, match="--model is an ONNX graph"):
        start_preparing(RunConfig(model="s3://b/models/abc/", engine="tensorflow"))
