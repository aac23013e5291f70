"""What the nodes get from the user's machine (``node_files``, ``featurize/published``): the
wheelhouse's download and its tar, the published model's files, the notebook's model line,
and the one line a machine without the ImageNet weights gets."""
from __future__ import annotations

import json
import subprocess
import tarfile
import zipfile
from pathlib import Path
from typing import Any, Dict, List

import pytest

from bigfruits.aws.procedures import node_files
from bigfruits.aws.procedures.jupyterhub import notebook_path, with_model
from bigfruits.aws.procedures.node_files import build_wheelhouse as real_build_wheelhouse
from bigfruits.aws.procedures.node_files import local_model as real_local_model
from bigfruits.errors import EnvironmentProblem, InputError
from bigfruits.pipeline.featurize import published
from bigfruits.pipeline.featurize.engines import Prepared
from bigfruits.pipeline.featurize.model import WeightsInfo
from tests.support.aws.upload_bucket import UploadBucket

#: pure: no Spark, no moto, no network, no subprocess (mutmut runs these per mutant)
pytestmark = pytest.mark.pure


def test_the_wheelhouse_is_binary_wheels_for_the_nodes_python_under_the_constraints(tmp_path) -> None:
    command = node_files.download_command(Path("/w/bigfruits.whl"), Path("/c.txt"), tmp_path)
    assert command[1:4] == ["-m", "pip", "download"]
    assert command[command.index("--only-binary") + 1] == ":all:"
    assert command[command.index("--python-version") + 1] == "3.11"
    assert "manylinux2014_x86_64" in command and "manylinux_2_28_x86_64" in command
    assert command[command.index("-c") + 1] == "/c.txt" and command[-1] == "/w/bigfruits.whl[node]"


def test_the_wheelhouse_tar_is_the_same_bytes_for_the_same_wheels(tmp_path) -> None:
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    (wheels / "b-1-py3-none-any.whl").write_bytes(b"b")
    (wheels / "a-1-py3-none-any.whl").write_bytes(b"a")
    node_files.deterministic_tar(wheels, tmp_path / "one.tar")
    (wheels / "a-1-py3-none-any.whl").touch()  # another time: same content
    node_files.deterministic_tar(wheels, tmp_path / "two.tar")
    assert (tmp_path / "one.tar").read_bytes() == (tmp_path / "two.tar").read_bytes()


def _prepared(blob: bytes = b"graph") -> Prepared:
    return Prepared("onnxruntime", blob, WeightsInfo("random", "random", "ab" * 32, False), True)


def test_a_published_model_comes_back_with_its_identity() -> None:
    sha, graph, identity = published.files_of(_prepared())
    back = published.from_files("m/", graph, identity)
    assert back.weights == _prepared().weights and back.blob == b"graph" and back.engine == "onnxruntime"
    assert json.loads(identity)["graph_sha256"] == sha
    with pytest.raises(InputError, match="does not match"):
        published.from_files("m/", b"another graph", identity)
    other = json.loads(identity)
    other["preprocessing"] = "v0"
    with pytest.raises(InputError, match="preprocessing"):
        published.from_files("m/", graph, json.dumps(other).encode())


def test_no_imagenet_weights_here_is_one_line_saying_what_to_do(monkeypatch) -> None:
    monkeypatch.setattr("bigfruits.pipeline.featurize.engines.from_cache", lambda engine, weights, seed: None)
    monkeypatch.setattr("bigfruits.pipeline.featurize.model.describe_weights",
                        lambda weights, seed=0: ("imagenet", "keras", True, None))
    with pytest.raises(EnvironmentProblem) as raised:
        real_local_model("imagenet", 0)
    assert "bigfruits fetch-weights" in str(raised.value) and "\n" not in str(raised.value)


def test_the_placed_notebook_names_the_uploaded_model(tmp_path) -> None:
    committed = notebook_path()
    assert committed is not None
    copy = with_model(committed, "s3://b/models/abc/", tmp_path)
    cells = json.loads(copy.read_text())["cells"]
    [parameters] = [c for c in cells if "parameters" in c["metadata"].get("tags", [])]
    assert "model = 's3://b/models/abc/'" in "".join(parameters["source"])
    assert 'precision = "fp32"' in "".join(parameters["source"])
    int8 = with_model(committed, "s3://b/models/def/", tmp_path, "int8")
    [parameters] = [c for c in json.loads(int8.read_text())["cells"] if "parameters" in c["metadata"].get("tags", [])]
    assert "model = 's3://b/models/def/'" in "".join(parameters["source"])
    assert "precision = 'int8'" in "".join(parameters["source"])


def test_the_model_and_the_wheelhouse_are_uploaded_once_under_their_content(tmp_path) -> None:
    ctx = UploadBucket()
    first = node_files.upload_model(ctx, "random", 3)
    again = node_files.upload_model(ctx, "random", 3)
    assert first == again and first.startswith("s3://b/models/") and len(ctx.uploads) == 2
    assert sorted(k.rsplit("/", 1)[1] for k in ctx.uploads) == ["model.json", "model.onnx"]
    wheel = tmp_path / "bigfruits-0.1.0-py3-none-any.whl"
    wheel.write_bytes(b"a wheel")
    house = node_files.upload_wheelhouse(ctx, wheel)
    assert node_files.upload_wheelhouse(ctx, wheel) == house and len(ctx.uploads) == 3
    assert house == f"s3://b/wheelhouse/{node_files.file_sha256(tmp_path / 'wheelhouse.tar')}.tar"
    args = node_files.step_model_args(ctx, ["--k", "5", "--weights", "random", "--seed", "3"])
    assert args[-2:] == ["--model", first] and len(ctx.uploads) == 3
    assert node_files.step_model_args(ctx, ["--model", "s3://b/m/"]) == ["--model", "s3://b/m/"]
    assert node_files.step_model_args(ctx, ["--engine", "tensorflow"]) == ["--engine", "tensorflow"]


def write_wheel(path: Path, files: Dict[str, str], when: tuple = (2020, 1, 1, 0, 0, 0),
                requires: tuple = ("numpy",)) -> Path:
    """A wheel (a zip) holding ``files`` and the METADATA the wheelhouse's closure reads (its
    ``Requires-Dist``: ``requires``), each stamped ``when``."""
    name, version = path.name.split("-")[:2]
    metadata = "".join(f"{line}\n" for line in (
        "Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}", *(f"Requires-Dist: {r}" for r in requires)))
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as archive:
        for member, text in {**files, f"{name}-{version}.dist-info/METADATA": metadata}.items():
            archive.writestr(zipfile.ZipInfo(member, when), text)
    return path


class PipDownload:
    """Stands in for ``pip download`` (PyPI cannot be asked per test): writes one dependency
    wheel into the ``-d`` folder of the command it is given, and records each command."""

    def __init__(self) -> None:
        self.commands: List[List[str]] = []

    def __call__(self, command: List[str], **kwargs: Any) -> subprocess.CompletedProcess:
        self.commands.append(command)
        into = Path(command[command.index("-d") + 1])
        into.mkdir(parents=True)
        write_wheel(into / "numpy-1.26.4-cp311-cp311-manylinux_2_17_x86_64.whl", {}, requires=())
        return subprocess.CompletedProcess(command, 0, "", "")


@pytest.fixture
def pip_download(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> PipDownload:
    monkeypatch.setenv("BIGFRUITS_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(node_files, "build_wheelhouse", real_build_wheelhouse)
    fake = PipDownload()
    monkeypatch.setattr(node_files.subprocess, "run", fake)
    return fake


WHEEL = "bigfruits-0.1.0-py3-none-any.whl"


def test_new_code_under_the_same_file_names_gets_a_new_wheelhouse_in_the_bucket(
        tmp_path: Path, pip_download: PipDownload) -> None:
    """Protects against stale code on the nodes: the cached wheelhouse is keyed on what the
    wheel *holds*, so a wheel whose files changed but not their names makes a new wheelhouse
    (downloaded again, with the new wheel in it), uploaded under a new name; the same files
    zipped again at another time reuse the cached one."""
    constraints = tmp_path / "constraints.txt"
    constraints.write_text("numpy<2\n")
    old = write_wheel(tmp_path / "old" / WHEEL, {"bigfruits/__init__.py": "VERSION = 1", "bigfruits/x.py": ""})
    new = write_wheel(tmp_path / "new" / WHEEL, {"bigfruits/__init__.py": "VERSION = 2", "bigfruits/x.py": ""})
    same = write_wheel(tmp_path / "same" / WHEEL, {"bigfruits/__init__.py": "VERSION = 1", "bigfruits/x.py": ""},
                       when=(2024, 5, 6, 7, 8, 10))
    first = node_files.build_wheelhouse(old, constraints)
    assert node_files.build_wheelhouse(same, constraints) == first and len(pip_download.commands) == 1
    second = node_files.build_wheelhouse(new, constraints)
    assert second != first and len(pip_download.commands) == 2
    with tarfile.open(second) as tar:
        assert tar.extractfile(WHEEL).read() == new.read_bytes()  # type: ignore[union-attr]
        assert sorted(tar.getnames()) == [WHEEL, "numpy-1.26.4-cp311-cp311-manylinux_2_17_x86_64.whl"]
    ctx = UploadBucket()
    keys = [node_files.upload_wheelhouse(ctx, wheel) for wheel in (old, same, new)]
    assert keys[0] == keys[1] != keys[2] and len(set(ctx.uploads)) == 2


def test_other_constraints_or_extras_make_another_wheelhouse(tmp_path: Path, pip_download: PipDownload) -> None:
    wheel = write_wheel(tmp_path / WHEEL, {"bigfruits/__init__.py": ""})
    one, two = tmp_path / "one.txt", tmp_path / "two.txt"
    one.write_text("numpy<2\n")
    two.write_text("numpy<1.27\n")
    made = {node_files.build_wheelhouse(wheel, one), node_files.build_wheelhouse(wheel, two),
            node_files.build_wheelhouse(wheel, one, extras="node,tf")}
    assert len(made) == 3 and len(pip_download.commands) == 3
    assert pip_download.commands[2][-1].endswith(f"{WHEEL}[node,tf]")


def test_a_failed_download_is_one_line_and_caches_nothing(tmp_path: Path, pip_download: PipDownload,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    def refused(command: List[str], **kwargs: Any) -> subprocess.CompletedProcess:
        return subprocess.CompletedProcess(command, 1, "", "Collecting numpy\nERROR: No matching distribution for numpy<0\n")

    monkeypatch.setattr(node_files.subprocess, "run", refused)
    constraints = tmp_path / "c.txt"
    constraints.write_text("numpy<0\n")
    with pytest.raises(EnvironmentProblem) as failed:
        node_files.build_wheelhouse(write_wheel(tmp_path / WHEEL, {"a": ""}), constraints)
    assert failed.value.what == ("downloading the packages for Python 3.11 failed: "
                                 "ERROR: No matching distribution for numpy<0")
    assert list((tmp_path / "cache" / "wheelhouse").iterdir()) == []


def test_a_new_graph_for_the_same_weights_is_uploaded_to_a_new_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    """Protects against a stale model on the nodes: the model's folder is named by the graph
    it holds, not by its weights, so a graph exported again (another opset, a fixed export)
    for the same weights is uploaded, and the step gets the new folder."""
    weights = WeightsInfo("random", "random", "cd" * 32, False)
    graphs = [b"graph exported by tf2onnx 1.16", b"graph exported by tf2onnx 1.17"]
    monkeypatch.setattr(node_files, "local_model",
                        lambda *args: Prepared("onnxruntime", graphs[0], weights, True))
    ctx = UploadBucket()
    first = node_files.upload_model(ctx, "random", 0)
    graphs.pop(0)
    second = node_files.upload_model(ctx, "random", 0)
    assert first != second and len(ctx.uploads) == 4
    assert ctx.keys[second.split("s3://b/", 1)[1] + "model.onnx"] == b"graph exported by tf2onnx 1.17"
    assert node_files.step_model_args(ctx, ["--weights", "random"]) == ["--weights", "random", "--model", second]


@pytest.mark.parametrize("args, expected", [
    (["--weights", "random", "--seed", "7"], ("random", 7)),
    (["--weights=random", "--seed=7"], ("random", 7)),
    (["--weights", "a", "--weights", "random"], ("random", 0)),  # the last one wins, as click reads it
    (["--k", "5"], ("imagenet", 0)),
    (["--weights"], ("imagenet", 0)),  # no value after it: not an option value
])
def test_the_steps_model_follows_its_weights_and_seed(args: List[str], expected: tuple,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    asked: List[tuple] = []
    monkeypatch.setattr(node_files, "upload_model", lambda ctx, weights, seed, *rest: asked.append((weights, seed)) or "s3://b/m/")
    assert node_files.step_model_args(UploadBucket(), args) == [*args, "--model", "s3://b/m/"]
    assert asked == [expected]


@pytest.mark.parametrize("args", [["--model", "s3://b/m/"], ["--model=s3://b/m/"], ["--engine", "tensorflow"],
                                  ["--engine=tensorflow", "--k", "3"]])
def test_a_step_naming_its_model_or_the_tensorflow_engine_uploads_nothing(args: List[str],
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(node_files, "upload_model", lambda *a: pytest.fail("no model to upload"))
    assert node_files.step_model_args(UploadBucket(), args) == args


def test_a_dry_run_makes_the_same_files_and_prints_their_uploads(monkeypatch: pytest.MonkeyPatch,
                                                                  tmp_path: Path) -> None:
    """A dry run finds or exports the same graph and builds the same wheelhouse as a real run
    (so it fails where the real command would), and prints the uploads: keys named by the real
    digests, bodies by their size and file name."""
    import hashlib
    import io

    from bigfruits.aws.core.context import AwsContext, Injected
    from bigfruits.aws.core.send import DryRunSender
    from bigfruits.aws.core.settings import AwsSettings
    from bigfruits.aws.core.state import State

    graph = b"graph bytes of this test"
    monkeypatch.setattr(node_files, "local_model", lambda *args: _prepared(graph))
    tar = tmp_path / "wheelhouse.tar"
    tar.write_bytes(b"wheelhouse of this test")
    monkeypatch.setattr(node_files, "build_wheelhouse", lambda wheel, **k: tar)
    out = io.StringIO()
    ctx = AwsContext(AwsSettings(bucket="bkt", region="eu-west-1"), DryRunSender(out),
                     State(Path("/nonexistent/state.json"), dry_run=True), Injected())
    model_sha = hashlib.sha256(graph).hexdigest()
    tar_sha = hashlib.sha256(tar.read_bytes()).hexdigest()
    assert node_files.upload_model(ctx) == f"s3://bkt/models/{model_sha}/"
    assert node_files.upload_wheelhouse(ctx, Path("w.whl")) == f"s3://bkt/wheelhouse/{tar_sha}.tar"
    sent = [json.loads(line) for line in out.getvalue().splitlines()]
    puts = [r["params"] for r in sent if r["operation"] == "PutObject"]
    assert [p["Key"] for p in puts] == [f"models/{model_sha}/model.onnx", f"models/{model_sha}/model.json",
                                        f"wheelhouse/{tar_sha}.tar"]
    assert puts[0]["Body"] == f"<{len(graph)} bytes of model.onnx>"
    assert puts[2]["Body"] == f"<{len(tar.read_bytes())} bytes of wheelhouse.tar>"


def test_a_cached_model_is_not_exported_again(monkeypatch: pytest.MonkeyPatch) -> None:
    cached = _prepared(b"cached graph")
    monkeypatch.setattr("bigfruits.pipeline.featurize.engines.from_cache", lambda engine, weights, seed: cached)
    monkeypatch.setattr("bigfruits.pipeline.featurize.engines.prepare", lambda *a: pytest.fail("exported again"))
    assert real_local_model("imagenet", 0) is cached
    exported = _prepared(b"new export")
    monkeypatch.setattr("bigfruits.pipeline.featurize.engines.from_cache", lambda engine, weights, seed: None)
    monkeypatch.setattr("bigfruits.pipeline.featurize.engines.prepare",
                        lambda engine, weights, seed: exported if (engine, weights, seed) == ("onnxruntime", "random", 4)
                        else pytest.fail(f"asked for {engine} {weights} {seed}"))
    assert real_local_model("random", 4) is exported
def test_an_int8_model_is_published_with_its_precision_and_report() -> None:
    report = {"precision": "int8", "quantizer": "q-v1", "calibration": {"sha256": "c" * 64},
              "kept_fp32": ["Conv__349"], "fidelity": {"held_out": {"cosine_mean": 0.99}}}
    quantized = Prepared("onnxruntime", b"int8 graph", _prepared().weights, True, report)
    sha, graph, identity = published.files_of(quantized)
    assert json.loads(identity)["precision"] == "int8"
    back = published.from_files("m/", graph, identity)
    assert back.precision == "int8" and back.quantization == report and back.variant == quantized.variant
    fp32 = published.from_files("m/", *published.files_of(_prepared())[1:])
    assert fp32.precision == "fp32" and fp32.quantization is None
    older = json.loads(published.files_of(_prepared())[2])
    del older["precision"]  # a model.json from before int8: fp32
    assert published.from_files("m/", b"graph", json.dumps(older).encode()).precision == "fp32"
    broken = json.loads(identity)
    del broken["quantization"]
    with pytest.raises(InputError, match="not a bigfruits model identity"):
        published.from_files("m/", graph, json.dumps(broken).encode())


def test_the_calibration_option_is_taken_out_in_both_spellings() -> None:
    assert node_files.without_option(["--k", "5", "--calibration", "a", "--calibration=b", "--x"],
                                     "--calibration") == ["--k", "5", "--x"]
