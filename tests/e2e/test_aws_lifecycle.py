"""The whole JupyterHub lifecycle as a user types it, against a moto server on 127.0.0.1:
create-bucket -> upload-dataset -> create-keypair -> create-cluster --yes -> status ->
submit -> download-results -> terminate -> destroy, ending with nothing of ours in moto.

moto: everything except step progress. FakeEmr (moto underneath): the step goes
PENDING -> RUNNING -> COMPLETED and "writes" the pipeline's output under the step's own --output,
because moto's steps never run.
"""
from __future__ import annotations

import re
import stat
from pathlib import Path

import pytest

from tests.support.aws.cli import built_wheel, injected, make_dataset, run
from tests.support.aws.emr import FakeEmr
from tests.support.aws.server import (
    BUCKET, aws_env, boto, moto_tls, moto_url, nothing_of_ours_left,
)

__all__ = ["aws_env", "built_wheel", "moto_tls", "moto_url"]  # fixtures used below


#: What the pipeline step writes under its --output when it completes (moto does not run it).
RESULTS = {"features/part-0.parquet": b"PAR1features", "pca/components.csv": b"pc1,pc2\n0.1,0.2\n"}


@pytest.mark.slow
def test_whole_lifecycle_leaves_nothing_behind(aws_env, built_wheel, imagenet_here, tmp_path: Path) -> None:
    data = make_dataset(tmp_path / "fruits")
    notebook = tmp_path / "bigfruits-jupyterhub.ipynb"
    notebook.write_text('{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}')

    out = run(["create-bucket"]).output
    assert f"s3://{BUCKET}" in out
    # The whole configuration as S3 reads it back: all four flags, all True (see
    # tests/aws/commands/test_create_bucket.py for the named test of this alone).
    assert boto("s3").get_public_access_block(Bucket=BUCKET)["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True, "IgnorePublicAcls": True,
        "BlockPublicPolicy": True, "RestrictPublicBuckets": True}
    run(["create-bucket"])  # idempotent

    assert "5 to upload" in run(["upload-dataset", str(data / "Test")]).output
    assert "0 to upload, 5 unchanged" in run(["upload-dataset", str(data / "Test")]).output
    (data / "Test" / "apple" / "0.jpg").write_bytes(b"changed")
    assert "1 to upload, 4 unchanged" in run(["upload-dataset", str(data / "Test")]).output

    run(["create-keypair"])
    pem = tmp_path / "xdg" / "bigfruits" / "keys" / "bigfruits-key.pem"
    assert stat.S_IMODE(pem.stat().st_mode) == 0o600

    out = run(["create-cluster", "--yes", "--wheel", str(built_wheel), "--notebook", str(notebook)],
              injected(lambda s: FakeEmr(s))).output
    assert "BOOTSTRAPPING" in out
    password = re.search(r"JupyterHub user jovyan, password (\S+)", out).group(1)
    cluster_id = boto("emr").list_clusters()["Clusters"][0]["Id"]
    keys = [o["Key"] for o in boto("s3").list_objects_v2(Bucket=BUCKET, Prefix="")["Contents"]]
    # Our wheel travels inside the nodes' wheelhouse, named by its content; the notebooks' model
    # (here the export of the ImageNet stand-in, tests/conftest.py) in a folder named by its graph.
    assert [k for k in keys if k.startswith("wheelhouse/") and k.endswith(".tar")]
    assert [k for k in keys if re.fullmatch(r"models/[0-9a-f]{64}/model\.onnx", k)]
    assert "jupyter/jovyan/bigfruits-jupyterhub.ipynb" in keys
    # The password waits, encrypted, in our bucket for the step; no EMR API shows it.
    [secret] = [key for key in keys if key.startswith("secrets/jupyterhub-password-")]
    stored = boto("s3").get_object(Bucket=BUCKET, Key=secret)
    assert stored["Body"].read() == f"jovyan:{password}\n".encode()
    assert stored["ServerSideEncryption"] == "AES256"
    password_step = [s for s in boto("emr").list_steps(ClusterId=cluster_id)["Steps"]
                     if s["Name"] == "set JupyterHub password"]
    assert len(password_step) == 1 and secret in " ".join(password_step[0]["Config"]["Args"])
    assert password not in str(boto("emr").list_steps(ClusterId=cluster_id))

    out = run(["status"]).output
    assert cluster_id in out and "WAITING" in out and "$" in out

    # No ImageNet weights here: the step runs seeded weights, whose graph this machine exports.
    out = run(["submit", "--", "--k", "5", "--weights", "random"],
              injected(lambda s: FakeEmr(s, results=RESULTS))).output
    assert "RUNNING" in out and "completed" in out
    step = boto("emr").list_steps(ClusterId=cluster_id)["Steps"][0]
    args = step["Config"]["Args"]
    assert args[-6:-2] == ["--k", "5", "--weights", "random"] and args[-2] == "--model"
    assert args[-1].startswith(f"s3://{BUCKET}/models/")  # the graph exported here, uploaded once

    dest = tmp_path / "results"
    run(["download-results", str(dest)])
    assert (dest / "pca" / "components.csv").read_text().startswith("pc1")

    out = run(["terminate"]).output
    assert "terminated" in out
    assert boto("emr").describe_cluster(ClusterId=cluster_id)["Cluster"]["Status"]["State"].startswith("TERMINATED")

    out = run(["destroy", "--yes"]).output
    assert "removed bucket" in out and "removed key-pair" in out and "removed iam-role" in out
    left = nothing_of_ours_left()
    assert left == {k: [] for k in left}, left
    assert not pem.exists()
