"""Publishing on an object store, through Hadoop's S3A to moto over HTTPS, under Spark 3.5 (EMR 7's):
``s3://`` and ``s3a://`` outputs, directly and through Toxiproxy's latency, resets and slow closes;
a failure midway through the move never leaves a complete-looking
output (no manifest.json), keeps the staging folder complete and names it in the error; with
--overwrite the old output stops looking complete before it goes, and stays intact when the run
fails before publishing. The driver script runs in Spark 3.5's own Python (tests/support/cluster/node.py)."""
from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Dict, List

import pytest

from tests.support.aws.server import aws_env, boto, moto_tls, moto_url
from tests.support.cluster.node import (
    clean_env, java_home, s3a_defaults, spark35_home, truststore, write_spark_conf,
)
from tests.support.paths import REPO
from tests.support.network.toxiproxy import toxiproxy, toxiproxy_session

__all__ = ["aws_env", "moto_tls", "moto_url", "toxiproxy", "toxiproxy_session"]  # fixtures used below

pytestmark = [pytest.mark.slow, pytest.mark.node]

BUCKET = "publish"

DRIVER = r'''
import json, sys
from pyspark.sql import SparkSession
from bigfruits.pipeline import outputs
from bigfruits.pipeline.outputs import OutputTarget, PublishError

spark = SparkSession.builder.getOrCreate()
results = {"fs": {}}


def staged(output, run_id, overwrite=False):
    target = OutputTarget(spark, output, run_id)
    target.check_free(overwrite)
    spark.range(20).repartition(3).write.parquet(target.uri("features"))
    target.write_single_csv(spark.range(20).selectExpr("id", "id * 2 AS twice").coalesce(1), "pca.csv")
    with open(target.local_file("report.html"), "w") as fh:
        fh.write(run_id)
    target.put("report.html")
    results["fs"][output] = target.fs.getClass().getName()
    return target


def failing_after(n):
    real, calls = OutputTarget._copy_file, []

    def copy(self, source, destination):
        if len(calls) == n:
            raise OSError("simulated: connection reset during the copy")
        calls.append(source)
        real(self, source, destination)
    return copy


def publish(target, overwrite, copy=None):
    saved = OutputTarget._copy_file
    if copy:
        OutputTarget._copy_file = copy
    try:
        target.publish({"run_id": target.run_id}, overwrite)
        return {"ok": True, "staging": target.staging}
    except PublishError as exc:
        target.discard()  # what run_pipeline does on any failure
        return {"ok": False, "error": str(exc), "staging": target.staging}
    finally:
        OutputTarget._copy_file = saved


results["ok"] = publish(staged("s3://publish/ok", "run1"), False)
results["fail"] = publish(staged("s3://publish/fail", "run2"), False, failing_after(2))
publish(staged("s3a://publish/over", "old"), False)
results["over_fail"] = publish(staged("s3a://publish/over", "new", True), True, failing_after(1))
publish(staged("s3a://publish/kept", "old"), False)
staged("s3a://publish/kept", "new", True).discard()  # the run failed before publishing
print("RESULTS " + json.dumps(results))
spark.stop()
'''


def _keys(prefix: str) -> List[str]:
    answer = boto("s3").list_objects_v2(Bucket=BUCKET, Prefix=prefix)
    return sorted(o["Key"][len(prefix):] for o in answer.get("Contents", []) if not o["Key"].endswith("/"))


def _staging_keys(staging: str) -> List[str]:
    return _keys(staging.split(f"{BUCKET}/", 1)[1] + "/")


def _shape(keys: List[str]) -> List[str]:
    """Keys with the write's UUID taken out of Spark's part-file names."""
    return sorted(re.sub(r"^(.*/part-\d+)-[0-9a-f-]+", r"\1", key) for key in keys)


@pytest.mark.parametrize("network", ["direct", "faults"])
def test_publish_on_s3a_never_looks_complete_after_a_failure(aws_env, moto_tls, moto_url, tmp_path: Path,
                                                             request, network: str) -> None:
    """``faults``: S3A reaches moto through Toxiproxy adding 30 ms to every answer, resetting
    2% of connections and holding some open on close; every outcome below is the same as
    without them. The latency always applies; a reset may not happen at all (Toxiproxy draws
    per connection and S3A keeps a few pooled connections alive), so this case claims no
    retry: what a lost connection midway through the publish does is the simulated failure
    below, which always happens (reads retried through resets: tests/e2e/test_read_s3.py)."""
    boto("s3").create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    endpoint = moto_url
    if network == "faults":
        toxiproxy = request.getfixturevalue("toxiproxy")
        port = toxiproxy.proxy("s3", int(moto_url.rsplit(":", 1)[1]))
        toxiproxy.toxic("s3", "latency", latency=30)
        toxiproxy.toxic("s3", "reset_peer", toxicity=0.02, stream="upstream", timeout=0)
        toxiproxy.toxic("s3", "slow_close", toxicity=0.2, stream="upstream", delay=500)
        endpoint = f"https://127.0.0.1:{port}"
    spark_home = spark35_home()
    conf = write_spark_conf(tmp_path / "conf", s3a_defaults(spark_home, endpoint, truststore(tmp_path, moto_tls[0]),
                                                            master="local[1]"), {})
    script = tmp_path / "driver.py"
    script.write_text(DRIVER)
    python = spark_home.parents[3] / "bin" / "python"
    done = subprocess.run([str(python), str(script)], capture_output=True, text=True, timeout=900, cwd=tmp_path,
                          env=clean_env({"PYTHONPATH": str(REPO / "src"), "SPARK_CONF_DIR": str(conf),
                                         "JAVA_HOME": java_home(), "SPARK_LOCAL_IP": "127.0.0.1"}))
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULTS ")]
    assert done.returncode == 0 and lines, done.stderr[-4000:]
    results: Dict = json.loads(lines[0][len("RESULTS "):])
    assert set(results["fs"].values()) == {"org.apache.hadoop.fs.s3a.S3AFileSystem"}

    # A publish that works: the data, then the manifest; no staging left.
    ok = _keys("ok/")
    assert "manifest.json" in ok and "report.html" in ok and any(k.startswith("features/part-") for k in ok)
    csv = boto("s3").get_object(Bucket=BUCKET, Key="ok/pca.csv")["Body"].read().decode().splitlines()
    assert csv[0] == "id,twice" and len(csv) == 21 and csv[5] == "4,8"  # one file, moved into place
    assert not [k for k in ok if "_pca.csv.parts" in k]
    assert not _staging_keys(results["ok"]["staging"])

    # Failing after two files: no manifest at the output, staging complete and named.
    fail = results["fail"]
    assert not fail["ok"] and fail["staging"] in fail["error"] and "simulated" in fail["error"]
    assert "manifest.json" not in _keys("fail/") and len(_keys("fail/")) == 2
    assert _shape(_staging_keys(fail["staging"])) == _shape([k for k in ok if k != "manifest.json"])

    # --overwrite failing midway: the old output no longer looks complete; the new one is in staging.
    over = results["over_fail"]
    assert not over["ok"] and over["staging"] in over["error"]
    assert "manifest.json" not in _keys("over/")
    assert _shape(_staging_keys(over["staging"])) == _shape([k for k in ok if k != "manifest.json"])

    # --overwrite of a run that failed before publishing: the old output is untouched.
    kept = _keys("kept/")
    assert "manifest.json" in kept and boto("s3").get_object(Bucket=BUCKET, Key="kept/report.html")["Body"].read() == b"old"
    assert not [k for k in _keys("") if k.startswith(".kept.staging")]
