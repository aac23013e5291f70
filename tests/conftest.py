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


@pytest.fixture(scope="session")
def imagenet_stand_in(tmp_path_factory, weights_file: Path, model_cache: Path) -> Path:
    """A Keras home whose "ImageNet download" is the seeded weights file (the real one cannot be
    downloaded here), its tensors' digest and ONNX export in this session's model cache: what
    ``bigfruits fetch-weights`` leaves on a user's machine, so the cloud commands find a model to
    upload (its features are not ImageNet's: no test calls them so). Its folder (KERAS_HOME)."""
    import shutil

    from bigfruits.pipeline.featurize import cache
    from bigfruits.pipeline.featurize.engines import prepare
    from bigfruits.pipeline.featurize.model import IMAGENET_FILE, describe_weights

    home = tmp_path_factory.mktemp("keras-home")
    (home / "models").mkdir()
    shutil.copyfile(weights_file, home / "models" / IMAGENET_FILE)
    prepared = prepare("onnxruntime", str(weights_file))  # exported into the session's cache
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KERAS_HOME", str(home))
        cache.remember_sha256(describe_weights("imagenet")[3], prepared.weights.sha256)
    return home


@pytest.fixture
def imagenet_here(imagenet_stand_in: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``imagenet_stand_in`` as this test's Keras home."""
    monkeypatch.setenv("KERAS_HOME", str(imagenet_stand_in))
    return imagenet_stand_in
