"""Which setuptools builds the cluster wheel (this environment's only when it can), and where."""
from __future__ import annotations

import base64
import hashlib
import zipfile
from importlib.metadata import PackageNotFoundError
from pathlib import Path
from typing import Dict

import pytest

from bigfruits.aws.procedures import wheel
from bigfruits.errors import EnvironmentProblem
from bigfruits.locations import project_root
from tests.support.aws.stand_ins import REAL_CLUSTER_WHEEL


@pytest.mark.parametrize(
    "installed, flags",
    [("84.2.1", ["--no-build-isolation"]), ("77.0.0", ["--no-build-isolation"]),
     ("65.5.0", []), ("not-a-version", [])],
)
def test_old_setuptools_builds_in_isolation(monkeypatch, installed, flags):
    monkeypatch.setattr(wheel, "version", lambda name: installed)
    assert wheel.isolation_flags() == flags


def test_missing_setuptools_builds_in_isolation(monkeypatch):
    def missing(name):
        raise PackageNotFoundError(name)

    monkeypatch.setattr(wheel, "version", missing)
    assert wheel.isolation_flags() == []


def _files(root: Path) -> Dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_wheel_is_built_out_of_tree_without_stale_build_leftovers(tmp_path, monkeypatch):
    """Protects the checkout and the wheel's contents: building writes nothing into the
    checkout (no build/, no *.egg-info), and a module left in an old build/lib, or an old
    egg-info's file list, does not enter the wheel."""
    checkout = tmp_path / "checkout"
    wheel.clean_source_copy(project_root(), checkout)
    stale = checkout / "build" / "lib" / "bigfruits" / "removed_long_ago.py"
    stale.parent.mkdir(parents=True)
    stale.write_text("STALE = True\n")
    egg = checkout / "src" / "bigfruits.egg-info"
    egg.mkdir()
    (egg / "SOURCES.txt").write_text("src/bigfruits/removed_long_ago.py\n")
    before = _files(checkout)
    monkeypatch.setattr(wheel, "project_root", lambda: checkout)

    built = wheel.build_wheel(tmp_path / "out")

    assert _files(checkout) == before
    with zipfile.ZipFile(built) as archive:
        names = archive.namelist()
    assert "bigfruits/aws/procedures/wheel.py" in names and "bigfruits/aws/node/bootstrap.sh" in names
    assert not [n for n in names if "removed_long_ago" in n or n.startswith("build/")]


def _installed_copy(built: Path, into: Path):
    """The wheel installed as pip installs it (bytecode compiled, INSTALLER and RECORD written)
    into a folder of its own; its Distribution."""
    import subprocess
    import sys
    from importlib.metadata import distributions

    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--target",
                    str(into), str(built)], check=True, capture_output=True, timeout=300)
    [dist] = [d for d in distributions(path=[str(into)]) if d.metadata["Name"] == "bigfruits"]
    return dist


def _wheel_files(path: Path) -> Dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {n: archive.read(n) for n in archive.namelist() if not n.endswith(".dist-info/RECORD")}


@pytest.fixture(scope="module")
def built_and_installed(tmp_path_factory):
    built = wheel.build_from_checkout(project_root(), tmp_path_factory.mktemp("built"))
    return built, _installed_copy(built, tmp_path_factory.mktemp("site"))


def test_installed_package_repacks_into_its_own_wheel_byte_for_byte(built_and_installed, tmp_path):
    """Protects the cloud path of an installed bigfruits: the wheel its nodes install is made
    from the installed files (no checkout needed), holds exactly the published wheel's files
    (no bytecode, nothing pip added), every RECORD hash right, and two repacks are the same
    bytes (the same wheelhouse key, uploaded once)."""
    built, dist = built_and_installed
    first = wheel.repack_installed(tmp_path / "a", dist)
    second = wheel.repack_installed(tmp_path / "b", dist)
    assert first.read_bytes() == second.read_bytes()
    assert _wheel_files(first) == _wheel_files(built)
    with zipfile.ZipFile(first) as archive:  # nothing of this machine's clock or umask
        assert {i.date_time for i in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        assert {i.external_attr >> 16 for i in archive.infolist()
                if not i.filename.endswith("/RECORD")} == {0o100644}  # RECORD: wheel's own mode
    with zipfile.ZipFile(first) as archive:
        record = archive.read(f"bigfruits-{dist.version}.dist-info/RECORD").decode()
        for line in record.splitlines():
            name, digest, size = line.rsplit(",", 2)
            if digest:
                data = archive.read(name)
                expected = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
                assert digest == f"sha256={expected}" and int(size) == len(data), name


def test_a_changed_installed_file_is_refused(built_and_installed, tmp_path):
    """An installed file that is not what pip installed (edited by hand) is not shipped to a
    cluster silently: one line saying to reinstall."""
    _, dist = built_and_installed
    target = Path(str(dist.locate_file("bigfruits/aws/node/bootstrap.sh")))
    original = target.read_bytes()
    try:
        target.write_bytes(original + b"# edited\n")
        with pytest.raises(EnvironmentProblem, match="differs from what pip installed"):
            wheel.repack_installed(tmp_path / "out", dist)
    finally:
        target.write_bytes(original)


def test_the_wheel_is_made_once_per_version_of_its_sources(monkeypatch, tmp_path):
    """Protects repeated commands (and dry runs) from rebuilding: cached under the digest of
    the sources; a changed source file makes a new one."""
    from bigfruits.aws.requests.emr.clusters import wheel_name

    checkout = wheel.clean_source_copy(project_root(), tmp_path / "checkout")
    monkeypatch.setattr(wheel, "project_root", lambda: checkout)
    monkeypatch.setenv("BIGFRUITS_CACHE_DIR", str(tmp_path / "cache"))
    builds = []

    def build(root, out_dir):
        builds.append(root)
        out_dir.mkdir(parents=True)
        (out_dir / wheel_name()).write_bytes(b"wheel %d" % len(builds))
        return out_dir / wheel_name()

    monkeypatch.setattr(wheel, "build_from_checkout", build)
    first = REAL_CLUSTER_WHEEL()
    assert REAL_CLUSTER_WHEEL() == first and len(builds) == 1
    (checkout / "src" / "bigfruits" / "aws" / "node" / "bootstrap.sh").write_text("# changed\n")
    changed = REAL_CLUSTER_WHEEL()
    assert changed != first and changed.read_bytes() == b"wheel 2" and len(builds) == 2
