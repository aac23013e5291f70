"""``bigfruits run`` reading its input from S3 as a user runs it, through Toxiproxy (30 ms added
to every answer, 5% of connections reset, 5% stalled then closed, some slow to close) and
``S3Front`` (TLS as S3 does it, bursts of 503 SlowDown, every image's first answer cut
mid-body) to the moto server: every input accounted for, the features identical to a run on
the same images from local disk, the report's example images read from S3 too. Each fault is
shown to have happened (S3Front counts the 503s, the cut answers, the GETs and the connections
that ended before a request)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import boto3
import numpy as np
import pyarrow.parquet as pq
import pytest

from tests.support.aws.server import REGION, moto_tls, moto_url  # noqa: F401 (fixtures)
from tests.support.paths import SAMPLE, python_cmd
from tests.support.report_html import read_report
from tests.support.network.toxiproxy import toxiproxy, toxiproxy_session  # noqa: F401 (fixtures)

from bigfruits.bench.s3_front import S3Front

pytestmark = pytest.mark.slow

BUCKET = "fault-run"
IMAGES = 100  # the bundled sample, every image


def run(input_uri: str, out: Path, env: dict) -> dict:
    proc = subprocess.run(
        python_cmd("run", "--input", input_uri, "--output", str(out), "--weights", "random",
                   "--k", "5", "--engine", "onnxruntime", "--no-progress", "--master", "local[2]"),
        capture_output=True, text=True, timeout=900, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads((out / "manifest.json").read_text())


def features(out: Path) -> dict:
    table = pq.read_table(out / "features").to_pandas()
    return {path.split("/Test/", 1)[1]: np.asarray(f) for path, f in zip(table["path"], table["features"])}


def test_run_from_s3_through_faults_equals_the_local_run(tmp_path, moto_url, moto_tls, toxiproxy):  # noqa: F811
    files = sorted(SAMPLE.rglob("*.jpg"))[:IMAGES]
    local = tmp_path / "local" / "Test"
    s3 = boto3.session.Session().client(
        "s3", region_name=REGION, endpoint_url=moto_url, verify=str(moto_tls[0]),
        aws_access_key_id="testing", aws_secret_access_key="testing")
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    for path in files:
        (local / path.parent.name).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, local / path.parent.name / path.name)
        s3.put_object(Bucket=BUCKET, Key=f"raw/Test/{path.parent.name}/{path.name}",
                      Body=path.read_bytes())
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
               AWS_DEFAULT_REGION=REGION, AWS_CA_BUNDLE=str(moto_tls[0]),
               AWS_CONFIG_FILE=str(tmp_path / "none"), AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"))
    reference = run(str(local.parent), tmp_path / "out-local", env)

    with S3Front(int(moto_url.rsplit(":", 1)[1]), *moto_tls, upstream_ca=moto_tls[0],
                 burst=25, every=6, per_key=2, cut_per_key=1) as throttle:
        port = toxiproxy.proxy("s3", throttle.port)
        toxiproxy.toxic("s3", "latency", latency=30)
        # per *connection* (boto3 keeps its connections alive): each cut answer closes its
        # connection, so there are well over IMAGES connections, each drawn for these two;
        # none hit at all has a chance of 0.9**100, about 3e-5
        toxiproxy.toxic("s3", "reset_peer", toxicity=0.05, stream="upstream", timeout=0)
        toxiproxy.toxic("s3", "timeout", toxicity=0.05, timeout=500)
        toxiproxy.toxic("s3", "slow_close", toxicity=0.2, stream="upstream", delay=500)  # costs no retry
        manifest = run(f"s3a://{BUCKET}/raw", tmp_path / "out-s3",
                       {**env, "AWS_ENDPOINT_URL": f"https://127.0.0.1:{port}"})
    # first what a user would lose (an image whose every attempt failed is an error row here)
    assert manifest["images_failed"] == 0, pq.read_table(tmp_path / "out-s3" / "errors").to_pylist()
    assert manifest["images_total"] == manifest["images_ok"] == reference["images_ok"] == IMAGES
    assert throttle.served_503 >= 25
    assert throttle.cut_answers == IMAGES  # every image's first answer cut mid-body, then asked again
    object_gets = {k: n for k, n in throttle.gets.items() if "/raw/" in k}
    assert len(object_gets) == IMAGES and min(object_gets.values()) >= 2, object_gets
    assert throttle.connections_without_request >= 1, "no connection reset or stalled: the faults never happened"
    ours, theirs = features(tmp_path / "out-s3"), features(tmp_path / "out-local")
    assert ours.keys() == theirs.keys()
    for key in ours:
        assert np.array_equal(ours[key], theirs[key]), key
    # the report's examples are read from S3 by the same reader, through the same faults
    examples = [src for section, _, src in read_report((tmp_path / "out-s3" / "report.html").read_text(
        encoding="utf-8")).images if section == "Examples"]
    assert len(examples) == 4 * 10 and all(src.startswith("data:image/jpeg;base64,") for src in examples)
