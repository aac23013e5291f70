"""Fixtures for the AWS tests: the moto server (tests/support/aws/server.py) and our wheel."""
import hashlib

import pytest

from tests.support.aws.cli import built_wheel  # noqa: F401
from tests.support.aws.server import aws_env, moto_tls, moto_url  # noqa: F401

#: What the command tests upload as "the model": they test the upload and the step's
#: arguments, and no step runs it (FakeEmr); the node test (tests/e2e) uploads a real export.
STAND_IN_GRAPH = b"stand-in ONNX graph of the command tests: never run"


@pytest.fixture(autouse=True)
def no_model_export(monkeypatch):
    """``create-cluster``/``run``/``submit`` upload the model exported on this machine; here a
    stand-in (seconds of TensorFlow per test saved), unless a test replaces it."""
    from bigfruits.aws.procedures import node_files
    from bigfruits.pipeline.featurize.engines import Prepared
    from bigfruits.pipeline.featurize.model import WeightsInfo

    def stand_in(weights: str, seed: int) -> Prepared:
        sha = hashlib.sha256(f"{weights}:{seed}".encode()).hexdigest()
        return Prepared("onnxruntime", STAND_IN_GRAPH, WeightsInfo("random", weights, sha, False), True)

    monkeypatch.setattr(node_files, "local_model", stand_in)
    return stand_in


@pytest.fixture(autouse=True)
def no_wheelhouse_download(monkeypatch, tmp_path):
    """The wheelhouse ``create-cluster``/``run`` upload: here a tar of our wheel alone (no pip
    download from PyPI per test session); the node test (tests/e2e) builds and installs the real
    one with no package index reachable."""
    from bigfruits.aws.procedures import node_files

    def wheel_only(wheel, constraints=None, extras=None, echo=None):
        folder = tmp_path / "wheelhouse-wheels"
        folder.mkdir(exist_ok=True)
        (folder / wheel.name).write_bytes(wheel.read_bytes())
        node_files.deterministic_tar(folder, tmp_path / "wheelhouse.tar")
        return tmp_path / "wheelhouse.tar"

    monkeypatch.setattr(node_files, "build_wheelhouse", wheel_only)


@pytest.fixture(autouse=True)
def no_archive_build(monkeypatch, tmp_path):
    """``serverless run`` builds no real dependency archive here (``archive_stand_in``)."""
    from tests.support.aws.serverless import archive_stand_in

    return archive_stand_in(monkeypatch, tmp_path)
