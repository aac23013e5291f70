"""Config file, settings precedence, and the state file."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from bigfruits.aws.core.settings import build_settings, parse_forward, read_config
from bigfruits.aws.core.state import State
from bigfruits.errors import InputError


def test_config_file_then_command_line_wins(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("AWS_REGION", raising=False)
    config = tmp_path / "config.toml"
    config.write_text('[aws]\nproject = "p1"\nregion = "eu-west-3"\ncore_count = 4\n')
    settings = build_settings(read_config(config), {"region": "us-east-1", "project": None})
    assert (settings.project, settings.region, settings.core_count) == ("p1", "us-east-1", 4)


def test_unknown_config_key_is_reported(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[aws]\nregoin = "x"\n')
    with pytest.raises(InputError, match="unknown keys in \\[aws\\].*regoin"):
        read_config(config)


def test_state_path_is_per_profile_and_region(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("BIGFRUITS_STATE_DIR", str(tmp_path))
    a = build_settings({}, {"profile": "work", "region": "eu-west-1"}).state_path()
    b = build_settings({}, {"profile": "home", "region": "eu-west-1"}).state_path()
    assert a != b and a.parent == tmp_path


def test_state_path_is_per_project(monkeypatch, tmp_path: Path) -> None:
    """Protects project b's resources: two projects in one profile and region keep two state
    files, so ``destroy --project a`` never removes what b remembered (the default project's
    file keeps its old name)."""
    monkeypatch.setenv("BIGFRUITS_STATE_DIR", str(tmp_path))
    paths = [build_settings({}, {"region": "eu-west-1", **extra}).state_path()
             for extra in ({}, {"project": "a"}, {"project": "b"})]
    assert len(set(paths)) == 3 and {p.parent for p in paths} == {tmp_path}
    assert paths[0].name == "aws-default-eu-west-1.json"


def test_state_remembers_and_forgets(tmp_path: Path) -> None:
    path = tmp_path / "s" / "state.json"
    state = State(path)
    state.add("cluster", "j-1", flavor="jupyterhub")
    state.set("cluster", "j-1")
    again = State(path)
    assert again.ids("cluster") == ["j-1"] and again.attrs("cluster", "j-1") == {"flavor": "jupyterhub"}
    again.remove("cluster", "j-1")
    assert State(path).kinds() == []
    assert json.loads(path.read_text())["cluster"] == "j-1"


def test_dry_run_state_writes_nothing(tmp_path: Path) -> None:
    State(tmp_path / "state.json", dry_run=True).add("bucket", "b")
    assert not (tmp_path / "state.json").exists()


def test_parse_forward() -> None:
    assert parse_forward("9443") == (9443, 9443)
    assert parse_forward("19443:9443") == (19443, 9443)
    with pytest.raises(InputError):
        parse_forward("a:b")
