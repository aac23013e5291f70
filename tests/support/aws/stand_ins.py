"""Stand-ins for what the AWS commands make on this machine before they send anything (the
model, the wheel, the wheelhouse): the command tests check what is uploaded and sent, not how
these are built (their own tests do that)."""
from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import pytest

from bigfruits.aws.procedures import node_files, wheel as cluster_wheels

#: What the command tests upload as "the model": they test the upload and the step's
#: arguments, and no step runs it (FakeEmr); the node test (tests/e2e) uploads a real export.
STAND_IN_GRAPH = b"stand-in ONNX graph of the command tests: never run"


def local_stand_ins(monkeypatch: pytest.MonkeyPatch, folder: Path) -> Path:
    """What ``create-cluster``/``run``/``submit`` (and their dry runs, which make the same files)
    make on this machine, replaced for the command tests; the stand-in wheel's path.

    - the model: a stand-in graph (seconds of TensorFlow per test saved); the node test and the
      notebooks' test upload a real export;
    - the wheelhouse: a tar of the wheel alone (no pip download from PyPI per test session); the
      node test builds and installs the real one with no package index reachable;
    - the wheel: a zip with the right name, since these tests only hash and upload it (a ``pip
      wheel`` costs seconds, and the pure tests run no subprocess); tests/aws/procedures/test_wheel.py
      builds the real one, and the installed-package test installs it.
    """
    from bigfruits.aws.procedures import node_files, wheel
    from bigfruits.aws.requests.emr.clusters import wheel_name
    from bigfruits.pipeline.featurize.engines import Prepared
    from bigfruits.pipeline.featurize.model import WeightsInfo

    def stand_in_model(weights: str, seed: int) -> Prepared:
        sha = hashlib.sha256(f"{weights}:{seed}".encode()).hexdigest()
        return Prepared("onnxruntime", STAND_IN_GRAPH, WeightsInfo("random", weights, sha, False), True)

    def wheel_only(wheel, constraints=None, extras=None, echo=None):
        wheels = folder / "wheelhouse-wheels"
        wheels.mkdir(exist_ok=True)
        (wheels / wheel.name).write_bytes(wheel.read_bytes())
        node_files.deterministic_tar(wheels, folder / "wheelhouse.tar")
        return folder / "wheelhouse.tar"

    stand_in_wheel = folder / "stand-in-wheel" / wheel_name()
    stand_in_wheel.parent.mkdir(exist_ok=True)
    with zipfile.ZipFile(stand_in_wheel, "w") as archive:
        archive.writestr("bigfruits/__init__.py", "# stand-in wheel of the AWS command tests\n")
    monkeypatch.setattr(node_files, "local_model", stand_in_model)
    monkeypatch.setattr(node_files, "build_wheelhouse", wheel_only)
    monkeypatch.setattr(wheel, "cluster_wheel", lambda: stand_in_wheel)
    return stand_in_wheel


#: ``node_files.local_model`` itself, kept at import, before any stand-in replaces it.
REAL_LOCAL_MODEL = node_files.local_model
#: ``wheel.cluster_wheel`` itself, likewise.
REAL_CLUSTER_WHEEL = cluster_wheels.cluster_wheel
