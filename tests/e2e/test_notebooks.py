"""The two notebooks: generated from one source, valid in sparkmagic's PySpark kernel (checked
here without running them), and what every execution of them must produce (``check_run``).

Where they run on EMR: JupyterHub and EMR Studio both run them in sparkmagic's PySpark kernel,
which sends each plain cell to a Livy session on the cluster (the Spark driver) and runs the
``%`` magics itself. So both notebooks have that kernel and the same code cells. They are
executed in ``tests/e2e/test_notebooks_livy.py``: papermill -> sparkmagic's PySpark kernel -> a
real Apache Livy 0.9 -> Spark 3.5 local, the sessions on a node's Python (CI included).
"""
from __future__ import annotations

import ast
import importlib.util
import json
from pathlib import Path
from typing import Any, Dict, List

import nbformat
import pytest

from bigfruits.locations import NOTEBOOKS_DIR
from tests.support.paths import REPO

#: The notebooks as shipped (package data), and their one source with its generator.
NOTEBOOKS = NOTEBOOKS_DIR
NOTEBOOK_SOURCE = REPO / "notebooks"
FLAVOR_FILES = {"jupyterhub": "bigfruits-jupyterhub.ipynb", "emr-studio": "bigfruits-emr-studio.ipynb"}
#: The sparkmagic magics the notebooks may use (sparkmagic's KernelMagics: ``configure``, ``info``
#: and ``matplot``, which asks Livy's Python REPL for the current figure as a PNG).
SPARKMAGIC_MAGICS = ("%%configure", "%%info", "%matplot")


def _load(name: str, path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


def _read(flavor: str) -> nbformat.NotebookNode:
    return nbformat.read(NOTEBOOKS / FLAVOR_FILES[flavor], as_version=4)


def _code(notebook: nbformat.NotebookNode) -> List[str]:
    return [c.source for c in notebook.cells if c.cell_type == "code"]


def test_committed_notebooks_are_what_the_source_generates() -> None:
    build = _load("notebooks_build", NOTEBOOK_SOURCE / "build.py")
    assert build.stale_notebooks() == []
    assert set(build.FLAVORS.values()) == set(FLAVOR_FILES.values())
    assert sorted(p.name for p in (NOTEBOOK_SOURCE / "src").iterdir()) == ["bigfruits.md"]


def test_both_notebooks_use_the_pyspark_kernel_with_the_same_code_cells() -> None:
    hub, studio = _read("jupyterhub"), _read("emr-studio")
    for notebook in (hub, studio):
        assert dict(notebook.metadata.kernelspec) == {
            "name": "pysparkkernel", "display_name": "PySpark", "language": "python"}
    assert _code(hub) == _code(studio)
    assert [c.metadata.get("tags", []) for c in hub.cells if c.cell_type == "code"] == \
        [c.metadata.get("tags", []) for c in studio.cells if c.cell_type == "code"]
    assert hub.cells[0].source != studio.cells[0].source  # each says how it is reached


def test_every_code_cell_is_valid_in_the_pyspark_kernel() -> None:
    """Magic cells are sparkmagic's; every other cell is plain Python for the Livy session (no
    IPython-only syntax, nothing the session lacks)."""
    cells = _code(_read("emr-studio"))
    magics = [source.split()[0] for source in cells if source.startswith("%")]
    assert magics[:2] == ["%%configure", "%%info"]  # before the session starts
    assert magics.count("%matplot") == 2  # one per figure
    for source in cells:
        first, _, body = source.partition("\n")
        if first.startswith("%"):
            assert first.split()[0] in SPARKMAGIC_MAGICS, first
            if first.startswith("%%configure"):
                assert first.split()[1:] == ["-f"]
                # Checked here because neither would stop a run: sparkmagic only prints a body
                # that is not JSON (and starts the default session), Livy turns numbers in
                # "conf" into strings. Livy accepting the rest: test_notebooks_livy.py.
                config = json.loads(body)
                assert isinstance(config, dict) and config["driverMemory"]
                assert all(isinstance(v, str) for v in config["conf"].values()), config
                assert "spark.pyspark.python" not in config["conf"]  # the node's, from spark-env
            else:
                assert first in ("%%info", "%matplot plt") and not body.strip(), source
            continue
        ast.parse(source)  # raises on any IPython-only syntax (%pip, !ls, ...)
        for absent in ("install_pypi_package", "SparkSession.builder", "getOrCreate(", "display("):
            assert absent not in source, f"{absent} in a Livy cell:\n{source}"
    code = "\n".join(cells)
    assert "run_pipeline(config, spark=spark)" in code  # the package, not a copy of it
    assert "figure_cumulative_variance(" in code and "figure_pc_scatter(" in code


@pytest.mark.parametrize("ci", ["", "true"])
def test_without_a_livy_home_the_real_livy_tests_skip_saying_why_or_fail_in_ci(
        ci: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from _pytest.outcomes import Failed, Skipped

    from tests.support.cluster import livy_server

    monkeypatch.setattr(livy_server, "SHARED_HOME", tmp_path / "shared" / "vendor" / "livy")
    monkeypatch.setenv("CI", ci)
    for home, words in ((None, (livy_server.HOME_ENV, "0.9.0-incubating", "Maven Central", "PyPI",
                                "shared")),
                        (tmp_path, ("is not a Livy home", "jars/", "rsc-jars/"))):
        if home is None:
            monkeypatch.delenv(livy_server.HOME_ENV, raising=False)
        else:
            monkeypatch.setenv(livy_server.HOME_ENV, str(home))
        assert livy_server.find_home()[0] is None
        with pytest.raises(Failed if ci else Skipped) as stopped:
            livy_server.home_or_skip()
        for word in (*words, *(["CI=true", "must run in CI"] if ci else [])):
            assert word in str(stopped.value), str(stopped.value)


def test_the_livy_home_is_taken_from_the_environment_else_beside_the_repository(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from tests.support.cluster import livy_server

    assert livy_server.SHARED_HOME == REPO.parent / "shared" / "vendor" / "livy-0.9.0-incubating"
    shared, named = tmp_path / "shared", tmp_path / "named"
    for home in (shared, named):
        for folder in livy_server.LAYOUT:
            (home / folder).mkdir(parents=True)
    monkeypatch.setattr(livy_server, "SHARED_HOME", shared)
    monkeypatch.delenv(livy_server.HOME_ENV, raising=False)
    assert livy_server.find_home() == (shared, "")
    monkeypatch.setenv(livy_server.HOME_ENV, str(named))
    assert livy_server.find_home() == (named, "")


def png_outputs(notebook: nbformat.NotebookNode) -> int:
    return sum("image/png" in output.get("data", {})
               for cell in notebook.cells for output in cell.get("outputs", []))


def check_run(output: Path, executed: Path) -> Dict[str, Any]:
    """What every execution of a notebook on the bundled sample must have produced."""
    manifest = json.loads((output / "manifest.json").read_text())
    assert manifest["images_total"] == manifest["images_ok"] + manifest["images_failed"]
    assert manifest["images_ok"] > 0 and manifest["images_failed"] == 0 and manifest["k"] == 5
    assert (output / "explained_variance.csv").exists()
    notebook = nbformat.read(executed, as_version=4)
    assert png_outputs(notebook) == 2  # the explained-variance curve and the PC1 x PC2 scatter
    for cell in notebook.cells:
        if cell.source.startswith("%matplot"):
            assert any("image/png" in o.get("data", {}) for o in cell.outputs), cell.outputs
    text = json.dumps([c.get("outputs", []) for c in notebook.cells])
    assert "images featurized" in text and "driverMemory" in text
    return {"manifest": manifest, "text": text}


PARAMETERS = {"input": None, "k": 5, "weights": "random", "limit": 20}
