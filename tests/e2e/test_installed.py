"""bigfruits as users have it: the wheel built from this checkout, installed (not editable) into a
fresh venv with only its own dependencies, and run from an empty folder outside any checkout,
through the README's cloud steps against a moto server: create-bucket, upload-dataset,
create-keypair, create-cluster (notebook placed from the package, model uploaded), status,
submit, download-results, run, create-studio, terminate, destroy, ending with nothing of ours
left. Then the bootstrap, as the cluster runs it, installs from the wheelhouse that installed
package made, with no package index reachable.

The moto server is ``tests/support/aws/moto_main.py``: moto itself, plus what moto lacks for a
CLI in another process (where ``FakeEmr`` and ``StubbedAws`` cannot be injected): bucket policy
conditions evaluated as S3 does over HTTPS, EMR steps that complete as they are added (with a
stand-in result set under the step's ``--output``), and EMR Studio checked against moto's own
IAM, EC2 and S3.

The model: ImageNet weights cannot be downloaded here, so the user's cache is primed as
``bigfruits fetch-weights`` leaves it (Keras' download file, and its ONNX export in bigfruits'
cache), with a seeded weights file standing in for the download and its real export. The
installed package then needs neither TensorFlow nor ONNX Runtime for the cloud commands.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path
from typing import Dict, Iterator

import boto3
import pytest

from bigfruits.aws.procedures.wheel import build_from_checkout
from bigfruits.aws.requests.emr import clusters
from bigfruits.bench.local_servers import free_port
from bigfruits.pipeline.featurize import cache
from bigfruits.pipeline.featurize.model import IMAGENET_FILE, describe_weights
from tests.support.aws.server import BUCKET, REGION, moto_tls, wait_for_moto  # noqa: F401
from tests.support.cluster.node import (base_python311, clean_env, make_shims, node_bootstrap_env)
from tests.support.paths import REPO

pytestmark = [pytest.mark.slow, pytest.mark.node]

INSTALL_TIMEOUT_S = 15 * 60
COMMAND_TIMEOUT_S = 20 * 60


@pytest.fixture(scope="module")
def checkout_wheel(tmp_path_factory) -> Path:
    """The wheel as it is published: built from this checkout."""
    return build_from_checkout(REPO, tmp_path_factory.mktemp("dist"))


@pytest.fixture(scope="module")
def installed(checkout_wheel: Path, tmp_path_factory) -> Path:
    """A fresh venv (from the base interpreter, no site-packages of ours) with the wheel
    installed as a user installs it; its bin folder."""
    venv = tmp_path_factory.mktemp("user") / "venv"
    subprocess.run([base_python311(), "-m", "venv", str(venv)], check=True, timeout=300)
    done = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", str(checkout_wheel)],
                          capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S, env=clean_env())
    assert done.returncode == 0, done.stderr[-3000:]
    return venv / "bin"


@pytest.fixture(scope="module")
def moto_server(moto_tls, tmp_path_factory) -> Iterator[str]:
    """This module's own moto server (tests/support/aws/moto_main.py, steps that complete)."""
    cert, key = moto_tls
    port = free_port()
    log = open(tmp_path_factory.mktemp("moto") / "moto.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.support.aws.moto_main", "--complete-steps", "-H", "127.0.0.1",
         "-p", str(port), "-c", str(cert), "-k", str(key)],
        cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
        env={**os.environ, "MOTO_IAM_LOAD_MANAGED_POLICIES": "true", "PYTHONPATH": str(REPO)})
    url = f"https://127.0.0.1:{port}"
    try:
        wait_for_moto(url, cert, proc)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def prime_model_cache(home: Path, weights_file: Path) -> bytes:
    """The user's caches as `bigfruits fetch-weights` leaves them: Keras' ImageNet file (here a
    seeded weights file standing in for the download) and, in bigfruits' cache, that file's
    tensors' digest and their ONNX export (made here, with TensorFlow); the graph's bytes."""
    from bigfruits.pipeline.featurize.engines import prepare

    keras_file = home / "keras" / "models" / IMAGENET_FILE
    keras_file.parent.mkdir(parents=True)
    shutil.copyfile(weights_file, keras_file)
    prepared = prepare("onnxruntime", str(weights_file))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KERAS_HOME", str(home / "keras"))
        patch.setenv("BIGFRUITS_CACHE_DIR", str(home / "bigfruits-cache"))
        cache.remember_sha256(describe_weights("imagenet")[3], prepared.weights.sha256)
        from bigfruits.pipeline.featurize.engine_onnxruntime import OPSET

        cache.write_onnx(prepared.weights.sha256, OPSET, prepared.blob)
    return prepared.blob


@pytest.fixture
def user(installed: Path, moto_server: str, moto_tls, tmp_path: Path, weights_file: Path) -> Dict:
    """An empty working folder outside any checkout, the user's home folders, and the
    environment the CLI sees: credentials and region for the moto server, nothing of the tests'."""
    home = tmp_path / "home"
    work = tmp_path / "work"
    work.mkdir()
    graph = prime_model_cache(home, weights_file)
    env = clean_env({
        "AWS_ENDPOINT_URL": moto_server, "AWS_CA_BUNDLE": str(moto_tls[0]),
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": REGION,
        "AWS_CONFIG_FILE": str(home / "no-aws-config"), "AWS_SHARED_CREDENTIALS_FILE": str(home / "no-creds"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "XDG_CONFIG_HOME": str(home / "config"), "BIGFRUITS_STATE_DIR": str(home / "state"),
        "BIGFRUITS_CONFIG": str(home / "no-config.toml"),
        "KERAS_HOME": str(home / "keras"), "BIGFRUITS_CACHE_DIR": str(home / "bigfruits-cache"),
    })
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "BIGFRUITS_LIVY_HOME"):
        env.pop(name, None)
    requests = boto3.Session(region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing")
    return {"bin": installed, "work": work, "env": env, "graph": graph,
            "client": lambda service: requests.client(service, endpoint_url=moto_server,
                                                      verify=str(moto_tls[0]))}


def bigfruits(user: Dict, *args: str, ok: bool = True) -> str:
    """``bigfruits ARGS`` from the user's venv, in the empty working folder; stdout + stderr."""
    done = subprocess.run([str(user["bin"] / "bigfruits"), *args], cwd=user["work"], env=user["env"],
                          capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S, stdin=subprocess.DEVNULL)
    out = done.stdout + done.stderr
    if ok:
        assert done.returncode == 0, f"bigfruits {' '.join(args)} failed ({done.returncode}):\n{out[-4000:]}"
        assert "Traceback" not in out, out[-4000:]
    return out


def keys(user: Dict, prefix: str = "") -> Dict[str, int]:
    listed = user["client"]("s3").list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])
    return {item["Key"]: item["Size"] for item in listed}


def read(user: Dict, key: str) -> bytes:
    return user["client"]("s3").get_object(Bucket=BUCKET, Key=key)["Body"].read()


def wheel_files(data: bytes) -> Dict[str, bytes]:
    """A wheel's files by name, without RECORD (which lists the others; wheel pack remakes it)."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist() if not name.endswith("/RECORD")}


def test_installed_package_runs_the_readme_cloud_steps(user: Dict, checkout_wheel: Path, tmp_path: Path) -> None:
    site = subprocess.run([str(user["bin"] / "python"), "-c",
                           "import bigfruits.locations as l; print(l.project_root(), l.PACKAGE_DIR)"],
                          env=user["env"], cwd=user["work"], capture_output=True, text=True, check=True).stdout
    assert site.startswith("None ") and "site-packages" in site, site  # the installed package, no checkout

    bigfruits(user, "aws", "create-bucket")
    policy = json.loads(user["client"]("s3").get_bucket_policy(Bucket=BUCKET)["Policy"])
    assert [s["Condition"] for s in policy["Statement"]] == [{"Bool": {"aws:SecureTransport": "false"}}]

    out = bigfruits(user, "aws", "upload-dataset")  # the sample shipped in the package
    assert "not uploaded (not input images): 2 not .jpg/.jpeg/.png" in out, out
    raw = keys(user, "raw/")
    assert len([k for k in raw if k.endswith(".jpg")]) == 100 and all(k.endswith((".jpg", "/")) for k in raw), raw

    bigfruits(user, "aws", "create-keypair")
    out = bigfruits(user, "aws", "create-cluster", "--yes")
    password = re.search(r"JupyterHub user jovyan, password (\S+)", out)
    assert password, out
    graph_sha = hashlib.sha256(user["graph"]).hexdigest()
    assert read(user, f"models/{graph_sha}/model.onnx") == user["graph"]  # the model, uploaded
    notebook = json.loads(read(user, "jupyter/jovyan/bigfruits-jupyterhub.ipynb"))
    assert f"model = 's3://{BUCKET}/models/{graph_sha}/'" in json.dumps(notebook)  # placed, pointing at it
    [house] = [k for k in keys(user, "wheelhouse/")]
    tar = read(user, house)
    assert house == f"wheelhouse/{hashlib.sha256(tar).hexdigest()}.tar"
    with tarfile.open(fileobj=io.BytesIO(tar)) as archive:
        ours = archive.extractfile(clusters.wheel_name()).read()
    # the wheel the installed package repacked holds the published wheel's files, byte for byte
    assert wheel_files(ours) == wheel_files(checkout_wheel.read_bytes())

    emr = user["client"]("emr")
    [cluster] = emr.list_clusters()["Clusters"]
    assert re.search(r"WAITING|RUNNING", bigfruits(user, "aws", "status"))
    [action] = emr.list_bootstrap_actions(ClusterId=cluster["Id"])["BootstrapActions"]
    bootstrap_node(user, action, tmp_path / "node")

    out = bigfruits(user, "aws", "submit", "--", "--k", "5")
    output = re.search(r"results go to (s3://\S+)", out).group(1)
    bigfruits(user, "aws", "download-results", "results")
    assert (user["work"] / "results" / "manifest.json").is_file(), output

    out = bigfruits(user, "aws", "run", "--yes", "--download-to", "batch-results", "--", "--k", "5")
    assert (user["work"] / "batch-results" / "report.html").is_file(), out

    out = bigfruits(user, "aws", "create-studio")
    assert re.search(r"Studio URL: https://es-\w+\.emrstudio-prod\.", out), out

    bigfruits(user, "aws", "disconnect")
    bigfruits(user, "aws", "terminate")
    bigfruits(user, "aws", "destroy", "--yes")
    left = {"buckets": [b["Name"] for b in user["client"]("s3").list_buckets()["Buckets"]],
            "studios": emr.list_studios()["Studios"],
            "active clusters": emr.list_clusters(ClusterStates=["STARTING", "BOOTSTRAPPING", "RUNNING",
                                                                "WAITING"])["Clusters"],
            "roles": [r["RoleName"] for r in user["client"]("iam").list_roles()["Roles"]
                      if r["RoleName"].startswith("bigfruits")],
            "key pairs": user["client"]("ec2").describe_key_pairs()["KeyPairs"]}
    assert not any(left.values()), left
    # the working folder holds what the user asked for, nothing a build left behind
    assert sorted(p.name for p in user["work"].iterdir()) == ["batch-results", "results"]


def bootstrap_node(user: Dict, action: Dict, node: Path) -> None:
    """bootstrap.sh as the cluster runs it, with the arguments create-cluster gave, fetching
    from moto what create-cluster uploaded (sudo, dnf and aws shimmed, as in the node test),
    installing the wheelhouse the installed package made, with no package index reachable."""
    python = node / "python" / "bin" / "python3.11"
    shims = make_shims(node / "shims", ("sudo", "dnf", "aws"))
    env = node_bootstrap_env(python, node / "driver.py", shims)
    env.update({k: v for k, v in user["env"].items() if k.startswith("AWS_")})
    script = node / "bootstrap.sh"
    subprocess.run(["aws", "s3", "cp", action["ScriptPath"], str(script)], env=env, check=True,
                   capture_output=True, timeout=120)
    started = time.monotonic()
    done = subprocess.run(["bash", str(script), *action["Args"]], env=env, cwd=node,
                          capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S)
    assert done.returncode == 0, done.stderr[-4000:]
    check = subprocess.run([str(python), "-c", "import bigfruits, onnxruntime; print(bigfruits.__version__)"],
                           env=clean_env(), capture_output=True, text=True, timeout=120)
    assert check.returncode == 0 and check.stdout.strip(), check.stderr
    print(f"\nthe node installed the installed package's wheelhouse in {time.monotonic() - started:.0f} s")


LIVE_APPLICATION_STATES = ["CREATING", "CREATED", "STARTING", "STARTED", "STOPPING", "STOPPED"]


def test_installed_package_runs_the_serverless_steps(user: Dict, checkout_wheel: Path) -> None:
    """EMR Serverless from the installed package, against moto (its job runs are SUCCESS at
    once): create, run (the dependency archive made by that package for the image's Python 3.9
    from PyPI's wheels, the model from the user's cache), status, logs, destroy; nothing left."""
    bigfruits(user, "aws", "create-bucket")
    bigfruits(user, "aws", "upload-dataset")
    out = bigfruits(user, "aws", "serverless", "create")
    client = user["client"]("emr-serverless")
    [application] = client.list_applications(states=LIVE_APPLICATION_STATES)["applications"]
    # moto has no Service Quotas for emr-serverless: AWS's documented 16 vCPU, said so
    assert application["id"] in out and "quota: 16 (AWS's documented default" in out, out

    out = bigfruits(user, "aws", "serverless", "run", "--", "--k", "5")
    assert "SUCCESS" in out and "billed" in out, out
    [archive] = keys(user, "serverless/archives/")
    data = read(user, archive)
    assert archive == f"serverless/archives/{hashlib.sha256(data).hexdigest()}.tar.gz"
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        names = tar.getnames()
        ours = {name: tar.extractfile(name).read() for name in names
                if name.startswith("bigfruits/") and name.endswith(".py")}
    assert any(".cpython-39-x86_64" in name for name in names)  # made for the image's Python
    # our package inside is the installed one: the published wheel's modules, byte for byte
    published = wheel_files(checkout_wheel.read_bytes())
    assert ours and all(published[name] == body for name, body in ours.items())
    graph_sha = hashlib.sha256(user["graph"]).hexdigest()
    [run] = client.list_job_runs(applicationId=application["id"])["jobRuns"]
    args = client.get_job_run(applicationId=application["id"], jobRunId=run["id"])["jobRun"]["jobDriver"][
        "sparkSubmit"]["entryPointArguments"]
    assert args[-2:] == ["--model", f"s3://{BUCKET}/models/{graph_sha}/"]

    assert run["id"] in bigfruits(user, "aws", "serverless", "status")
    bigfruits(user, "aws", "serverless", "logs")  # moto's runs leave no log: one line saying so
    bigfruits(user, "aws", "destroy", "--yes")
    assert client.list_applications(states=LIVE_APPLICATION_STATES)["applications"] == []
    roles = [r["RoleName"] for r in user["client"]("iam").list_roles()["Roles"]
             if r["RoleName"].startswith("bigfruits")]
    assert roles == [] and user["client"]("s3").list_buckets()["Buckets"] == []
    assert sorted(p.name for p in user["work"].iterdir()) == []  # nothing built in the user's folder
