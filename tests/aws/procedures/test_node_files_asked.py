"""What ``node_files`` asks of pip, of the model code and of the user, exactly: the download
command and how it is run, the lines it says, the model it asks for (weights, seed, precision,
calibration) at each entry point. Pure: pip and the model code are replaced by recorders (pip
cannot be asked per test; the model's export is TensorFlow), each said where it is used."""
from __future__ import annotations

import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any, List

import pytest

from bigfruits.aws.procedures import node_files
from bigfruits.aws.procedures.node_files import build_wheelhouse as real_build_wheelhouse
from bigfruits.aws.procedures.node_files import local_model as real_local_model
from bigfruits.errors import EnvironmentProblem
from bigfruits.pipeline.featurize.engines import Prepared
from bigfruits.pipeline.featurize.model import WeightsInfo
from tests.aws.procedures.test_node_files import WHEEL, PipDownload, write_wheel
from tests.support.aws.upload_bucket import UploadBucket

pytestmark = pytest.mark.pure

PLATFORMS = ["--platform", "manylinux2014_x86_64", "--platform", "manylinux_2_17_x86_64",
             "--platform", "manylinux_2_28_x86_64"]


def test_the_download_command_is_pips_for_binary_cpython_wheels_of_every_node_platform() -> None:
    """Protects the nodes' wheelhouse: a misspelt pip option makes pip refuse the command, a
    wrong ``--implementation`` picks wheels the nodes' CPython cannot install."""
    assert node_files.download_command(Path("/w/b.whl"), Path("/c.txt"), Path("/into"), "node", "3.9",
                                       ["tomli>=2"]) == [
        sys.executable, "-m", "pip", "download", "-q", "--only-binary", ":all:", *PLATFORMS,
        "--python-version", "3.9", "--implementation", "cp", "-d", "/into", "-c", "/c.txt",
        "/w/b.whl[node]", "tomli>=2"]


class Recorded:
    """Stands in for ``subprocess.run`` of ``pip download`` (no PyPI per test): records the
    command and its keywords, answers ``returncode``/``stderr``."""

    def __init__(self, returncode: int = 0, stderr: str = "") -> None:
        self.calls: List[tuple] = []
        self.returncode, self.stderr = returncode, stderr

    def __call__(self, command: List[str], **kwargs: Any) -> subprocess.CompletedProcess:
        self.calls.append((command, kwargs))
        return subprocess.CompletedProcess(command, self.returncode, "", self.stderr)


def test_pip_download_runs_with_its_arguments_captured_as_text_and_bounded_in_time(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Protects the one line a failed download gives (its stderr must be captured, as text) and
    a hung index (the timeout); our wheel is put beside the downloaded ones."""
    run = Recorded()
    monkeypatch.setattr(node_files.subprocess, "run", run)
    wheel, into = write_wheel(tmp_path / WHEEL, {"a": ""}), tmp_path / "into"
    into.mkdir()
    node_files.download_wheels(wheel, tmp_path / "c.txt", "node", "3.9", ["tomli>=2"], into)
    assert run.calls == [(node_files.download_command(wheel, tmp_path / "c.txt", into, "node", "3.9", ["tomli>=2"]),
                          {"capture_output": True, "text": True, "timeout": node_files.DOWNLOAD_TIMEOUT_S})]
    assert (into / WHEEL).read_bytes() == wheel.read_bytes()


@pytest.mark.parametrize("stderr, last", [("", "no output"), ("Collecting a\nERROR: one\nERROR: last\n", "ERROR: last")])
def test_a_failed_download_says_pips_last_line_and_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              stderr: str, last: str) -> None:
    monkeypatch.setattr(node_files.subprocess, "run", Recorded(1, stderr))
    with pytest.raises(EnvironmentProblem) as failed:
        node_files.download_wheels(tmp_path / WHEEL, tmp_path / "c.txt", "node", "3.11", [], tmp_path)
    assert failed.value.what == f"downloading the packages for Python 3.11 failed: {last}"
    assert failed.value.todo == "this machine needs PyPI (or your index) once; the nodes never do"


def test_a_wheelhouse_is_made_in_the_cache_for_its_python_saying_so(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Protects the cache key's Python (a 3.9 wheelhouse is not a 3.11 one), the constraints
    reaching pip, the line said while downloading, and a scratch folder inside the cache
    (``os.replace`` into the cache cannot cross file systems)."""
    monkeypatch.setenv("BIGFRUITS_CACHE_DIR", str(tmp_path / "cache"))
    pip = PipDownload()
    monkeypatch.setattr(node_files.subprocess, "run", pip)
    constraints = tmp_path / "c.txt"
    constraints.write_text("numpy<2\n")
    wheel = write_wheel(tmp_path / WHEEL, {"a": ""})
    said: List[str] = []
    for_311 = real_build_wheelhouse(wheel, constraints, echo=said.append)
    for_39 = real_build_wheelhouse(wheel, constraints, python_version="3.9")
    assert for_311 != for_39 and for_311.parent == for_39.parent == tmp_path / "cache" / "wheelhouse"
    assert [c[c.index("--python-version") + 1] for c in pip.commands] == ["3.11", "3.9"]
    assert {c[c.index("-c") + 1] for c in pip.commands} == {str(constraints)}
    scratch = Path(pip.commands[0][pip.commands[0].index("-d") + 1]).parent
    assert scratch.parent == tmp_path / "cache" / "wheelhouse" and scratch.name.startswith("bigfruits-wheelhouse-")
    assert said == ["downloading the packages for CPython 3.11, manylinux x86_64, into a wheelhouse "
                    "(once per version of bigfruits)"]


def test_the_wheelhouse_tar_members_carry_no_time_and_one_mode(tmp_path: Path) -> None:
    (tmp_path / "w").mkdir()
    (tmp_path / "w" / "a-1-py3-none-any.whl").write_bytes(b"a")
    node_files.deterministic_tar(tmp_path / "w", tmp_path / "w.tar")
    with tarfile.open(tmp_path / "w.tar") as tar:
        assert [(m.name, m.mtime, m.mode, m.size) for m in tar.getmembers()] == [("a-1-py3-none-any.whl", 0, 0o644, 1)]


def test_uploading_a_wheelhouse_says_it_is_downloading(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    said: List[str] = []
    ctx = UploadBucket()
    monkeypatch.setattr(ctx, "echo", said.append)
    tar = tmp_path / "w.tar"
    tar.write_bytes(b"t")
    monkeypatch.setattr(node_files, "build_wheelhouse", lambda wheel, echo: echo("downloading") or tar)
    node_files.upload_wheelhouse(ctx, tmp_path / WHEEL)
    assert said == ["downloading"]


def test_missing_imagenet_weights_are_one_line_saying_what_to_do() -> None:
    problem = node_files.no_weights_yet()
    assert problem.what == "the ImageNet weights are not on this machine yet, so there is no model to upload"
    assert problem.todo == "run `bigfruits fetch-weights` once (needs internet here, never on the cluster)"


def _prepared(blob: bytes = b"graph") -> Prepared:
    return Prepared("onnxruntime", blob, WeightsInfo("random", "random", "ab" * 32, False), True)


def test_the_local_model_is_asked_for_its_weights_seed_precision_and_calibration(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Protects the graph the nodes get: the cache and the export are asked for these weights
    and this seed, int8 is made with this calibration and says so through ``echo``; only the
    ImageNet weights are looked for on disk (random weights need none)."""
    asked: List[tuple] = []
    made = _prepared()
    monkeypatch.setattr("bigfruits.pipeline.featurize.engines.from_cache",
                        lambda *a: asked.append(("cache", *a)) and None)
    monkeypatch.setattr("bigfruits.pipeline.featurize.engines.prepare", lambda *a: asked.append(("export", *a)) or made)
    monkeypatch.setattr("bigfruits.pipeline.featurize.model.describe_weights",
                        lambda *a: asked.append(("weights", *a)) or ("x", "y", True, None))
    monkeypatch.setattr("bigfruits.pipeline.featurize.int8.for_precision",
                        lambda *a: asked.append(("precision", *a)) or a[0])
    say = print
    assert real_local_model("random", 5, "int8", "/calib", say) is made
    assert asked == [("cache", "onnxruntime", "random", 5), ("export", "onnxruntime", "random", 5),
                     ("precision", made, "int8", "/calib", say)]
    asked.clear()
    monkeypatch.setattr("bigfruits.pipeline.featurize.model.describe_weights",
                        lambda *a: asked.append(("weights", *a)) or ("x", "y", True, "/w.h5"))
    real_local_model("imagenet", 2)
    assert asked[1] == ("weights", "imagenet", 2)


def test_upload_model_asks_for_imagenet_seed_0_fp32_by_default_and_says_where(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: List[tuple] = []
    ctx = UploadBucket()
    said: List[str] = []
    monkeypatch.setattr(ctx, "echo", said.append)
    monkeypatch.setattr(node_files, "local_model", lambda *a: asked.append(a) or _prepared())
    uri = node_files.upload_model(ctx)
    node_files.upload_model(ctx, "random", 4, "int8", "/calib")
    assert asked == [("imagenet", 0, "fp32", None, said.append), ("random", 4, "int8", "/calib", said.append)]
    sha = uri.rstrip("/").rsplit("/", 1)[1]
    assert said[0] == f"model {sha[:12]}… (random weights, fp32) at s3://b/models/{sha}/"


def test_a_steps_precision_and_calibration_choose_its_model_and_the_calibration_stays_here(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """``--calibration`` is a folder of this machine: it makes the int8 graph here and is taken
    out of the step's arguments (with ``=`` in its value kept whole)."""
    asked: List[tuple] = []
    monkeypatch.setattr(node_files, "upload_model", lambda ctx, *a: asked.append(a) or "s3://b/m/")
    args = ["--precision", "int8", "--calibration=/data/a=b", "--k", "3"]
    assert node_files.step_model_args(UploadBucket(), args) == ["--precision", "int8", "--k", "3", "--model", "s3://b/m/"]
    assert asked == [("imagenet", 0, "int8", "/data/a=b")]


def test_checking_a_steps_model_makes_it_here_unless_the_step_names_one(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: List[tuple] = []
    monkeypatch.setattr(node_files, "local_model", lambda *a: asked.append(a))
    node_files.check_step_model(["--weights", "random", "--precision=int8"])
    node_files.check_step_model(["--model", "s3://b/m/"])
    assert asked == [("random", 0, "int8", None)]
