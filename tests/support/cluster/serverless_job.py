"""EMR Serverless's side of a job run, on this machine: what it does with a StartJobRun's
``jobDriver``, reproduced with Spark 3.5's ``spark-submit``.

EMR Serverless fetches the entry point and every ``spark.archives`` entry from S3, unpacks each
archive under its ``#name`` in the driver's and each executor's working folder, starts the
driver with the ``spark.emr-serverless.driverEnv.*`` variables in its environment, and passes
every other setting to Spark as it is. Here: the driver runs in client mode from a folder where
the archive is unpacked (what EMR Serverless does for the driver's container); executors run on
a Spark standalone cluster, whose executors unpack ``spark.archives`` in their own working
folders like EMR Serverless's. Only what cannot exist here is replaced, and said:
- the image's ``/usr/bin/python3.X`` is a venv's python (``python_map``);
- the worker sizes (2 and 4 vCPU, 7-14 GB, dynamic allocation) become what two cores hold.
"""
from __future__ import annotations

import shlex
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Mapping, Tuple

from bigfruits.aws.requests.s3 import split_s3_uri

DRIVER_ENV = "spark.emr-serverless.driverEnv."
#: The job's worker sizes, made for EMR Serverless workers; replaced by ``LOCAL_SIZING``.
SIZING_PREFIXES = ("spark.driver.cores", "spark.driver.memory", "spark.executor.cores", "spark.executor.memory",
                   "spark.dynamicAllocation.")
LOCAL_SIZING = {"spark.driver.memory": "1g", "spark.executor.cores": "1", "spark.executor.memory": "1g",
                "spark.cores.max": "2"}


def confs_of(parameters: str) -> List[Tuple[str, str]]:
    """``--conf k=v --conf k2=v2`` -> [(k, v), (k2, v2)] (anything else fails the test)."""
    words = shlex.split(parameters)
    assert len(words) % 2 == 0 and set(words[::2]) == {"--conf"}, parameters
    return [tuple(word.split("=", 1)) for word in words[1::2]]  # type: ignore[misc]


@dataclass
class LocalJob:
    command: List[str]
    env: Dict[str, str]
    cwd: Path
    #: the archive as downloaded, its sha256 named in its S3 key
    archive: Path
    archive_key: str


def download(s3: Any, uri: str, path: Path) -> Path:
    bucket, key = split_s3_uri(uri)
    path.parent.mkdir(parents=True, exist_ok=True)
    s3.download_file(bucket, key, str(path))
    return path


def prepare(job_run: Mapping[str, Any], s3: Any, workdir: Path, spark_home: Path, master: str,
            python_map: Mapping[str, str], env: Mapping[str, str]) -> LocalJob:
    """The spark-submit command, environment and working folder of ``job_run`` (GetJobRun's
    ``jobRun``), its entry point and archive fetched from S3."""
    submit = job_run["jobDriver"]["sparkSubmit"]
    driver = download(s3, submit["entryPoint"], workdir / "entry-point" / Path(submit["entryPoint"]).name)
    driver_env, args = dict(env), []
    archive, archive_key = Path(), ""
    for key, value in confs_of(submit["sparkSubmitParameters"]):
        value = python_map.get(value, value)
        if key == "spark.archives":
            uri, _, name = value.partition("#")
            archive_key = split_s3_uri(uri)[1]
            archive = download(s3, uri, workdir / "fetched" / Path(archive_key).name)
            with tarfile.open(archive) as tar:  # the driver's copy, in its working folder
                tar.extractall(workdir / name, filter="data")
            value = f"file://{archive}#{name}"
        if key.startswith(DRIVER_ENV):
            driver_env[key[len(DRIVER_ENV):]] = value
        elif not key.startswith(SIZING_PREFIXES):
            args += ["--conf", f"{key}={value}"]
    for key, value in LOCAL_SIZING.items():
        args += ["--conf", f"{key}={value}"]
    command = [str(spark_home / "bin" / "spark-submit"), "--master", master, "--deploy-mode", "client", *args,
               str(driver), *submit["entryPointArguments"]]
    return LocalJob(command, driver_env, workdir, archive, archive_key)
