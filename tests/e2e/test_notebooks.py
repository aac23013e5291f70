"""The two notebooks: generated from one source, and both executed locally with papermill.

Tools and why:
- ``notebooks/build.py --check`` logic: the committed .ipynb files must be exactly what the
  sources in ``notebooks/src/`` generate, so nobody edits one notebook and forgets the other.
- papermill with kernels registered *for this test only* (kernelspecs written to a temporary
  ``JUPYTER_PATH``, ``argv[0]`` = this interpreter, ``PYTHONPATH`` = this checkout's ``src``),
  so the notebooks run on the code under test, not on whatever ``python3`` kernel is installed.
- The EMR Studio notebook needs Livy's kernel; its kernel here loads ``tests/support/livy_shim.py``
  (an IPython extension), which replaces exactly: ``%%configure`` (JSON checked, recorded, not
  applied), ``%%info`` (prints the recorded configuration), ``%matplot plt`` (displays the
  current figure as a PNG), ``spark``/``sc`` (a local SparkSession started before the first ordinary
  cell) and ``sc.install_pypi_package`` (argument checked, nothing installed). Everything else,
  including every pipeline cell, runs for real on the bundled sample with random weights
  (ImageNet weights cannot be downloaded in CI).
"""
from __future__ import annotations

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


def _load(name: str, path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


def test_committed_notebooks_are_what_the_sources_generate() -> None:
    build = _load("notebooks_build", NOTEBOOKS / "build.py")
    assert build.stale_notebooks() == []
    assert {spec["notebook"] for spec in build.FLAVORS.values()} == set(FLAVOR_FILES.values())


def _pipeline_code(notebook: nbformat.NotebookNode) -> List[str]:
    """Code from the parameters cell on, without the Studio-only display magic."""
    code = [c.source for c in notebook.cells if c.cell_type == "code"]
    start = next(i for i, c in enumerate(notebook.cells)
                 if "parameters" in c.metadata.get("tags", []))
    tail = [c.source for c in notebook.cells[start:] if c.cell_type == "code"]
    assert tail and set(tail) <= set(code)
    return [source for source in tail if source != "%matplot plt"]


def test_pipeline_cells_are_identical_and_only_set_up_differs() -> None:
    hub, studio = (nbformat.read(NOTEBOOKS / FLAVOR_FILES[f], as_version=4)
                   for f in ("jupyterhub", "emr-studio"))
    assert _pipeline_code(hub) == _pipeline_code(studio)
    assert any("run_pipeline(" in source for source in _pipeline_code(hub))
    studio_setup = "\n".join(c.source for c in studio.cells[:6])
    for livy_only in ("%%configure -f", "%%info", "sc.install_pypi_package("):
        assert livy_only in studio_setup and livy_only not in json.dumps(hub.dict())
    assert "%pip install" in json.dumps(hub.dict())
    assert studio.metadata.kernelspec.name == "pysparkkernel"


def test_the_shim_rejects_what_livy_would_reject() -> None:
    from IPython.core.error import UsageError

    from tests.support import livy_shim as shim

    assert shim.check_session_config('{"driverMemory": "4g", "conf": {"a.b": "1"}}')["driverMemory"] == "4g"
    for bad in ("{not json", "[1]", '{"driverMemry": "4g"}', '{"conf": {"a": 1}}'):
        with pytest.raises(UsageError):
            shim.check_session_config(bad)
    assert shim.check_package_spec("bigfruits==0.1.0") == "bigfruits==0.1.0"
    assert shim.check_package_spec("https://example.org/bigfruits-0.1.0-py3-none-any.whl")
    for bad in ("", "pip install x", 42):
        with pytest.raises(ValueError):
            shim.check_package_spec(bad)
    studio = nbformat.read(NOTEBOOKS / FLAVOR_FILES["emr-studio"], as_version=4)
    (configure,) = [c.source for c in studio.cells if c.source.startswith("%%configure")]
    assert shim.check_session_config(configure.split("\n", 1)[1])["conf"]


@pytest.fixture(scope="module")
def kernels(tmp_path_factory: pytest.TempPathFactory) -> Dict[str, str]:
    """Two kernelspecs in a private JUPYTER_PATH: plain, and with the Livy shim loaded."""
    home = tmp_path_factory.mktemp("jupyter")
    env = {"PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO)]),
           "PYSPARK_PYTHON": sys.executable, "PYSPARK_DRIVER_PYTHON": sys.executable,
           "PYSPARK_SUBMIT_ARGS": "--master local[2] --driver-memory 2g pyspark-shell",
           "TF_CPP_MIN_LOG_LEVEL": "2"}
    names = {"jupyterhub": "bigfruits-test-python", "emr-studio": "bigfruits-test-livy-shim"}
    for flavor, name in names.items():
        argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
        if flavor == "emr-studio":
            argv.append("--ext=tests.support.livy_shim")
        folder = home / "kernels" / name
        folder.mkdir(parents=True)
        (folder / "kernel.json").write_text(json.dumps(
            {"argv": argv, "display_name": name, "language": "python", "env": env}))
    previous = os.environ.get("JUPYTER_PATH")
    os.environ["JUPYTER_PATH"] = str(home)
    yield names
    if previous is None:
        os.environ.pop("JUPYTER_PATH", None)
    else:
        os.environ["JUPYTER_PATH"] = previous


def _png_outputs(notebook: nbformat.NotebookNode) -> int:
    return sum("image/png" in output.get("data", {})
               for cell in notebook.cells for output in cell.get("outputs", []))


@pytest.mark.slow
@pytest.mark.parametrize("flavor", ["jupyterhub", "emr-studio"])
def test_notebook_runs_locally_on_the_bundled_sample(flavor: str, kernels: Dict[str, str],
                                                     tmp_path: Path) -> None:
    papermill = pytest.importorskip("papermill")
    output = tmp_path / "results"
    executed = tmp_path / FLAVOR_FILES[flavor]
    papermill.execute_notebook(
        str(NOTEBOOKS / FLAVOR_FILES[flavor]), str(executed), kernel_name=kernels[flavor],
        parameters={"input": None, "output": str(output), "k": 5, "weights": "random", "limit": 20},
        cwd=str(tmp_path), progress_bar=False, execution_timeout=900)

    manifest = json.loads((output / "manifest.json").read_text())
    assert manifest["images_total"] == manifest["images_ok"] + manifest["images_failed"]
    assert manifest["images_ok"] > 0 and manifest["k"] == 5
    assert (output / "explained_variance.csv").exists()
    notebook = nbformat.read(executed, as_version=4)
    assert _png_outputs(notebook) == 2  # the explained-variance curve and the PC1 x PC2 scatter
    text = json.dumps([c.get("outputs", []) for c in notebook.cells])
    assert "images featurized" in text
    if flavor == "emr-studio":
        assert "Livy shim (local run): session configuration" in text and "driverMemory" in text
