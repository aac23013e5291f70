"""The dependency archive for EMR Serverless 7.x's Python 3.9, built by the real builder (our
wheel, the wheelhouse for CPython 3.9 from PyPI under the EMR 7 pins, pip's --target unpacking):
the whole closure for 3.9 and nothing for another Python, the same bytes when built again, and
its onnxruntime (the last release with cp39 wheels) runs our exported graph.

There is no Python 3.9 here: what 3.9 would import is checked from the files (their ABI tags
and metadata, markers evaluated for 3.9); the onnxruntime check runs the *same release*'s cp311
wheel on our graph (the graph's opset and IR version are what that release must read)."""
from __future__ import annotations

import email.parser
import hashlib
import json
import subprocess
import tarfile
from pathlib import Path
from typing import Dict, Iterator, List

import numpy as np
import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from bigfruits.aws.procedures import serverless_archive
from bigfruits.aws.procedures.wheel_closure import target_environment
from tests.support.cluster.node import SPARK_VENV, base_python311, clean_env

pytestmark = [pytest.mark.slow, pytest.mark.node]

ONNXRUNTIME_VENVS = SPARK_VENV.parent


@pytest.fixture(scope="module")
def deps39(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The 3.9 archive built in a fresh cache (PyPI's files come from pip's cache when there),
    unpacked; the archive itself beside it."""
    root = tmp_path_factory.mktemp("archive39")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BIGFRUITS_CACHE_DIR", str(root / "cache"))
        archive = serverless_archive.build_archive("3.9")
    with tarfile.open(archive) as tar:
        tar.extractall(root / "deps", filter="data")
    (root / "deps.tar.gz").write_bytes(archive.read_bytes())
    yield root / "deps"


def dists(deps: Path) -> Dict[str, email.message.Message]:
    found = {}
    for metadata in deps.glob("*.dist-info/METADATA"):
        message = email.parser.Parser().parsestr(metadata.read_text(encoding="utf-8"))
        found[canonicalize_name(message["Name"])] = message
    return found


def test_the_39_archive_holds_the_whole_closure_for_39(deps39: Path) -> None:
    tag = json.loads((deps39 / serverless_archive.TAG_FILE).read_text())
    assert tag["python"] == "3.9"
    installed = dists(deps39)
    environment = target_environment("3.9")
    unmet: List[str] = []
    for name, message in installed.items():
        for line in message.get_all("Requires-Dist") or ():
            requirement = Requirement(line)
            extras = {"node"} if name == "bigfruits" else {""}
            if requirement.marker and not any(requirement.marker.evaluate({**environment, "extra": e}) for e in extras):
                continue
            found = installed.get(canonicalize_name(requirement.name))
            if found is None or not requirement.specifier.contains(found["Version"], prereleases=True):
                unmet.append(f"{name}: {line}")
    assert unmet == []
    # what pip run from 3.11 left out for 3.9, and botocore's urllib3 for 3.9
    assert {"tomli", "importlib-resources", "onnxruntime", "numpy", "pandas", "pyarrow"} <= set(installed)
    assert Version(installed["urllib3"]["Version"]) < Version("1.27")
    # the EMR 7 pins
    assert installed["numpy"]["Version"].startswith("1.26.") and installed["pandas"]["Version"].startswith("2.2.")
    assert Version(installed["pyarrow"]["Version"]) < Version("17")
    assert Version(installed["protobuf"]["Version"]) < Version("5")


def test_the_39_archive_has_only_cp39_binaries_and_nothing_of_this_machine(deps39: Path) -> None:
    extensions = [p.name for p in deps39.rglob("*.so") if ".cpython-" in p.name]
    assert any(n.startswith("_multiarray_umath.cpython-39-x86_64") for n in extensions)
    assert any(n.startswith("onnxruntime_pybind11_state") and "cpython-39" in n for n in extensions)
    assert [n for n in extensions if ".cpython-39-" not in n] == []
    # nothing compiled here (--no-compile; numpy's wheel ships one cp39 .pyc of its own)
    assert not (deps39 / "bin").exists() and [p.name for p in deps39.rglob("*.pyc") if "cpython-39" not in p.name] == []
    assert (deps39 / "bigfruits" / "cli.py").is_file()


def test_the_archive_is_the_same_bytes_when_built_again(deps39: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BIGFRUITS_CACHE_DIR", str(tmp_path / "cache"))
    again = serverless_archive.build_archive("3.9")
    first = (deps39.parent / "deps.tar.gz").read_bytes()
    assert hashlib.sha256(again.read_bytes()).hexdigest() == hashlib.sha256(first).hexdigest()


def onnxruntime_python(version: str) -> Path:
    """A venv holding that onnxruntime release (its cp311 wheel) and numpy<2, kept in ~/.cache."""
    venv = ONNXRUNTIME_VENVS / f"onnxruntime-{version}"
    python = venv / "bin" / "python"
    if not (venv / ".complete").is_file():
        subprocess.run([base_python311(), "-m", "venv", "--clear", str(venv)], check=True, timeout=120)
        subprocess.run([str(python), "-m", "pip", "install", "-q", f"onnxruntime=={version}", "numpy<2"],
                       check=True, timeout=900)
        (venv / ".complete").write_text(version + "\n")
    return python


RUN_GRAPH = """import sys, numpy as np, onnxruntime as ort
session = ort.InferenceSession(sys.argv[1], providers=["CPUExecutionProvider"])
batch = np.load(sys.argv[2])
np.save(sys.argv[3], session.run(None, {session.get_inputs()[0].name: batch})[0])
print(ort.__version__)
"""


def test_the_39_archives_onnxruntime_runs_our_graph(deps39: Path, tmp_path: Path) -> None:
    import onnx

    from bigfruits.pipeline.featurize.engines import prepare
    from bigfruits.pipeline.featurize.engine_onnxruntime import OPSET, OnnxRuntimeEngine

    version = dists(deps39)["onnxruntime"]["Version"]
    prepared = prepare("onnxruntime", "random", 3)
    graph = tmp_path / "model.onnx"
    graph.write_bytes(prepared.blob)
    model = onnx.load(str(graph))
    assert model.ir_version <= 10 and {o.domain: o.version for o in model.opset_import}[""] == OPSET
    batch = np.random.default_rng(0).uniform(-1, 1, (2, 224, 224, 3)).astype(np.float32)
    np.save(tmp_path / "batch.npy", batch)
    (tmp_path / "run_graph.py").write_text(RUN_GRAPH)
    done = subprocess.run([str(onnxruntime_python(version)), str(tmp_path / "run_graph.py"), str(graph),
                           str(tmp_path / "batch.npy"), str(tmp_path / "out.npy")],
                          env=clean_env(), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0 and done.stdout.strip() == version, done.stderr[-2000:]
    want = OnnxRuntimeEngine(prepared.blob, threads=1).predict(batch)
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"), want, rtol=1e-4, atol=1e-5)
