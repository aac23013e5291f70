"""Test support for the AWS area: a moto server on 127.0.0.1 (real HTTP), an environment that
points boto3 at it with fake credentials, a fake EMR that advances state at each poll, and a
CLI runner that injects the outside world. Imported by tests/aws/conftest.py and by the
tests/e2e/test_aws_*.py files (they add this folder to sys.path)."""
from __future__ import annotations

import copy
import gzip
import os
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import boto3
import pytest
from click.testing import CliRunner

from bigfruits.aws.cli import aws
from bigfruits.aws.context import Injected
from bigfruits.aws.request import AwsRequest
from bigfruits.aws.send import Sender

REGION = "eu-west-1"
ACCOUNT = "123456789012"  # moto's account
BUCKET = f"bigfruits-{ACCOUNT}-{REGION}"
CALLER_IP = "203.0.113.7"  # TEST-NET-3: never a real address


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _self_signed_cert(folder: Path) -> Tuple[Path, Path]:
    """HTTPS matters: our buckets deny non-TLS requests, and moto enforces bucket policies."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )
    return cert, key


@pytest.fixture(scope="session")
def moto_tls(tmp_path_factory: pytest.TempPathFactory) -> Tuple[Path, Path]:
    return _self_signed_cert(tmp_path_factory.mktemp("tls"))


def _urlopen(url: str, cafile: Path, method: str = "GET") -> None:
    context = ssl.create_default_context(cafile=str(cafile))
    urllib.request.urlopen(urllib.request.Request(url, method=method), timeout=5, context=context).close()


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
    deadline = time.monotonic() + 60
    while True:
        try:
            _urlopen(f"{url}/moto-api/", cert)
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail("moto server did not start")
            time.sleep(0.2)
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
    _urlopen(f"{moto_url}/moto-api/reset", moto_tls[0], method="POST")
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
    The policy's shape is checked with botocore's Stubber in tests/aws/test_bucket.py."""

    def __init__(self, inner: Sender) -> None:
        self.__dict__.update(inner.__dict__)
        self.skipped: List[AwsRequest] = []

    def send(self, request: AwsRequest) -> Dict[str, Any]:
        if request.operation == "PutBucketPolicy":
            self.skipped.append(request)
            return {}
        return super().send(request)


class FakeEmr(MotoSender):
    """Moto's clusters jump to WAITING and its steps never finish: this sender passes every
    request to moto, but answers DescribeCluster/DescribeStep with the next state of a script
    at each poll (like mrjob's mock EMR), and can run a hook when a step completes."""

    def __init__(self, inner: Sender, cluster_states: Optional[List[str]] = None,
                 step_states: Optional[List[str]] = None, cluster_reason: Optional[Dict[str, str]] = None,
                 step_failure: Optional[Dict[str, str]] = None,
                 on_step_done: Optional[Callable[[str, str], None]] = None) -> None:
        super().__init__(inner)
        self.cluster_states = list(cluster_states or ["STARTING", "BOOTSTRAPPING", "WAITING"])
        self.step_states = list(step_states or ["PENDING", "RUNNING", "COMPLETED"])
        self.cluster_reason = cluster_reason
        self.step_failure = step_failure
        self.on_step_done = on_step_done
        self.terminated: List[str] = []
        self.polls: Dict[str, int] = {}

    def _next(self, key: str, script: List[str]) -> str:
        n = self.polls.get(key, 0)
        self.polls[key] = n + 1
        return script[min(n, len(script) - 1)]

    def send(self, request: AwsRequest) -> Dict[str, Any]:
        answer = super().send(request)
        if request.operation == "TerminateJobFlows":
            self.terminated += request.params["JobFlowIds"]
        elif request.operation == "DescribeCluster" and request.params["ClusterId"] not in self.terminated:
            answer = copy.deepcopy(answer)
            state = self._next("cluster:" + request.params["ClusterId"], self.cluster_states)
            answer["Cluster"]["Status"]["State"] = state
            if state == "TERMINATED_WITH_ERRORS" and self.cluster_reason:
                answer["Cluster"]["Status"]["StateChangeReason"] = self.cluster_reason
        elif request.operation == "DescribeStep":
            answer = copy.deepcopy(answer)
            state = self._next("step:" + request.params["StepId"], self.step_states)
            answer["Step"]["Status"]["State"] = state
            if state == "FAILED" and self.step_failure:
                answer["Step"]["Status"]["FailureDetails"] = self.step_failure
            if state in ("COMPLETED", "FAILED") and self.on_step_done:
                self.on_step_done(request.params["ClusterId"], request.params["StepId"])
        return answer


def injected(fake: Optional[Callable[[Sender], Sender]] = None, answers: Optional[List[bool]] = None) -> Injected:
    """No real sleeping, a fixed caller IP, and scripted answers to confirmations."""
    clock = {"t": 0.0}

    def sleep(seconds: float) -> None:
        clock["t"] += seconds

    replies = list(answers or [])
    return Injected(wrap_sender=fake or MotoSender, ip_lookup=lambda: CALLER_IP, sleep=sleep,
                    clock=lambda: clock["t"], poll_interval_s=30.0,
                    confirm=(lambda q: replies.pop(0)) if answers is not None else None)


def run(args: List[str], obj: Optional[Injected] = None, expect_ok: bool = True) -> Any:
    """``bigfruits aws <args>`` as a user types it, through click (the group object itself)."""
    result = CliRunner().invoke(aws, args, obj=obj or injected(), catch_exceptions=True)
    if expect_ok and result.exit_code != 0:
        raise AssertionError(f"aws {' '.join(args)} failed ({result.exit_code}):\n{result.output}\n{result.exception!r}")
    return result


def put_gz(bucket: str, key: str, text: str) -> None:
    boto("s3").put_object(Bucket=bucket, Key=key, Body=gzip.compress(text.encode()))


def make_dataset(root: Path) -> Path:
    """A tiny Fruits-360-shaped tree (Test/<class>/<img>.jpg); bytes need not be real JPEGs."""
    for cls, n in (("apple", 2), ("banana", 3)):
        folder = root / "Test" / cls
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(n):
            (folder / f"{i}.jpg").write_bytes(f"{cls}-{i}".encode() * 10)
    return root


@pytest.fixture(scope="session")
def built_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Our real wheel, built once (what create-cluster uploads)."""
    from bigfruits.aws.wheel import build_wheel

    return build_wheel(tmp_path_factory.mktemp("wheel"))


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
