"""A ``serverless run`` job run as EMR Serverless runs it, on this machine.

``bigfruits aws serverless run --python 3.11`` against moto builds the real dependency archive
(our wheel and its whole closure, for this machine's Python, by the same builder as for 3.9),
the driver script and the model, places them in the bucket and sends StartJobRun. Then what
EMR Serverless does with that job run is done here (tests/support/cluster/serverless_job.py):
the entry point and archive fetched from the bucket, the archive unpacked as ``./deps`` for the
driver, ``spark.emr-serverless.driverEnv.*`` made the driver's environment, every other setting
passed to Spark 3.5's spark-submit as it is; executors on a Spark standalone cluster, which
unpack ``spark.archives`` in their own working folders. The Python is a bare venv holding only
pyspark 3.5 (nothing of ours: everything comes from the archive), no package index reachable,
S3 through S3A to moto. The features equal a local ``bigfruits run`` of the same images.

Once more with newer numpy, pandas and pyarrow installed in that Python: the archive's copies
win, on the driver (the run's manifest) and on the executors (asked directly).
"""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any, Dict

import numpy as np
import pytest

from bigfruits.aws.procedures.serverless_archive import TAG_FILE
from bigfruits.aws.procedures.node_files import file_sha256
from bigfruits.aws.requests.emr_serverless import interpreter
from tests.support.aws.cli import injected, run
from tests.support.aws.server import BUCKET, MotoSender, aws_env, boto, moto_tls, moto_url
from tests.support.cluster.node import (PIP_NETWORK_VARS, SPARK_VENV, base_python311, clean_env, java_home,
                                        s3a_defaults, spark35_home, truststore, write_spark_conf)
from tests.support.cluster.serverless_job import prepare
from tests.support.paths import SAMPLE, python_cmd
from tests.support.spark.standalone import standalone_cluster
from bigfruits.bench.local_servers import free_port

__all__ = ["aws_env", "moto_tls", "moto_url"]  # fixtures used below

pytestmark = [pytest.mark.slow, pytest.mark.node]

#: Real photos of three classes (spaces in the keys, as in Fruits-360), two each.
CLASSES, PER_CLASS = ("Apple Braeburn", "Cherry Wax Red", "Kiwi"), 2
RUN_ARGS = ["--k", "2", "--weights", "random", "--seed", "11"]
JOB_TIMEOUT_S = 15 * 60
#: The bare Python once more, with these newer than the archive's (EMR 7's constraints: numpy<2...).
NEWER = ("numpy>=2", "pandas>=2.3", "pyarrow>=18")
NEWER_VENV = SPARK_VENV.parent / "spark-3.5-newer"
IVY_JARS = Path.home() / ".ivy2" / "jars"

CHECK = '''"""Which numpy, pandas and pyarrow the driver and an executor import."""
import json
import sys
from pyspark.sql import SparkSession

def where(_):
    import numpy, pandas, pyarrow
    return {m.__name__: [m.__version__, m.__file__] for m in (numpy, pandas, pyarrow)}

spark = SparkSession.builder.getOrCreate()
found = {"driver": where(0), "executor": spark.sparkContext.parallelize([0], 1).map(where).collect()[0]}
print("imports: " + json.dumps(found))
spark.stop()
'''


def newer_python() -> Path:
    """pyspark 3.5 with ``NEWER`` in a venv kept in ~/.cache between runs."""
    python = NEWER_VENV / "bin" / "python"
    if not (NEWER_VENV / ".complete").is_file():
        shutil.rmtree(NEWER_VENV, ignore_errors=True)
        subprocess.run([base_python311(), "-m", "venv", str(NEWER_VENV)], check=True, timeout=120)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "pyspark==3.5.*", *NEWER], check=True, timeout=900)
        (NEWER_VENV / ".complete").write_text("\n".join(NEWER) + "\n")
    return python


def images(root: Path) -> Path:
    """``PER_CLASS`` real Fruits-360 images of each of ``CLASSES``, from the bundled sample
    (in every clone: this test never skips for want of data)."""
    for label in CLASSES:
        (root / label).mkdir(parents=True)
        for path in sorted((SAMPLE / "Test" / label).glob("*.jpg"))[:PER_CLASS]:
            shutil.copy(path, root / label)
    assert len(list(root.rglob("*.jpg"))) == len(CLASSES) * PER_CLASS
    return root


def spark_conf(tmp: Path, spark_home: Path, moto_url: str, cert: Path) -> Path:
    """S3 through S3A to moto (EMR gives its jobs S3 natively): hadoop-aws from the Ivy cache
    as plain jars when there (nothing fetched), the moto certificate trusted by every JVM."""
    store = truststore(tmp / "tls", cert)
    defaults = s3a_defaults(spark_home, moto_url, store)
    defaults.pop("spark.master")
    jars = sorted(IVY_JARS.glob("*.jar")) if IVY_JARS.is_dir() else []
    if any("hadoop-aws" in j.name for j in jars) and any("sdk-bundle" in j.name for j in jars):
        defaults.pop("spark.jars.packages")
        defaults["spark.jars"] = ",".join(str(j) for j in jars if "hadoop-aws" in j.name or "aws-java" in j.name
                                          or "wildfly" in j.name)
    defaults["spark.executor.extraJavaOptions"] = defaults["spark.driver.extraJavaOptions"]
    return write_spark_conf(tmp / "spark-conf", defaults, {})


def no_index_env(extra: Dict[str, str]) -> Dict[str, str]:
    env = clean_env(extra)
    for name in PIP_NETWORK_VARS:
        env.pop(name, None)
    env["PIP_INDEX_URL"] = f"http://127.0.0.1:{free_port()}/simple"  # nothing listens there
    return env


def job_run(index: int = -1) -> Dict[str, Any]:
    client = boto("emr-serverless")
    [application] = client.list_applications()["applications"]
    runs = client.list_job_runs(applicationId=application["id"])["jobRuns"]  # in the order started
    return client.get_job_run(applicationId=application["id"], jobRunId=runs[index]["id"])["jobRun"]


def submit(found: Dict[str, Any], workdir: Path, master: str, python: Path, env: Dict[str, str]) -> str:
    """Run the job run ``found`` here; its stdout (the test fails with its stderr's end)."""
    job = prepare(found, boto("s3"), workdir, Path(env["SPARK_HOME"]), master, {interpreter("3.11"): str(python)}, env)
    # the archive in the bucket is named by its content
    assert job.archive_key.endswith(f"{file_sha256(job.archive)}.tar.gz"), job.archive_key
    done = subprocess.run(job.command, env=job.env, cwd=job.cwd, capture_output=True, text=True,
                          timeout=JOB_TIMEOUT_S)
    kept = [line for line in done.stderr.splitlines() if " INFO " not in line and " WARN " not in line]
    assert done.returncode == 0, "\n".join(kept[-40:])
    return done.stdout


def features(folder: Path) -> Dict[str, np.ndarray]:
    import pandas as pd

    frame = pd.read_parquet(folder)
    return {f"{label}/{path.rsplit('/', 1)[1]}": np.asarray(vector, dtype=float)
            for path, label, vector in zip(frame["path"], frame["label"], frame["features"])}


def assert_same_features(got: Dict[str, np.ndarray], want: Dict[str, np.ndarray]) -> None:
    assert sorted(got) == sorted(want) and len(want) == len(CLASSES) * PER_CLASS
    for name, vector in want.items():
        np.testing.assert_allclose(got[name], vector, rtol=1e-4, atol=1e-5, err_msg=name)


def test_the_job_run_as_emr_serverless_runs_it(aws_env, moto_url, moto_tls, tmp_path: Path) -> None:
    pictures = images(tmp_path / "images")
    obj = injected(MotoSender)
    run(["create-bucket"])
    run(["upload-dataset", str(pictures)])
    run(["serverless", "create"], obj)
    out = run(["serverless", "run", "--python", "3.11", "--no-wait", "--", *RUN_ARGS], obj).output
    first = job_run()
    output_uri = first["jobDriver"]["sparkSubmit"]["entryPointArguments"][4]
    assert output_uri in out

    spark_home = spark35_home()
    bare = SPARK_VENV / "bin" / "python"
    conf = spark_conf(tmp_path, spark_home, moto_url, moto_tls[0])
    env = no_index_env({"SPARK_HOME": str(spark_home), "SPARK_CONF_DIR": str(conf), "JAVA_HOME": java_home(),
                        "SPARK_LOCAL_IP": "127.0.0.1"})
    cluster = standalone_cluster(spark_home, tmp_path / "standalone", workers=1, cores=2, memory="3g", env=env)
    with cluster as (master, _):
        submit(first, tmp_path / "job-1", master, bare, env)
        dest = tmp_path / "results"
        run(["download-results", str(dest)])
        local = tmp_path / "local"
        done = subprocess.run(python_cmd("run", "--input", str(pictures), "--output", str(local), "--no-progress",
                                         *RUN_ARGS), capture_output=True, text=True, timeout=JOB_TIMEOUT_S)
        assert done.returncode == 0, done.stderr[-3000:]
        want = features(local / "features")
        assert_same_features(features(dest / "features"), want)
        remote, mine = (json.loads((d / "manifest.json").read_text()) for d in (dest, local))
        assert remote["model"] == mine["model"] and remote["images_ok"] == len(want)
        assert remote["versions"]["spark"].startswith("3.5.")

        # once more, the Python holding newer numpy, pandas and pyarrow: the archive's win
        newer = newer_python()
        run(["serverless", "run", "--python", "3.11", "--no-wait", "--output", f"s3://{BUCKET}/output/newer/",
             "--", *RUN_ARGS], obj)
        submit(job_run(), tmp_path / "job-2", master, newer, env)
        dest2 = tmp_path / "results-newer"
        run(["download-results", str(dest2)])
        assert_same_features(features(dest2 / "features"), want)
        archive_versions = packed_versions(tmp_path / "job-2" / "deps")
        installed = venv_versions(newer)
        versions = json.loads((dest2 / "manifest.json").read_text())["versions"]
        for name in ("numpy", "pandas", "pyarrow"):
            assert versions[name] == archive_versions[name] != installed[name], (name, versions, installed)

        # and the executors: a check script run with the same settings as that job run
        check_key = "serverless/scripts/check-imports.py"
        boto("s3").put_object(Bucket=BUCKET, Key=check_key, Body=CHECK.encode())
        probe = {**job_run(), "jobDriver": {"sparkSubmit": {**job_run()["jobDriver"]["sparkSubmit"],
                                                            "entryPoint": f"s3://{BUCKET}/{check_key}",
                                                            "entryPointArguments": []}}}
        stdout = submit(probe, tmp_path / "job-3", master, newer, env)
        seen = json.loads(stdout.split("imports: ", 1)[1].splitlines()[0])
        for side in ("driver", "executor"):
            for name in ("numpy", "pandas", "pyarrow"):
                version, path = seen[side][name]
                assert version == archive_versions[name] and "/deps/" in path, (side, name, version, path)


def packed_versions(deps: Path) -> Dict[str, str]:
    tag = json.loads((deps / TAG_FILE).read_text())
    found = {}
    for wheel in tag["wheels"]:
        name, version = wheel.split("-")[:2]
        found[name.lower()] = version
    return found


def venv_versions(python: Path) -> Dict[str, str]:
    code = ("import json, importlib.metadata as m; "
            "print(json.dumps({n: m.version(n) for n in ('numpy', 'pandas', 'pyarrow')}))")
    return json.loads(subprocess.run([str(python), "-c", code], env=clean_env(), capture_output=True, text=True,
                                     check=True).stdout)
