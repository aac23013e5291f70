"""Which setuptools builds the cluster wheel: this environment's only when it can."""
from __future__ import annotations

from importlib.metadata import PackageNotFoundError

import pytest

from bigfruits.aws.commands import wheel


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
