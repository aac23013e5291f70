"""The pipeline on a real Spark standalone cluster (a master and two workers from the pyspark
distribution, on 127.0.0.1), so the broadcast and the Python workers cross process boundaries."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from bigfruits.bench.local_servers import free_port
from tests.support.paths import SAMPLE, python_cmd
from tests.support.datasets import assert_features_match, keras_features

pytestmark = pytest.mark.slow
START_TIMEOUT_S = 90


def alive_workers(ui_port: int) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{ui_port}/json/", timeout=2) as reply:
            return int(json.load(reply).get("aliveworkers", 0))
    except (OSError, ValueError):  # not up yet: refused, or an empty/partial page while starting
        return 0


@pytest.fixture(scope="module")
def standalone_master(tmp_path_factory):
    import pyspark

    spark_home = Path(pyspark.__file__).parent
    logs = tmp_path_factory.mktemp("standalone")
    env = {**os.environ, "SPARK_HOME": str(spark_home), "SPARK_LOCAL_IP": "127.0.0.1",
           "PYSPARK_PYTHON": sys.executable, "SPARK_NO_DAEMONIZE": "1"}
    spark_class = str(spark_home / "bin" / "spark-class")
    port, ui = free_port(), free_port()
    procs = []

    def start(args, log_name):  # type: ignore[no-untyped-def]
        # The child writes to its own descriptor of the log; ours is closed at once.
        with open(logs / log_name, "wb") as log:
            procs.append(subprocess.Popen([spark_class, *args], env=env, stdout=log,
                                          stderr=subprocess.STDOUT))

    try:
        start(["org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
               "--port", str(port), "--webui-port", str(ui)], "master.log")
        for i in range(2):
            start(["org.apache.spark.deploy.worker.Worker", f"spark://127.0.0.1:{port}",
                   "--host", "127.0.0.1", "--cores", "1", "--memory", "2g",
                   "--webui-port", str(free_port()), "--work-dir", str(logs / f"work{i}")],
                  f"worker{i}.log")
        deadline = time.monotonic() + START_TIMEOUT_S
        while alive_workers(ui) < 2:
            if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                pytest.fail("standalone cluster did not start:\n" + (logs / "master.log").read_text()[-2000:])
            time.sleep(1)
        yield f"spark://127.0.0.1:{port}", ui
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def test_run_on_standalone_cluster(standalone_master, weights_file, tmp_path):
    master, ui = standalone_master
    images = tmp_path / "images"
    shutil.copytree(SAMPLE / "Test", images / "Test")
    out = tmp_path / "out"
    proc = subprocess.run(
        python_cmd("run", "--master", master, "--input", str(images), "--output", str(out),
                   "--weights", str(weights_file), "--k", "4", "--limit", "24", "--no-progress",
                   "--conf", "spark.executor.memory=1g", "--conf", "spark.cores.max=2"),
        capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["spark_master"] == master
    assert manifest["images_total"] == manifest["images_ok"] == 24
    # two executors (one per worker), each with its own Python worker that built the model once
    assert manifest["python_workers"] >= 2
    assert manifest["engine_builds"] == manifest["python_workers"]
    features = pq.read_table(out / "features").to_pandas()
    chosen = [Path(p[len("file:"):]) for p in features["path"]]
    assert_features_match(features, keras_features(chosen, weights_file))
    with urllib.request.urlopen(f"http://127.0.0.1:{ui}/json/", timeout=5) as reply:
        apps = json.load(reply)["completedapps"]
    assert any(app["name"] == "bigfruits" for app in apps)
