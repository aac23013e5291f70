"""Both notebooks as EMR runs them: papermill -> sparkmagic's PySpark kernel -> a real Apache
Livy 0.9.0-incubating -> Spark 3.5 (local mode), with sparkmagic's ``all_errors_are_fatal``.

The test starts Livy itself on 127.0.0.1 (a free port) from the Livy home named by
``BIGFRUITS_LIVY_HOME``, with the Python named by ``BIGFRUITS_LIVY_PYTHON`` as the session's
``PYSPARK_PYTHON`` and its pyspark 3.5 as ``SPARK_HOME`` (see ``tests/support/livy_server.py``),
and stops it, with every Spark process it started, whatever happens. Papermill runs the
committed notebooks unchanged with the kernel they name (``pysparkkernel``). Without a Livy home
the tests are skipped, saying why: Livy 0.8/0.9 are not on Maven Central or PyPI, the registries
CI reaches; CI then runs the same notebooks through ``tests/support/livy_shim.py`` instead
(``tests/e2e/test_notebooks.py`` says what that replaces).
"""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Iterator

import nbformat
import pytest

from tests.e2e.test_notebooks import FLAVOR_FILES, NOTEBOOKS, PARAMETERS, check_run
from tests.support import livy_server

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(livy_server.skip_reason() is not None,
                                 reason=livy_server.skip_reason() or "")]

#: Bounds: one cell (the pipeline on 20 images, TensorFlow loading included), a kernel start.
CELL_TIMEOUT = 900
KERNEL_START_TIMEOUT = 120


@pytest.fixture(scope="module")
def livy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[livy_server.Livy]:
    home = Path(os.environ[livy_server.HOME_ENV])
    python = os.environ[livy_server.PYTHON_ENV]
    started = time.monotonic()
    with livy_server.running_livy(home, python, tmp_path_factory.mktemp("livy")) as server:
        print(f"\nLivy up at {server.url} in {time.monotonic() - started:.1f} s")
        yield server


@pytest.fixture
def pyspark_kernel(livy: livy_server.Livy, tmp_path: Path,
                   monkeypatch: pytest.MonkeyPatch) -> str:
    """sparkmagic's PySpark kernel, configured for our Livy, first on JUPYTER_PATH."""
    conf_dir = tmp_path / "sparkmagic"
    livy_server.sparkmagic_config(conf_dir, livy.url)
    jupyter = tmp_path / "jupyter"
    name = livy_server.pyspark_kernelspec(jupyter, os.environ[livy_server.PYTHON_ENV], conf_dir)
    monkeypatch.setenv("JUPYTER_PATH", str(jupyter))
    return name


def _no_live_sessions(livy: livy_server.Livy, timeout: float = 60) -> bool:
    """The kernel deletes its Livy session on exit (``cleanup_all_sessions_on_exit``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not [s for s in livy.sessions() if s.get("state") not in ("dead", "killed", "error",
                                                                     "success")]:
            return True
        time.sleep(1)
    return False


def _execute(source: nbformat.NotebookNode, path: Path, executed: Path, **parameters) -> None:
    import papermill

    nbformat.write(source, path)
    papermill.execute_notebook(
        str(path), str(executed), parameters=parameters, cwd=str(path.parent),
        progress_bar=False, execution_timeout=CELL_TIMEOUT, start_timeout=KERNEL_START_TIMEOUT)


@pytest.mark.parametrize("flavor", sorted(FLAVOR_FILES))
def test_notebook_runs_through_sparkmagic_and_livy(flavor: str, pyspark_kernel: str,
                                                   livy: livy_server.Livy, tmp_path: Path) -> None:
    notebook = nbformat.read(NOTEBOOKS / FLAVOR_FILES[flavor], as_version=4)
    assert notebook.metadata.kernelspec.name == pyspark_kernel  # no kernel override
    output, executed = tmp_path / "results", tmp_path / f"executed-{FLAVOR_FILES[flavor]}"
    started = time.monotonic()
    _execute(notebook, tmp_path / FLAVOR_FILES[flavor], executed, **PARAMETERS, output=str(output))
    print(f"\n{flavor}: papermill through Livy in {time.monotonic() - started:.1f} s")

    run = check_run(output, executed)
    assert "Current session configs" in run["text"] and '4g' in run["text"]  # sparkmagic's %%info
    assert "on Spark 3.5." in run["text"]  # the set-up cell ran in the Livy session's Spark
    assert "Livy shim" not in run["text"]
    assert _no_live_sessions(livy), livy.sessions()


def test_a_cell_that_raises_on_the_cluster_fails_papermill(pyspark_kernel: str,
                                                           livy: livy_server.Livy,
                                                           tmp_path: Path) -> None:
    """With ``all_errors_are_fatal``, sparkmagic turns an error in the Livy session into a failed
    cell, so papermill stops there and fails (sparkmagic's default only prints the error)."""
    import papermill

    notebook = nbformat.read(NOTEBOOKS / FLAVOR_FILES["emr-studio"], as_version=4)
    parameters = next(i for i, c in enumerate(notebook.cells)
                      if "parameters" in c.metadata.get("tags", []))
    notebook.cells.insert(parameters + 1, nbformat.v4.new_code_cell(
        'raise ValueError("a cell that fails on the cluster")'))
    output = tmp_path / "results"
    with pytest.raises(papermill.PapermillExecutionError) as failure:
        _execute(notebook, tmp_path / "fails.ipynb", tmp_path / "executed.ipynb",
                 **PARAMETERS, output=str(output))
    assert "a cell that fails on the cluster" in str(failure.value)
    executed = nbformat.read(tmp_path / "executed.ipynb", as_version=4)
    ran = [c.source for c in executed.cells if c.cell_type == "code" and c.execution_count]
    assert not any("run_pipeline(" in source for source in ran)  # nothing after it ran
    assert not output.exists()
    assert _no_live_sessions(livy), livy.sessions()

