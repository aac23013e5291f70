"""The node, as the cluster runs it: ``create-cluster`` builds and uploads the wheel, bootstrap and
constraints (to moto); ``bootstrap.sh`` runs with the exact RunJobFlow arguments, with only sudo,
dnf, aws and docker shimmed (tests/support/cluster/node.py), into a scratch node whose Python is fresh;
the JupyterHub password step's command runs with ``bash -c``; then ``submit``'s exact step
arguments run as command-runner.jar runs them, under Spark 3.5's spark-submit with the cluster's
``spark-env`` (PYSPARK_PYTHON) and S3A to moto over HTTPS for ``s3://``; ``download-results``
fetches the output, which matches a local ``bigfruits run`` on the same images.

The bootstrap runs with no package index reachable (pip's index URL is a closed local port, no
proxy): the node installs from the wheelhouse create-cluster uploaded, and the step runs the ONNX
graph submit uploaded (``--model``), with no TensorFlow, Keras, onnx or tf2onnx on the node. The
test prints the node's installed size (its site-packages: all it adds to EMR's Spark) and the
install's duration, and holds the size to ``MAX_NODE_MB``.

First run: a few minutes (the wheelhouse's pip download, pyspark 3.5 and hadoop-aws's SDK
bundle); then cached in ~/.cache/pip, ~/.cache/bigfruits-tests and ~/.ivy2.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import pytest

from bigfruits.aws.requests.emr import flavors, steps
from bigfruits.aws.core.request import AwsRequest
from tests.support.aws.cli import injected, run
from tests.support.aws.emr import FakeEmr
from tests.support.aws.server import BUCKET, aws_env, boto, moto_tls, moto_url, put_gz
from tests.support.cluster.node import (
    clean_env, command_runner, installed_mb, java_home, make_shims, node_bootstrap_env, remember_node, s3a_defaults,
    spark35_home, spark_env_exports, truststore, write_spark_conf,
)
from tests.support.paths import SAMPLE, python_cmd

__all__ = ["aws_env", "moto_tls", "moto_url"]  # fixtures used below

pytestmark = [pytest.mark.slow, pytest.mark.node]

CLASSES = ("Apple Red 1", "Banana Lady Finger")  # spaces in the keys, as in Fruits-360
PER_CLASS = 3
RUN_ARGS = ["--k", "3", "--weights", "random", "--seed", "7"]
BOOTSTRAP_TIMEOUT_S = 30 * 60
STEP_TIMEOUT_S = 15 * 60
#: Packages only the test extras (or nobody) install, and what only exports the model (the
#: user's machine): none may be on the node.
NOT_ON_NODE = ("pytest", "moto", "psutil", "sklearn", "papermill", "jupytext", "ipykernel", "pyspark",
               "tensorflow", "keras", "tf2onnx", "onnx")
#: The most a node may install besides EMR's Spark (issue 19: it was 2,609 MB with TensorFlow).
MAX_NODE_MB = 600


class NodeEmr(FakeEmr):
    """FakeEmr that records every request and plays the cluster on this machine: on RunJobFlow it
    runs the bootstrap action (``on_cluster``) and then the request's own steps, and each added
    step, on the scratch node; a step ends COMPLETED or FAILED as its command did, with its
    stdout/stderr where EMR puts them. It replaces EMR itself, which cannot run here."""

    def __init__(self, inner: Any, recorded: List[Any],
                 run_step: Callable[[Dict[str, Any]], subprocess.CompletedProcess],
                 on_cluster: Optional[Callable[[Dict[str, Any]], None]] = None) -> None:
        super().__init__(inner, step_states=["PENDING", "RUNNING"])
        self.recorded, self.run_step, self.on_cluster = recorded, run_step, on_cluster

    def send(self, request: Any) -> Dict[str, Any]:
        self.recorded.append(request)
        answer = super().send(request)
        if request.operation == "RunJobFlow":
            if self.on_cluster:
                self.on_cluster(request.params)
            cluster_id = answer["JobFlowId"]
            listed = super().send(AwsRequest("emr", "ListSteps", {"ClusterId": cluster_id}))["Steps"]
            step_ids = [s["Id"] for s in listed][::-1]  # ListSteps: newest first
            self._run(cluster_id, request.params.get("Steps", []), step_ids)
        elif request.operation == "AddJobFlowSteps":
            self._run(request.params["JobFlowId"], request.params["Steps"], answer["StepIds"])
        return answer

    def _run(self, cluster_id: str, steps_: List[Dict[str, Any]], step_ids: List[str]) -> None:
        for step, step_id in zip(steps_, step_ids):
            done = self.run_step(step)
            log = f"logs/{cluster_id}/steps/{step_id}/"
            put_gz(BUCKET, log + "stderr.gz", done.stderr)
            put_gz(BUCKET, log + "stdout.gz", done.stdout)
            self.step_states = ["RUNNING", "COMPLETED" if done.returncode == 0 else "FAILED"]


def _images(root: Path) -> Path:
    for label in CLASSES:
        (root / label).mkdir(parents=True)
        for src in sorted((SAMPLE / "Test" / label).glob("*.jpg"))[:PER_CLASS]:
            shutil.copy(src, root / label)
    return root


def _tail(text: str, lines: int = 40) -> str:
    """The end of a log without the JVM's INFO/WARN chatter."""
    kept = [line for line in text.splitlines() if not re.match(r"^\d\d/\d\d/\d\d \S+ (INFO|WARN) ", line)]
    return "\n".join(kept[-lines:])


def _features(folder: Path) -> Dict[str, Any]:
    import numpy as np
    import pandas as pd

    frame = pd.read_parquet(folder)
    return {f"{label}/{path.rsplit('/', 1)[1]}": np.asarray(vec, dtype=float)
            for path, label, vec in zip(frame["path"], frame["label"], frame["features"])}


def test_bootstrap_then_the_step_on_s3_as_the_cluster_runs_them(aws_env, moto_tls, moto_url, imagenet_here,
                                                                tmp_path: Path) -> None:
    images = _images(tmp_path / "images" / "Test")
    recorded: List[Any] = []

    # The scratch node and master (filled in when EMR "starts" the cluster below).
    node = tmp_path / "node"
    node_python = node / "python" / "bin" / "python3.11"
    driver = node / "usr" / "local" / "lib" / "bigfruits" / "driver.py"
    shims = make_shims(tmp_path / "shims")
    env = node_bootstrap_env(node_python, driver, shims)
    spark_home = spark35_home()
    path_map = {flavors.NODE_PYTHON: str(node_python), steps.DRIVER_PATH: str(driver)}
    master_bin = tmp_path / "master-bin"
    step_env: Dict[str, str] = {}
    ran: List[subprocess.CompletedProcess] = []
    installed: Dict[str, float] = {}

    def run_step(step: Dict[str, Any]) -> subprocess.CompletedProcess:
        assert step["HadoopJarStep"]["Jar"] == steps.COMMAND_RUNNER
        args = command_runner([path_map.get(a, a) for a in step["HadoopJarStep"]["Args"]], spark_home, master_bin)
        workdir = tmp_path / f"step-{len(ran)}"
        workdir.mkdir()
        ran.append(subprocess.run(args, env=step_env, cwd=workdir, capture_output=True, text=True,
                                  timeout=STEP_TIMEOUT_S))
        return ran[-1]

    def bootstrap(rjf: Dict[str, Any]) -> None:
        """The bootstrap action, as EMR runs it: the script from S3, with its Args; then the
        master's environment: command-runner.jar's PATH has Spark 3.5's spark-submit, and
        SPARK_CONF_DIR the cluster's spark-env (PYSPARK_PYTHON, node paths mapped) and S3A for
        s3:// to moto."""
        [action] = rjf["BootstrapActions"]
        script = node / "bootstrap-action" / "bootstrap.sh"
        script.parent.mkdir(parents=True)
        subprocess.run(["aws", "s3", "cp", action["ScriptBootstrapAction"]["Path"], str(script)],
                       env=env, check=True, capture_output=True, timeout=60)
        started = time.perf_counter()
        done = subprocess.run(["bash", str(script), *action["ScriptBootstrapAction"]["Args"]], env=env,
                              cwd=script.parent, capture_output=True, text=True, timeout=BOOTSTRAP_TIMEOUT_S)
        installed["seconds"] = time.perf_counter() - started
        assert done.returncode == 0, f"bootstrap.sh failed ({done.returncode}):\n{_tail(done.stderr)}"
        exports = spark_env_exports(rjf["Configurations"], path_map)
        assert exports["PYSPARK_PYTHON"] == str(node_python)
        conf_dir = write_spark_conf(tmp_path / "spark-conf",
                                    s3a_defaults(spark_home, moto_url, truststore(tmp_path / "tls", moto_tls[0])),
                                    exports)
        step_env.update(clean_env({"SPARK_HOME": str(spark_home), "SPARK_CONF_DIR": str(conf_dir),
                                   "JAVA_HOME": java_home(), "SPARK_LOCAL_IP": "127.0.0.1"},
                                  [master_bin, shims.bin]))

    # What create-cluster puts in S3 and asks EMR for (the wheel built by the same function);
    # "EMR" runs the bootstrap, then the JupyterHub password step of the RunJobFlow request, and
    # create-cluster prints the password only once that step COMPLETED.
    run(["create-bucket"])
    run(["upload-dataset", str(images)])
    run(["create-keypair"])
    out = run(["create-cluster", "--yes"], injected(lambda s: NodeEmr(s, recorded, run_step, bootstrap))).output
    password = re.search(r"JupyterHub user jovyan, password (\S+)", out).group(1)
    [rjf] = [r.params for r in recorded if r.operation == "RunJobFlow"]
    assert "python3.11" in shims.read("dnf.log")
    assert driver.is_file() and "bigfruits.cli" in driver.read_text()

    # The JupyterHub password step ran on the cluster: chpasswd got it, the secret is gone.
    [password_step] = rjf["Steps"]
    assert "chpasswd" in password_step["HadoopJarStep"]["Args"][-1]
    assert ran[0].returncode == 0, ran[0].stderr
    assert shims.read("docker.stdin") == f"jovyan:{password}\n"
    assert "exec -i jupyterhub chpasswd" in shims.read("docker.args")
    assert "Contents" not in boto("s3").list_objects_v2(Bucket=BUCKET, Prefix="secrets/")

    # The node holds what the bootstrap installed, and nothing of the test extras.
    def on_node(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(node_python), *args], env=clean_env(), capture_output=True, text=True, timeout=300)

    where = on_node("-c", "import bigfruits; print(bigfruits.__file__)")
    assert where.returncode == 0 and where.stdout.startswith(str(node)), where
    size_mb = installed_mb(node_python)
    print(f"\nnode: installed {size_mb:.0f} MB besides Spark; bootstrap took {installed['seconds']:.0f} s "
          f"with no package index reachable")
    assert size_mb <= MAX_NODE_MB, f"the node installs {size_mb:.0f} MB (at most {MAX_NODE_MB})"
    for module in NOT_ON_NODE:
        assert on_node("-c", f"import {module}").returncode != 0, f"{module} is importable on the node"
    check = on_node("-m", "pip", "check")
    assert check.returncode == 0, check.stdout
    assert on_node("-c", "import numpy; assert numpy.__version__ < '2'").returncode == 0  # the EMR 7 constraints
    for args in (["--help"], ["run", "--help"]):
        helped = subprocess.run([str(node_python.parent / "bigfruits"), *args], env=clean_env(),
                                capture_output=True, text=True, timeout=120)
        assert helped.returncode == 0 and "Usage:" in helped.stdout, helped.stderr
    remember_node(node_python)  # checked: the notebook tests' Livy sessions run on it too

    # The pipeline step, exactly as submit sends it (README: submit -- --k ... --weights ...).
    out = run(["submit", "--", *RUN_ARGS], injected(lambda s: NodeEmr(s, recorded, run_step)),
              expect_ok=False)
    step_done = ran[-1]
    assert out.exit_code == 0, (f"the step failed ({step_done.returncode}):\n{_tail(out.output)}\n"
                                f"{_tail(step_done.stdout)}\n{_tail(step_done.stderr)}")
    [step_args] = [r.params["Steps"][0]["HadoopJarStep"]["Args"] for r in recorded
                   if r.operation == "AddJobFlowSteps"]
    assert step_args[step_args.index("--model") + 1].startswith(f"s3://{BUCKET}/models/"), step_args
    keys = [o["Key"] for o in boto("s3").list_objects_v2(Bucket=BUCKET)["Contents"]]
    assert [k for k in keys if k.startswith("wheelhouse/") and k.endswith(".tar")], keys
    # each submit writes a new folder, output/<run id>/, printed
    run_id = re.search(r"s3://[^/]+/output/([^/\s]+)/", out.output).group(1)
    assert f"output/{run_id}/manifest.json" in keys
    assert not [k for k in keys if ".staging-" in k], "staging left behind"

    dest = tmp_path / "results"
    run(["download-results", str(dest)])
    remote = json.loads((dest / "manifest.json").read_text())

    # The same images and weights, run locally.
    local_out = tmp_path / "local"
    done = subprocess.run(python_cmd("run", "--input", str(images), "--output", str(local_out), "--no-progress",
                                     *RUN_ARGS), capture_output=True, text=True, timeout=STEP_TIMEOUT_S)
    assert done.returncode == 0, _tail(done.stderr)
    local = json.loads((local_out / "manifest.json").read_text())
    for key in ("images_total", "images_ok", "images_failed", "k"):
        assert remote[key] == local[key], key
    assert remote["images_ok"] == len(CLASSES) * PER_CLASS
    # the graph from the bucket is the same model as the local run's (what --reuse compares)
    assert remote["model"] == local["model"] and remote["weights"]["sha256"] == local["weights"]["sha256"]
    assert sorted(p.name for p in dest.iterdir()) == sorted(p.name for p in local_out.iterdir())
    import numpy as np

    got, want = _features(dest / "features"), _features(local_out / "features")
    assert sorted(got) == sorted(want)
    for name, vector in want.items():
        np.testing.assert_allclose(got[name], vector, rtol=1e-4, atol=1e-5, err_msg=name)
