"""The pipeline on a real Spark standalone cluster (a master and two workers from the pyspark
distribution, on 127.0.0.1), so the broadcast and the Python workers cross process boundaries."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.support.paths import SAMPLE, python_cmd
from tests.support.datasets import assert_features_match, keras_features
from tests.support.spark.standalone import standalone_cluster

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def standalone_master(tmp_path_factory):
    import pyspark

    env = {**os.environ, "PYSPARK_PYTHON": sys.executable}
    with standalone_cluster(Path(pyspark.__file__).parent, tmp_path_factory.mktemp("standalone"), env=env) as found:
        yield found


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
