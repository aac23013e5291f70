"""Which setuptools builds the cluster wheel (this environment's only when it can), and where."""
from __future__ import annotations

import zipfile
from importlib.metadata import PackageNotFoundError
from pathlib import Path
from typing import Dict

import pytest

from bigfruits.aws.procedures import wheel
from bigfruits.locations import project_root


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
