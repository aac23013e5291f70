"""Both notebooks as EMR runs them: papermill -> sparkmagic's PySpark kernel -> a real Apache
Livy 0.9.0-incubating -> Spark 3.5 (local mode), with sparkmagic's ``all_errors_are_fatal``.

The Livy sessions' Python is a node's: the Python 3.11 that ``bootstrap.sh`` built from this
checkout's wheel under the EMR 7 constraints (the one ``tests/e2e/test_node.py`` built in this
session, else one built the same way and cached), as the cluster's ``spark-env`` makes it
``PYSPARK_PYTHON``; pyspark is Spark 3.5's own (``SPARK_HOME``: the node tests' Spark 3.5). So
the notebooks run on what a node has, not on the test venv. The kernel is sparkmagic's, in its
own venv. Livy comes from ``BIGFRUITS_LIVY_HOME`` or ``../shared/vendor/livy-0.9.0-incubating``;
without one these tests are skipped saying why, and in CI (``CI=true``) they fail saying so
(``tests/support/cluster/livy_server.py``). Livy listens on 127.0.0.1 only and is stopped, with every
Spark process it started, whatever happens.

Marker ``node`` (they run on a node's Python, built once, like the node tests: the compatibility
job, ``-m "not node"``, does not run them again) and ``livy`` (``pytest -m livy``: just these).
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

import nbformat
import pytest

from tests.e2e.test_notebooks import FLAVOR_FILES, NOTEBOOKS, PARAMETERS, check_run
from tests.support.cluster import livy_server
from tests.support.aws.cli import built_wheel
from tests.support.aws.server import moto_tls, moto_url
from tests.support.cluster.node import node_python_asked_of, spark35_home

__all__ = ["built_wheel", "moto_tls", "moto_url"]  # fixtures, asked for only to build a node

pytestmark = [pytest.mark.slow, pytest.mark.node, pytest.mark.livy]

#: Bounds: one cell (the pipeline on 20 images), a kernel start.
CELL_TIMEOUT = 900
KERNEL_START_TIMEOUT = 120


@pytest.fixture(scope="module")
def livy_home() -> Path:
    return livy_server.home_or_skip()


@pytest.fixture(scope="module")
def node(livy_home: Path, request: pytest.FixtureRequest,
         tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Python of a node, as bootstrap.sh builds it."""
    return node_python_asked_of(request, tmp_path_factory.mktemp("node-bootstrap"))


#: what each flavor's run is given: JupyterHub the fp32 graph (create-cluster's default), EMR
#: Studio the int8 graph (create-cluster --precision int8), so both precisions run as EMR runs them
PRECISIONS = {"jupyterhub": "fp32", "emr-studio": "int8"}


@pytest.fixture(scope="module")
def published_models(tmp_path_factory: pytest.TempPathFactory) -> Dict[str, str]:
    """The notebooks' ``model`` at each precision as create-cluster uploads it: ``PARAMETERS``'
    weights exported (and for int8 quantized) on this machine (the node has no TensorFlow, no
    onnx), in folders the Livy driver reads."""
    from bigfruits.aws.procedures.node_files import local_model
    from bigfruits.pipeline.featurize import published

    folders = {}
    for precision in ("fp32", "int8"):
        prepared = local_model(PARAMETERS["weights"], 0, precision, echo=lambda line: None)
        _, graph, identity = published.files_of(prepared)
        folder = tmp_path_factory.mktemp(f"model-{precision}")
        (folder / published.GRAPH_NAME).write_bytes(graph)
        (folder / published.IDENTITY_NAME).write_bytes(identity)
        folders[precision] = str(folder)
    return folders


@pytest.fixture(scope="module")
def livy(livy_home: Path, node: Path, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[livy_server.Livy]:
    started = time.monotonic()
    with livy_server.running_livy(livy_home, node, spark35_home(),
                                  tmp_path_factory.mktemp("livy")) as server:
        print(f"\nLivy up at {server.url} in {time.monotonic() - started:.1f} s")
        yield server


@pytest.fixture(scope="module")
def kernel_python(livy_home: Path) -> Path:
    return livy_server.sparkmagic_python()


@pytest.fixture
def pyspark_kernel(livy: livy_server.Livy, kernel_python: Path, tmp_path: Path,
                   monkeypatch: pytest.MonkeyPatch) -> str:
    """sparkmagic's PySpark kernel, configured for our Livy, first on JUPYTER_PATH."""
    conf_dir = tmp_path / "sparkmagic"
    livy_server.sparkmagic_config(conf_dir, livy.url)
    jupyter = tmp_path / "jupyter"
    name = livy_server.pyspark_kernelspec(jupyter, str(kernel_python), conf_dir)
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


def _execute(source: nbformat.NotebookNode, path: Path, executed: Path, **parameters: Any) -> None:
    import papermill

    nbformat.write(source, path)
    papermill.execute_notebook(
        str(path), str(executed), parameters=parameters, cwd=str(path.parent),
        progress_bar=False, execution_timeout=CELL_TIMEOUT, start_timeout=KERNEL_START_TIMEOUT)


def _notebook(*cells: str) -> nbformat.NotebookNode:
    """A notebook of these code cells in the kernel the committed notebooks name."""
    committed = nbformat.read(NOTEBOOKS / FLAVOR_FILES["emr-studio"], as_version=4)
    notebook = nbformat.v4.new_notebook(metadata=committed.metadata)
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    return notebook


def _execution_counts(executed: Path) -> List[Optional[int]]:
    notebook = nbformat.read(executed, as_version=4)
    return [c.execution_count for c in notebook.cells if c.cell_type == "code"]


def _outputs(executed: Path) -> List[str]:
    notebook = nbformat.read(executed, as_version=4)
    return [json.dumps(c.get("outputs", [])) for c in notebook.cells if c.cell_type == "code"]


@pytest.mark.parametrize("flavor", sorted(FLAVOR_FILES))
def test_notebook_runs_through_sparkmagic_and_livy(flavor: str, pyspark_kernel: str, livy: livy_server.Livy,
                                                   published_models: Dict[str, str], tmp_path: Path) -> None:
    notebook = nbformat.read(NOTEBOOKS / FLAVOR_FILES[flavor], as_version=4)
    assert notebook.metadata.kernelspec.name == pyspark_kernel  # no kernel override
    output, executed = tmp_path / "results", tmp_path / f"executed-{FLAVOR_FILES[flavor]}"
    started = time.monotonic()
    precision = PRECISIONS[flavor]
    _execute(notebook, tmp_path / FLAVOR_FILES[flavor], executed, **PARAMETERS, output=str(output),
             model=published_models[precision], precision=precision)
    print(f"\n{flavor}: papermill through Livy in {time.monotonic() - started:.1f} s")

    run = check_run(output, executed)  # every plain cell ran; both %matplot PNGs came back
    assert run["manifest"]["precision"] == precision and f"precision {precision}" in run["text"]
    assert "Current session configs" in run["text"] and '4g' in run["text"]  # sparkmagic's %%info
    assert "on Spark 3.5." in run["text"]  # the set-up cell ran in the Livy session's Spark
    # The %%configure body reached Livy, which created the session with it.
    log = livy.log.read_text(errors="replace")
    assert "driverMemory: 4g" in log and "executorMemory: 4g" in log, livy.log_tail()
    assert "spark.sql.execution.arrow.maxRecordsPerBatch" in log
    assert _no_live_sessions(livy), livy.sessions()


def test_the_session_runs_on_the_node_and_ipython_magics_do_not_reach_it(
        pyspark_kernel: str, livy: livy_server.Livy, node: Path, kernel_python: Path,
        tmp_path: Path) -> None:
    """The cells run in the node's Python (bigfruits from the bootstrap's install, pyspark from
    Spark 3.5, no test tool). An IPython magic is not the cluster's: ``%pip`` opening a cell runs
    in the kernel's own Python (it would install nothing on the nodes), and one inside a cell
    goes to Livy's Python REPL, which refuses it. Hence the notebooks use sparkmagic's three
    magics only (checked in test_notebooks.py)."""
    import papermill

    notebook = _notebook(
        "import sys, bigfruits, pyspark\n"
        "print('python', sys.executable)\n"
        "print('bigfruits', bigfruits.__file__)\n"
        "print('pyspark', pyspark.__version__, pyspark.__file__)\n"
        "try:\n    import pytest\nexcept ImportError:\n    print('no pytest on the node')",
        "%pip --version",
        'print("before the magic")\n%matplotlib inline',
        'print("after the magic")')
    with pytest.raises(papermill.PapermillExecutionError) as failure:
        _execute(notebook, tmp_path / "node.ipynb", tmp_path / "executed.ipynb")
    assert "unknown magic command 'matplotlib'" in str(failure.value), str(failure.value)
    on_node, pip, magic, after = _outputs(tmp_path / "executed.ipynb")
    ran = _execution_counts(tmp_path / "executed.ipynb")
    root = str(node.parent.parent.parent)  # <node>/python/bin/python3.11
    assert f"python {node}" in on_node, on_node
    assert f"bigfruits {root}" in on_node, on_node
    assert "pyspark 3.5." in on_node and "pyspark.zip" in on_node, on_node  # Spark's own
    assert "no pytest on the node" in on_node, on_node
    assert str(kernel_python.parent.parent) in pip and root not in pip, pip  # the kernel's pip
    assert "UnknownMagic" in magic and ran[-1] is None and "after the magic" not in after
    assert _no_live_sessions(livy), livy.sessions()


def test_a_session_field_livy_does_not_know_fails_papermill(
        pyspark_kernel: str, livy: livy_server.Livy, tmp_path: Path) -> None:
    """``%%configure`` sends its body to Livy's POST /sessions with the first cell that needs
    the session; Livy refuses a field it does not know, and the notebook stops there. (Livy turns
    a number in ``conf`` into a string, and sparkmagic only prints a body that is not JSON and
    goes on with the default session: test_notebooks.py checks those in the notebooks' text.)"""
    import papermill

    notebook = _notebook('%%configure -f\n{"driverMemry": "4g"}', "print(spark.range(3).count())")
    before = {session["id"] for session in livy.sessions()}
    with pytest.raises(papermill.PapermillExecutionError) as failure:
        _execute(notebook, tmp_path / "configure.ipynb", tmp_path / "executed.ipynb")
    assert failure.value.ename == "HttpClientException", failure.value.ename
    assert "400" in failure.value.evalue and 'Unrecognized field \\"driverMemry\\"' in \
        failure.value.evalue, failure.value.evalue
    assert {session["id"] for session in livy.sessions()} <= before  # none was created
    assert _execution_counts(tmp_path / "executed.ipynb") == [1, 2]


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
    # sparkmagic's exception, carrying the session's Python error
    assert failure.value.ename == "SparkStatementException", failure.value.ename
    assert "ValueError: a cell that fails on the cluster" in failure.value.evalue
    executed = nbformat.read(tmp_path / "executed.ipynb", as_version=4)
    ran = [c.source for c in executed.cells if c.cell_type == "code" and c.execution_count]
    assert not any("run_pipeline(" in source for source in ran)  # nothing after it ran
    assert not output.exists()
    assert _no_live_sessions(livy), livy.sessions()
