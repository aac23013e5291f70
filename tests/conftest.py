"""Shared fixtures: a Spark session and a weights file (paths and datasets: ``tests.support``)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# Traffic stays on 127.0.0.1: botocore's credential chain would otherwise ask the EC2 instance
# metadata address (169.254.169.254) when a test runs without credentials.
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"


@pytest.fixture(scope="session", autouse=True)
def model_cache(tmp_path_factory):
    """The exported-model cache of this test session, not the user's (subprocesses inherit it)."""
    folder = tmp_path_factory.mktemp("model-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BIGFRUITS_CACHE_DIR", str(folder))
        yield folder


@pytest.fixture(scope="session")
def spark():
    from bigfruits.pipeline.session import get_session

    session = get_session("local[2]", {"spark.sql.shuffle.partitions": "4"})
    yield session
    session.stop()


@pytest.fixture(scope="session")
def weights_file(tmp_path_factory) -> Path:
    """A MobileNetV2 no-top weights file written by the test (ImageNet can't be downloaded
    here): seeded He-normal kernels, different from ``--weights random``'s default seed."""
    from bigfruits.pipeline.featurize.model import build_mobilenet, randomize_weights

    model = build_mobilenet(None)
    randomize_weights(model, seed=1234)
    path = tmp_path_factory.mktemp("weights") / "mobilenet_v2_test.weights.h5"
    model.save_weights(str(path))
    return path
