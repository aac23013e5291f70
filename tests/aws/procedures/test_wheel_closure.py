"""The closure a *target* Python installs, read from the wheels' metadata (pip reads markers for
the Python running it: a wheelhouse "for 3.9" made from 3.11 lacked tomli, importlib-resources
and the urllib3<1.27 botocore wants on 3.9). Wheels written by the test: only METADATA matters."""
from __future__ import annotations

import zipfile
from pathlib import Path
from typing import List, Sequence

import pytest

from bigfruits.aws.procedures import wheel_closure
from bigfruits.errors import EnvironmentProblem

pytestmark = pytest.mark.pure


def wheel(folder: Path, name: str, version: str, *requires: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}-{version}-py3-none-any.whl"
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    lines += [f"Requires-Dist: {r}" for r in requires]
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(f"{name}-{version}.dist-info/METADATA", "\n".join(lines) + "\n")
    return path


def ours(folder: Path) -> None:
    wheel(folder, "bigfruits", "0.1.0", "numpy>=1.23", 'tomli>=2; python_version < "3.11"',
          'onnxruntime>=1.17; extra == "node"', 'tensorflow>=2.16; extra == "tf"', "botocore")
    wheel(folder, "numpy", "1.26.4")
    wheel(folder, "onnxruntime", "1.19.2", "numpy>=1.21")
    wheel(folder, "botocore", "1.42.0", 'urllib3<1.27,>=1.25.4; python_version < "3.10"',
          'urllib3!=2.2.0,<3,>=1.25.4; python_version >= "3.10"')


def names(paths: Sequence[Path]) -> List[str]:
    return [p.name.split("-")[0] + "-" + p.name.split("-")[1] for p in paths]


def test_markers_are_read_for_the_target(tmp_path: Path) -> None:
    ours(tmp_path)
    wheel(tmp_path, "urllib3", "2.6.3")
    for_39 = wheel_closure.closure(tmp_path, "bigfruits[node]", "3.9")
    assert sorted(for_39.missing) == ["tomli>=2", "urllib3<1.27,>=1.25.4"]
    for_311 = wheel_closure.closure(tmp_path, "bigfruits[node]", "3.11")
    assert for_311.missing == []
    assert names(for_311.wheels) == ["bigfruits-0.1.0", "botocore-1.42.0", "numpy-1.26.4", "onnxruntime-1.19.2",
                                     "urllib3-2.6.3"]


def test_an_extra_not_asked_for_is_left_out(tmp_path: Path) -> None:
    ours(tmp_path)
    wheel(tmp_path, "urllib3", "2.6.3")
    assert "tensorflow" not in " ".join(wheel_closure.closure(tmp_path, "bigfruits[node]", "3.11").missing)
    assert not [n for n in names(wheel_closure.closure(tmp_path, "bigfruits", "3.11").wheels) if "onnxruntime" in n]


def test_the_newest_fitting_version_is_taken_and_a_conflict_named(tmp_path: Path) -> None:
    ours(tmp_path)
    wheel(tmp_path, "urllib3", "2.6.3")
    wheel(tmp_path, "urllib3", "1.26.20")
    wheel(tmp_path, "tomli", "2.5.0")
    found = wheel_closure.closure(tmp_path, "bigfruits[node]", "3.9")
    assert found.missing == [] and "urllib3-1.26.20" in names(found.wheels)
    assert "urllib3-2.6.3" not in names(found.wheels)
    wheel(tmp_path, "extra", "1.0", "urllib3>=2")  # urllib3 chosen already: <1.27 and >=2 cannot both hold
    wheel(tmp_path, "bigfruits", "0.2.0", "botocore", "extra", 'tomli; python_version < "3.11"')
    assert wheel_closure.closure(tmp_path, "bigfruits", "3.9").missing


def test_complete_downloads_again_with_what_the_target_lacked(tmp_path: Path) -> None:
    """``download`` stands for pip download: it brings what pip's own resolution brings (here
    the 3.11 closure), plus the requirements it is given."""
    asked: List[List[str]] = []

    def download(more: Sequence[str], into: Path) -> None:
        asked.append(list(more))
        ours(into)
        wheel(into, "urllib3", "1.26.20" if any(m.startswith("urllib3") for m in more) else "2.6.3")
        if any(m.startswith("tomli") for m in more):
            wheel(into, "tomli", "2.5.0")

    folder, found = wheel_closure.complete("bigfruits[node]", "3.9", download, tmp_path)
    assert asked == [[], ["tomli>=2", "urllib3<1.27,>=1.25.4"]]
    assert folder == tmp_path / "round-1" and found.missing == []
    assert "tomli-2.5.0" in names(found.wheels) and "urllib3-1.26.20" in names(found.wheels)


def test_complete_gives_up_in_one_line(tmp_path: Path) -> None:
    with pytest.raises(EnvironmentProblem, match="stay incomplete: tomli>=2, urllib3<1.27"):
        wheel_closure.complete("bigfruits", "3.9", lambda more, into: ours(into), tmp_path)
