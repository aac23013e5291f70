"""The two notebooks: generated from one source, valid in sparkmagic's PySpark kernel, and both
executed with papermill.

Where they run on EMR: JupyterHub and EMR Studio both run them in sparkmagic's PySpark kernel,
which sends each plain cell to a Livy session on the cluster (the Spark driver) and runs the
``%`` magics itself. So both notebooks have that kernel and the same code cells.

How they are executed here, and what stands in for what:
- With a real Apache Livy (``tests/e2e/test_notebooks_livy.py``): papermill -> sparkmagic's
  PySpark kernel -> Livy 0.9 -> Spark 3.5 local. It runs where a Livy home is given
  (``BIGFRUITS_LIVY_HOME``) and is skipped elsewhere, CI included: Livy 0.8/0.9 are not
  published on Maven Central or PyPI, the only registries CI reaches.
- Always, CI included (below): papermill with the same notebooks, cell for cell, the only change
  being papermill's kernel override (and so its ``language="python"`` for the parameters cell) to
  an IPython kernel that loads
  ``tests/support/livy_shim.py``. That shim replaces Livy *and* sparkmagic: the session (a local
  SparkSession as ``spark``/``sc``, in the kernel's own process instead of a driver behind
  REST) and the three sparkmagic magics the notebooks use (``%%configure -f`` checked and
  recorded but not applied, ``%%info`` printing that record, ``%matplot plt`` returning the
  current figure as a PNG); it refuses any other magic. Every plain cell, the pipeline
  included, runs for real on the bundled sample with random weights (ImageNet weights cannot
  be downloaded in CI). What it cannot show: that Livy accepts the session configuration, that
  sparkmagic makes a failing cell fatal, that the figure travels back through Livy; the real
  Livy test does.
"""
from __future__ import annotations

import ast
import importlib.util
import json
import os
import sys
from pathlib import Path
from typing import Any, Dict, List

import nbformat
import pytest

from tests.support.paths import REPO

NOTEBOOKS = REPO / "notebooks"
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
    build = _load("notebooks_build", NOTEBOOKS / "build.py")
    assert build.stale_notebooks() == []
    assert set(build.FLAVORS.values()) == set(FLAVOR_FILES.values())
    assert sorted(p.name for p in (NOTEBOOKS / "src").iterdir()) == ["bigfruits.md"]


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
    from tests.support import livy_shim as shim

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
                assert shim.check_session_config(body)["driverMemory"]
            else:
                assert first in ("%%info", "%matplot plt") and not body.strip(), source
            continue
        ast.parse(source)  # raises on any IPython-only syntax (%pip, !ls, ...)
        for absent in ("install_pypi_package", "SparkSession.builder", "getOrCreate(", "display("):
            assert absent not in source, f"{absent} in a Livy cell:\n{source}"
    code = "\n".join(cells)
    assert "run_pipeline(config, spark=spark)" in code  # the package, not a copy of it
    assert "figure_cumulative_variance(" in code and "figure_pc_scatter(" in code


def test_the_shim_rejects_what_livy_and_sparkmagic_would_reject() -> None:
    from IPython.core.error import UsageError

    from tests.support import livy_shim as shim

    assert shim.check_session_config('{"driverMemory": "4g", "conf": {"a.b": "1"}}')["driverMemory"] == "4g"
    for bad in ("{not json", "[1]", '{"driverMemry": "4g"}', '{"conf": {"a": 1}}'):
        with pytest.raises(UsageError):
            shim.check_session_config(bad)
    assert shim.only_sparkmagic_magics(["%matplot plt\n"]) == ["%matplot plt\n"]
    for not_sparkmagic in ("%pip install bigfruits\n", "%matplotlib inline\n", "%%local\n"):
        with pytest.raises(UsageError):
            shim.only_sparkmagic_magics(["x = 1\n", not_sparkmagic])


def test_without_a_livy_home_the_real_livy_tests_say_why(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.support import livy_server

    monkeypatch.delenv(livy_server.HOME_ENV, raising=False)
    reason = livy_server.skip_reason() or ""
    for words in (livy_server.HOME_ENV, "0.9.0-incubating", "not published on Maven Central",
                  "PyPI", "CI"):
        assert words in reason


@pytest.fixture(scope="module")
def shim_kernel(tmp_path_factory: pytest.TempPathFactory) -> str:
    """An IPython kernelspec that loads the Livy shim, in a private JUPYTER_PATH; it runs this
    interpreter with this checkout's ``src`` first on ``PYTHONPATH``."""
    home = tmp_path_factory.mktemp("jupyter")
    env = {"PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO)]),
           "PYSPARK_PYTHON": sys.executable, "PYSPARK_DRIVER_PYTHON": sys.executable,
           "PYSPARK_SUBMIT_ARGS": "--master local[2] --driver-memory 2g pyspark-shell",
           "TF_CPP_MIN_LOG_LEVEL": "2"}
    name = "bigfruits-test-livy-shim"
    folder = home / "kernels" / name
    folder.mkdir(parents=True)
    (folder / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}",
                 "--ext=tests.support.livy_shim"],
        "display_name": name, "language": "python", "env": env}))
    previous = os.environ.get("JUPYTER_PATH")
    os.environ["JUPYTER_PATH"] = str(home)
    yield name
    if previous is None:
        os.environ.pop("JUPYTER_PATH", None)
    else:
        os.environ["JUPYTER_PATH"] = previous


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


@pytest.mark.slow
@pytest.mark.parametrize("flavor", sorted(FLAVOR_FILES))
def test_notebook_runs_with_the_livy_shim_on_the_bundled_sample(flavor: str, shim_kernel: str,
                                                                tmp_path: Path) -> None:
    papermill = pytest.importorskip("papermill")
    output = tmp_path / "results"
    executed = tmp_path / FLAVOR_FILES[flavor]
    papermill.execute_notebook(
        str(NOTEBOOKS / FLAVOR_FILES[flavor]), str(executed), kernel_name=shim_kernel,
        # papermill writes the parameters in the kernel's language; it knows "pysparkkernel" is
        # Python, but with the kernel overridden it would look up "pyspark" (language_info)
        language="python", parameters={**PARAMETERS, "output": str(output)},
        cwd=str(tmp_path), progress_bar=False, execution_timeout=900)
    run = check_run(output, executed)
    assert "Livy shim (local run): session configuration" in run["text"]
