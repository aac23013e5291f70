"""Shared fixtures: a Spark session, test images written on the fly, and a weights file."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "src" / "bigfruits" / "data" / "sample"
SHARED_SAMPLE = REPO.parent / "shared" / "data" / "fruits-360-sample" / "Test"

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


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


def python_cmd(*args: str) -> list:
    """The CLI as a user runs it, from this interpreter's environment."""
    return [sys.executable, "-m", "bigfruits", *args]
