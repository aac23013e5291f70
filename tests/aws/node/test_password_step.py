"""The JupyterHub password step's command, run as command-runner.jar runs it (``bash -c``), with
``aws s3`` against the moto server and ``docker`` shimmed to record what ``chpasswd`` receives:
the password reaches chpasswd, and the secret object is gone afterwards, also when chpasswd fails."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from bigfruits.aws.requests import s3 as b
from bigfruits.aws.requests.emr.steps import COMMAND_RUNNER, jupyterhub_password_step
from tests.support.aws.server import BUCKET, REGION, boto
from tests.support.cluster.node import clean_env, make_shims


@pytest.mark.parametrize("chpasswd_fails", [False, True], ids=["ok", "chpasswd-fails"])
def test_password_reaches_chpasswd_and_the_secret_is_deleted(aws_env, tmp_path: Path, chpasswd_fails: bool) -> None:
    boto("s3").create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    key = b.jupyterhub_password_key("0123456789abcdef")
    boto("s3").put_object(**b.put_jupyterhub_password(BUCKET, key, "s3cret-Pw_1").params)
    step = jupyterhub_password_step(b.s3_uri(BUCKET, key))
    assert step["HadoopJarStep"]["Jar"] == COMMAND_RUNNER

    shims = make_shims(tmp_path / "shims", ("sudo", "aws", "docker"))
    env = clean_env({"DOCKER_SHIM_FAIL": "1"} if chpasswd_fails else {}, [shims.bin])
    done = subprocess.run(step["HadoopJarStep"]["Args"], env=env, capture_output=True, text=True, timeout=120)

    assert shims.read("docker.stdin") == "jovyan:s3cret-Pw_1\n"
    assert shims.read("docker.args").split() == ["exec", "-i", "jupyterhub", "chpasswd"]
    assert (done.returncode != 0) == chpasswd_fails, done.stderr
    assert "Contents" not in boto("s3").list_objects_v2(Bucket=BUCKET, Prefix=key), "the secret is still in S3"
