"""The README speaks to users: short, Quick start first, no maintainers' history; every
command and option documented (docs/cli.md, generated from the commands' own help, up to
date); every relative link leads somewhere."""
from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

from tests.support.paths import REPO

pytestmark = pytest.mark.pure

README = REPO / "README.md"
MAX_README_LINES = 250


def test_readme_is_short_and_opens_with_the_quick_start() -> None:
    text = README.read_text()
    assert len(text.splitlines()) <= MAX_README_LINES
    assert re.findall(r"^## (.+)$", text, re.M)[0] == "Quick start"
    block = text.split("## Quick start", 1)[1].split("```")[1]
    assert [line for line in block.splitlines()[1:] if line.strip()] == [
        "bash scripts/quickstart.sh", ".venv/bin/python -m pytest"]


def test_readme_tells_no_maintainers_history() -> None:
    text = README.read_text().lower()
    for word in ("issue", "target", "mutation score", "last round", "this round"):
        assert word not in text, word


def test_every_command_and_option_is_documented() -> None:
    spec = importlib.util.spec_from_file_location("cli_reference", REPO / "scripts" / "cli_reference.py")
    reference = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(reference)
    assert reference.OUT.read_text(encoding="utf-8") == reference.render(), \
        "docs/cli.md is out of date: run python scripts/cli_reference.py"
    documented = reference.OUT.read_text() + README.read_text()
    for option in ("--dry-run", "--no-model", "--wheel", "--notebook", "--model", "--no-wait", "--reuse"):
        assert f"`{option}" in documented, option


@pytest.mark.parametrize("page", ["README.md", *sorted(p.relative_to(REPO).as_posix()
                                                       for p in (REPO / "docs").glob("*.md"))])
def test_relative_links_lead_to_files_that_exist(page: str) -> None:
    path = REPO / page
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", path.read_text()):
        if re.match(r"^[a-z]+:", target):
            continue  # http(s), mailto
        assert (path.parent / target).exists(), f"{page}: {target}"
