"""What the nodes get from the user's machine (``node_files``, ``featurize/published``): the
wheelhouse's download and its tar, the published model's files, the notebook's model line,
and the one line a machine without the ImageNet weights gets."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from bigfruits.aws.core.send import Sender
from bigfruits.aws.procedures import node_files
from bigfruits.aws.procedures.jupyterhub import notebook_path, with_model
from bigfruits.aws.procedures.node_files import local_model as real_local_model
from bigfruits.errors import EnvironmentProblem, InputError
from bigfruits.pipeline.featurize import published
from bigfruits.pipeline.featurize.engines import Prepared
from bigfruits.pipeline.featurize.model import WeightsInfo
from tests.support.paths import SAMPLE


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


class _Bucket(Sender):
    """Just enough of an AwsContext for uploads: a bucket's keys, and what was uploaded (a real
    ``Sender`` whose ``send`` answers ListObjectsV2 from those keys)."""

    dry_run = False

    def __init__(self) -> None:
        super().__init__(session=None)
        self.keys: dict = {}
        self.uploads: list = []
        self.sender = self

    def bucket(self) -> str:
        return "b"

    def send(self, request):  # ListObjectsV2 only
        prefix = request.params["Prefix"]
        return {"Contents": [{"Key": k, "Size": 1, "ETag": "x"} for k in self.keys if k.startswith(prefix)]}

    def upload_file(self, path: str, bucket: str, key: str) -> None:
        self.uploads.append(key)
        self.keys[key] = Path(path).read_bytes()

    def echo(self, line: str) -> None:
        pass


def test_the_model_and_the_wheelhouse_are_uploaded_once_under_their_content(tmp_path) -> None:
    ctx = _Bucket()
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


def test_a_step_with_int8_uploads_the_int8_graph_made_here(trained_int8, trained_weights, tmp_path,
                                                           monkeypatch) -> None:
    """``--precision int8`` in a step's arguments: the int8 graph (from this machine's cache,
    calibrated on ``--calibration``) goes to its own models/<sha256>/ folder; the step keeps
    ``--precision`` (the node checks the graph is int8) but not ``--calibration``, a folder of
    this machine the node does not have."""
    import shutil

    monkeypatch.setattr(node_files, "local_model", real_local_model)  # the graphs made here
    fp32, quantized = trained_int8
    ctx = _Bucket()
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


def test_the_calibration_option_is_taken_out_in_both_spellings() -> None:
    assert node_files.without_option(["--k", "5", "--calibration", "a", "--calibration=b", "--x"],
                                     "--calibration") == ["--k", "5", "--x"]
