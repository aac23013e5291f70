"""``tests.support.ci``: the one "under CI?" of the suite, and what a missing tool does."""
from __future__ import annotations

import pytest
from _pytest.outcomes import Failed, Skipped

from tests.support.ci import require_module, skip_or_fail, under_ci

pytestmark = pytest.mark.pure


@pytest.mark.parametrize("value, ci", [
    ("true", True), ("TRUE", True), ("1", True), ("yes", True), (" Yes ", True),
    ("", False), ("false", False), ("0", False), ("no", False),
])
def test_every_way_ci_services_say_ci_counts(value: str, ci: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", value)
    assert under_ci() is ci
    with pytest.raises(Failed if ci else Skipped) as stopped:
        skip_or_fail("no widget here")
    assert "no widget here" in str(stopped.value)
    assert ("must run in CI" in str(stopped.value)) is ci


def test_a_missing_module_skips_outside_ci_and_fails_under_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    assert require_module("json").dumps(1) == "1"
    with pytest.raises(Skipped, match="no_such_module_here is not installed"):
        require_module("no_such_module_here")
    monkeypatch.setenv("CI", "1")
    with pytest.raises(Failed, match="CI=1: this test must run in CI"):
        require_module("no_such_module_here")
