"""A moto server on 127.0.0.1 (real HTTPS) for the AWS tests, the environment that points boto3
at it with fake credentials, a sender that goes there, and what is left of ours on it.
Fixtures ``moto_tls``, ``moto_url``, ``aws_env`` (tests/aws/conftest.py imports them)."""
from __future__ import annotations

import gzip
import os
import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

import boto3
import pytest

from bigfruits.aws.core.request import AwsRequest
from bigfruits.aws.core.send import Sender
from bigfruits.bench.local_servers import free_port
from bigfruits.bench.s3_front import self_signed_cert

REGION = "eu-west-1"
ACCOUNT = "123456789012"  # moto's account
BUCKET = f"bigfruits-{ACCOUNT}-{REGION}"
CALLER_IP = "203.0.113.7"  # TEST-NET-3: never a real address


@pytest.fixture(scope="session")
def moto_tls(tmp_path_factory: pytest.TempPathFactory) -> Tuple[Path, Path]:
    """HTTPS matters: our buckets deny non-TLS requests, and moto enforces bucket policies."""
    return self_signed_cert(tmp_path_factory.mktemp("tls"))


def _urlopen(url: str, cafile: Path, method: str = "GET", timeout: float = 30.0) -> None:
    context = ssl.create_default_context(cafile=str(cafile))
    urllib.request.urlopen(urllib.request.Request(url, method=method), timeout=timeout, context=context).close()


def wait_for_moto(url: str, cert: Path, proc: "subprocess.Popen[bytes]", timeout_s: float = 60) -> None:
    """Until the moto server at ``url`` answers (it fails the test if the process ends first)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            _urlopen(f"{url}/moto-api/", cert)
            return
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail("moto server did not start")
            time.sleep(0.2)


@pytest.fixture(scope="session")
def moto_url(moto_tls: Tuple[Path, Path]) -> Iterator[str]:
    """One moto server (HTTPS, 127.0.0.1, free port) for the session, reset by ``aws_env``."""
    cert, key = moto_tls
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port), "-c", str(cert), "-k", str(key)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        # AWS-managed policies (the EMR ones we attach) exist in moto only when loaded.
        env={**os.environ, "MOTO_IAM_LOAD_MANAGED_POLICIES": "true"},
    )
    url = f"https://127.0.0.1:{port}"
    wait_for_moto(url, cert, proc)
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture
def aws_env(moto_url: str, moto_tls: Tuple[Path, Path], monkeypatch: pytest.MonkeyPatch,
            tmp_path: Path) -> Dict[str, Any]:
    """boto3 -> moto via AWS_ENDPOINT_URL, fake credentials, state and keys under tmp_path."""
    # A reset reloads every AWS-managed IAM policy: measured > 30 s on 2 busy cores.
    _urlopen(f"{moto_url}/moto-api/reset", moto_tls[0], method="POST", timeout=180.0)
    monkeypatch.setenv("AWS_CA_BUNDLE", str(moto_tls[0]))
    for var in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("BIGFRUITS_CONFIG", str(tmp_path / "no-config.toml"))
    monkeypatch.setenv("BIGFRUITS_STATE_DIR", str(tmp_path / "state"))
    return {"url": moto_url, "tmp": tmp_path}


def boto(service: str) -> Any:
    """A client on the moto server (reads the same environment as the code under test)."""
    return boto3.Session(region_name=REGION).client(service)


class MotoSender(Sender):
    """Sends to moto, except PutBucketPolicy: moto ignores policy Conditions (see its
    ``put_bucket_policy`` docstring), so our TLS-only Deny would deny *every* later request.
    The policy's shape is checked with botocore's Stubber in tests/aws/requests/test_requests_by_service.py."""

    def __init__(self, inner: Sender) -> None:
        self.__dict__.update(inner.__dict__)
        self.skipped: List[AwsRequest] = []

    def send(self, request: AwsRequest) -> Dict[str, Any]:
        if request.operation == "PutBucketPolicy":
            self.skipped.append(request)
            return {}
        return super().send(request)


def put_gz(bucket: str, key: str, text: str) -> None:
    boto("s3").put_object(Bucket=bucket, Key=key, Body=gzip.compress(text.encode()))


def nothing_of_ours_left(project: str = "bigfruits") -> Dict[str, Any]:
    """Everything we could have created, as moto now lists it (all should be empty)."""
    tag = [{"Name": "tag:bigfruits:project", "Values": [project]}]
    ec2, emr, iam = boto("ec2"), boto("emr"), boto("iam")
    return {
        "buckets": [b["Name"] for b in boto("s3").list_buckets().get("Buckets", [])],
        "key_pairs": [k["KeyName"] for k in ec2.describe_key_pairs().get("KeyPairs", [])],
        "active_clusters": [c["Id"] for c in emr.list_clusters(
            ClusterStates=["STARTING", "BOOTSTRAPPING", "RUNNING", "WAITING", "TERMINATING"])["Clusters"]],
        "security_groups": [g["GroupId"] for g in ec2.describe_security_groups(Filters=tag)["SecurityGroups"]],
        "ssh_rules": [p for g in ec2.describe_security_groups()["SecurityGroups"]
                      for p in g.get("IpPermissions", []) if p.get("FromPort") == 22],
        "roles": [r["RoleName"] for r in iam.list_roles()["Roles"] if r["RoleName"].startswith(project)],
        "instance_profiles": [p["InstanceProfileName"] for p in iam.list_instance_profiles()["InstanceProfiles"]],
    }
