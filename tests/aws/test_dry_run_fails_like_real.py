"""A dry run is the real command up to the sender: every local failure (no model, no wheel, no
notebook, a bad input or folder, no private key) stops a dry run with the very line the real
command prints, exit 2, and before either sends anything. The real command here has a real
boto3 session whose endpoint is a closed local port: any request would end in another line."""
from __future__ import annotations

import zipfile
from importlib.metadata import PackageNotFoundError
from pathlib import Path
from typing import List, Tuple

import pytest

from bigfruits.aws.procedures import node_files, wheel
from bigfruits.bench.local_servers import free_port
from bigfruits.cli import main
from tests.support.aws.stand_ins import REAL_CLUSTER_WHEEL, REAL_LOCAL_MODEL

pytestmark = pytest.mark.pure


@pytest.fixture
def account(tmp_path, monkeypatch) -> Path:
    """Credentials and a region, an endpoint nothing listens on, empty user folders."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"https://127.0.0.1:{free_port()}")
    for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"),
                        ("AWS_REGION", "eu-west-1"), ("XDG_CONFIG_HOME", str(tmp_path / "config")),
                        ("BIGFRUITS_CONFIG", str(tmp_path / "none.toml")),
                        ("BIGFRUITS_STATE_DIR", str(tmp_path / "state")),
                        ("KERAS_HOME", str(tmp_path / "keras")),
                        ("BIGFRUITS_CACHE_DIR", str(tmp_path / "cache"))):
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return tmp_path


def both(capsys, args: List[str]) -> Tuple[Tuple[int, str], Tuple[int, str]]:
    """(exit code, stderr) of ``bigfruits aws ARGS``, for real and with --dry-run."""
    found = []
    for dry in ([], ["--dry-run"]):
        code = main(["aws", "--bucket", "bf-bucket", *dry, *args])
        captured = capsys.readouterr()
        assert not captured.out.strip(), captured.out  # nothing printed as sent, either way
        found.append((code, captured.err.strip()))
    return found[0], found[1]


@pytest.mark.parametrize("args", [["create-cluster", "--yes"], ["run", "--yes"], ["submit"]],
                         ids=lambda a: a[0])
def test_no_model_on_this_machine(account, capsys, monkeypatch, args) -> None:
    monkeypatch.setattr(node_files, "local_model", REAL_LOCAL_MODEL)  # the real one, no weights here
    real, dry = both(capsys, args)
    assert real == dry and real[0] == 2, (real, dry)
    assert "the ImageNet weights are not on this machine yet" in real[1] and "fetch-weights" in real[1]


def test_bare_cluster_without_the_model_is_a_choice(account, capsys, monkeypatch) -> None:
    """--no-model: the same command starts a cluster for steps only (its dry run gets past the model)."""
    monkeypatch.setattr(node_files, "local_model", REAL_LOCAL_MODEL)
    assert main(["aws", "--dry-run", "--bucket", "bf-bucket", "create-cluster", "--yes", "--no-model"]) == 0
    assert '"RunJobFlow"' in capsys.readouterr().out


def test_no_wheel_to_install(account, capsys, monkeypatch) -> None:
    """Neither a checkout nor an installed distribution to make the nodes' wheel from."""
    monkeypatch.setattr(wheel, "cluster_wheel", REAL_CLUSTER_WHEEL)
    monkeypatch.setattr(wheel, "project_root", lambda: None)

    def not_installed(name):
        raise PackageNotFoundError(name)

    monkeypatch.setattr(wheel, "distribution", not_installed)
    for args in (["create-cluster", "--yes"], ["run", "--yes"]):
        real, dry = both(capsys, args)
        assert real == dry and real[0] == 2, (real, dry)
        assert "bigfruits is neither a checkout nor an installed package" in real[1] and "--wheel" in real[1]


def test_wheel_of_another_version(account, capsys, tmp_path) -> None:
    other = tmp_path / "bigfruits-0.0.1-py3-none-any.whl"
    with zipfile.ZipFile(other, "w") as archive:
        archive.writestr("bigfruits/__init__.py", "")
    real, dry = both(capsys, ["create-cluster", "--yes", "--wheel", str(other)])
    assert real == dry and real[0] == 2 and "is not bigfruits-" in real[1], (real, dry)


def test_no_notebook(account, capsys, tmp_path) -> None:
    real, dry = both(capsys, ["create-cluster", "--yes", "--notebook", str(tmp_path / "mine.ipynb")])
    assert real == dry and real[0] == 2 and "mine.ipynb not found" in real[1], (real, dry)


@pytest.mark.parametrize("args, needle", [
    (["run", "--yes", "--input", "/data/fruits"], "s3://"),
    (["submit", "--input", "s3a://bf-bucket/raw/"], "s3://bf-bucket/raw/"),
    (["upload-dataset", "/nowhere/fruits"], "not found"),
], ids=["run local input", "submit s3a input", "upload missing folder"])
def test_bad_input(account, capsys, args, needle) -> None:
    real, dry = both(capsys, args)
    assert real == dry and real[0] == 2 and needle in real[1], (real, dry)


def test_upload_of_a_folder_without_images(account, capsys, tmp_path) -> None:
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "README.md").write_text("no image here")
    real, dry = both(capsys, ["upload-dataset", str(tmp_path / "notes")])
    assert real == dry and real[0] == 2 and "has no images" in real[1], (real, dry)


def test_connect_without_the_private_key(account, capsys) -> None:
    real, dry = both(capsys, ["connect"])
    assert real == dry and real[0] == 2 and "create-keypair" in real[1], (real, dry)
