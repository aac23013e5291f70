"""EMR Serverless requests (boto3 client ``emr-serverless``): our application, its job runs, and
the Spark settings a job run carries. Nothing here sends anything.

The application (https://docs.aws.amazon.com/emr/latest/EMR-Serverless-UserGuide/app-behavior.html):
SPARK on an ``emr-7.*`` release (Spark 3.5, as our clusters), X86_64 (the dependency archive holds
manylinux x86_64 wheels), started by the first job run (autoStart) and stopped after
``IDLE_STOP_MINUTES`` idle minutes (AWS's default is 15), capped at the account's vCPU quota.
No network configuration: without one a job reaches S3 in its own region and nothing else, which
is all ours needs (the archive and the model come from our bucket, nothing from the internet).

A job run is ``spark-submit`` of our driver script with the same ``run`` arguments as the EMR
step (``steps.pipeline_step``), the dependency archive unpacked as ``./deps`` on the driver and
every executor (``archive_confs``), sized from the quota (``sizing_confs``).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Sequence

from bigfruits.aws.core.request import AwsRequest
from bigfruits.aws.requests.s3 import LOGS_PREFIX, s3_uri
from bigfruits.errors import InputError

SERVICE = "emr-serverless"
APPLICATION_TYPE = "SPARK"
ARCHITECTURE = "X86_64"
#: EMR Serverless images of 7.x run Spark 3.5, like the clusters' EMR 7.
RELEASE_PATTERN = re.compile(r"emr-7\.\d+\.\d+")
IDLE_STOP_MINUTES = 5
#: Application states: https://docs.aws.amazon.com/emr/latest/EMR-Serverless-UserGuide/applications.html
LIVE_APPLICATION_STATES = ("CREATING", "CREATED", "STARTING", "STARTED", "STOPPING", "STOPPED")
#: Passing states: wait for them to end before stopping or deleting.
CHANGING_STATES = ("CREATING", "STARTING", "STOPPING")
DELETABLE_STATES = ("CREATED", "STOPPED")
#: Job run states (JobRunState in the API); QUEUED: the application's concurrency limit is reached.
JOB_ACTIVE_STATES = ("SUBMITTED", "PENDING", "SCHEDULED", "RUNNING", "QUEUED", "CANCELLING")
JOB_DONE_STATES = ("SUCCESS", "FAILED", "CANCELLED")
#: Where our job runs' scripts and dependency archives live in the bucket, named by content.
SERVERLESS_PREFIX = "serverless/"
ARCHIVES_PREFIX = f"{SERVERLESS_PREFIX}archives/"
SCRIPTS_PREFIX = f"{SERVERLESS_PREFIX}scripts/"
#: EMR Serverless writes each job's logs below this (applications/<app>/jobs/<job>/...).
LOGS = f"{LOGS_PREFIX}serverless/"
#: The name the archive is unpacked under (``spark.archives=<uri>#deps``), on PYTHONPATH.
DEPS = "deps"
#: The image's Python: AWS documents 3.9 for EMR Serverless 7.x
#: (https://github.com/aws-samples/emr-serverless-samples/tree/main/examples/pyspark/custom_python_version);
#: 3.11 is listed from EMR 7.1 for EMR on EC2, not for Serverless: offered, and `serverless
#: probe` shows what an account's image has.
PYTHONS = ("3.9", "3.11")
DEFAULT_PYTHON = PYTHONS[0]
#: Default job timeout; EMR Serverless cancels a run that takes longer.
TIMEOUT_MINUTES = 180


@dataclass(frozen=True)
class Worker:
    """One worker's size (https://docs.aws.amazon.com/emr/latest/EMR-Serverless-UserGuide/app-behavior.html#worker-configs:
    2 vCPU take 4-16 GB, 4 vCPU 8-30 GB). Spark adds a memory overhead of 10% (384 MB at
    least) to what it is given, and the worker must hold both."""

    cpu: int
    memory_gb: int

    @property
    def spark_memory(self) -> str:
        return f"{int(self.memory_gb / 1.1)}g"


#: The driver lists the input, fits the PCA (1280 x 1280) and draws the report: 2 vCPU do.
DRIVER = Worker(cpu=2, memory_gb=8)
#: Executors decode images and run the model: 4 tasks each, 4 GB a task.
EXECUTOR = Worker(cpu=4, memory_gb=16)
DISK_PER_WORKER_GB = 20


def check_release(release: str) -> str:
    if not RELEASE_PATTERN.fullmatch(release):
        raise InputError(f"release {release} is not an EMR 7 release",
                         "pass --release emr-7.X.Y (EMR Serverless 7.x runs Spark 3.5, as our clusters)")
    return release


def executor_count(vcpus: int) -> int:
    """How many executors fit beside the driver in ``vcpus`` (the account's quota, or less)."""
    count = (vcpus - DRIVER.cpu) // EXECUTOR.cpu
    if count < 1:
        raise InputError(
            f"{vcpus} vCPU for EMR Serverless: a job needs {DRIVER.cpu + EXECUTOR.cpu} at least "
            f"(a {DRIVER.cpu}-vCPU driver and one {EXECUTOR.cpu}-vCPU executor)",
            "ask for more in Service Quotas (EMR Serverless, 'Max concurrent vCPUs per account')")
    return count


def maximum_capacity(vcpus: int) -> Dict[str, str]:
    """The application's cap: ``vcpus``, with the memory and disk our workers have per vCPU."""
    workers = 1 + executor_count(vcpus)
    memory = DRIVER.memory_gb + (workers - 1) * EXECUTOR.memory_gb
    return {"cpu": f"{vcpus} vCPU", "memory": f"{memory} GB", "disk": f"{workers * DISK_PER_WORKER_GB} GB"}


# --- the application ------------------------------------------------------------------------

def create_application(name: str, release: str, vcpus: int, tags: Mapping[str, str],
                       client_token: str, interactive: bool = False) -> AwsRequest:
    """``interactive``: EMR Studio Workspaces may attach (interactiveConfiguration.studioEnabled)."""
    params: Dict[str, Any] = {
        "name": name, "releaseLabel": check_release(release), "type": APPLICATION_TYPE,
        "clientToken": client_token, "architecture": ARCHITECTURE,
        "autoStartConfiguration": {"enabled": True},
        "autoStopConfiguration": {"enabled": True, "idleTimeoutMinutes": IDLE_STOP_MINUTES},
        "maximumCapacity": maximum_capacity(vcpus),
        "tags": dict(tags),
    }
    if interactive:
        params["interactiveConfiguration"] = {"studioEnabled": True}
    return AwsRequest(SERVICE, "CreateApplication", params)


def list_applications(states: Sequence[str] = LIVE_APPLICATION_STATES) -> AwsRequest:
    return AwsRequest(SERVICE, "ListApplications", {"states": list(states)})


def get_application(application_id: str) -> AwsRequest:
    return AwsRequest(SERVICE, "GetApplication", {"applicationId": application_id})


def stop_application(application_id: str) -> AwsRequest:
    return AwsRequest(SERVICE, "StopApplication", {"applicationId": application_id})


def delete_application(application_id: str) -> AwsRequest:
    return AwsRequest(SERVICE, "DeleteApplication", {"applicationId": application_id})


def application_arn(region: str, account_id: str, application_id: str) -> str:
    return f"arn:aws:emr-serverless:{region}:{account_id}:/applications/{application_id}"


# --- job runs -------------------------------------------------------------------------------

def spark_submit_parameters(confs: Mapping[str, str]) -> str:
    """``--conf k=v`` for each setting (EMR Serverless passes them to spark-submit as they are)."""
    for key, value in confs.items():
        if not key or any(c.isspace() for c in key + value):
            raise ValueError(f"a Spark setting with a space cannot be passed: {key}={value}")
    return " ".join(f"--conf {key}={value}" for key, value in confs.items())


def interpreter(python_version: str) -> str:
    """The image's interpreter of that version (Amazon Linux 2023 names them so)."""
    return f"/usr/bin/python{python_version}"


def archive_confs(archive_uri: str, python_version: str) -> Dict[str, str]:
    """The archive unpacked as ``./deps`` in the driver's and every executor's working folder,
    first on their PYTHONPATH (our numpy, pandas, pyarrow shadow the image's), and the image's
    Python of the archive's version for both. ``spark.emr-serverless.driverEnv.*`` is EMR
    Serverless' way to set the driver's environment, ``spark.executorEnv.*`` Spark's own:
    https://docs.aws.amazon.com/emr/latest/EMR-Serverless-UserGuide/using-python-libraries.html"""
    python = interpreter(python_version)
    return {
        "spark.archives": f"{archive_uri}#{DEPS}",
        "spark.emr-serverless.driverEnv.PYTHONPATH": f"./{DEPS}",
        "spark.executorEnv.PYTHONPATH": f"./{DEPS}",
        "spark.emr-serverless.driverEnv.PYSPARK_DRIVER_PYTHON": python,
        "spark.emr-serverless.driverEnv.PYSPARK_PYTHON": python,
        "spark.executorEnv.PYSPARK_PYTHON": python,
    }


def sizing_confs(executors: int) -> Dict[str, str]:
    """Workers of our sizes; dynamic allocation from one executor up to ``executors`` (a small
    input never pays for more: each worker is billed for one minute at least)."""
    return {
        "spark.driver.cores": str(DRIVER.cpu), "spark.driver.memory": DRIVER.spark_memory,
        "spark.executor.cores": str(EXECUTOR.cpu), "spark.executor.memory": EXECUTOR.spark_memory,
        "spark.dynamicAllocation.initialExecutors": "1",
        "spark.dynamicAllocation.maxExecutors": str(executors),
    }


def log_uri(bucket: str) -> str:
    return s3_uri(bucket, LOGS)


def start_job_run(application_id: str, role_arn: str, entry_point: str, arguments: Sequence[str],
                  confs: Mapping[str, str], bucket: str, name: str, tags: Mapping[str, str],
                  client_token: str, timeout_minutes: int = TIMEOUT_MINUTES) -> AwsRequest:
    return AwsRequest(SERVICE, "StartJobRun", {
        "applicationId": application_id, "clientToken": client_token, "executionRoleArn": role_arn,
        "name": name, "executionTimeoutMinutes": timeout_minutes, "tags": dict(tags),
        "jobDriver": {"sparkSubmit": {"entryPoint": entry_point, "entryPointArguments": list(arguments),
                                      "sparkSubmitParameters": spark_submit_parameters(confs)}},
        "configurationOverrides": {"monitoringConfiguration": {
            "s3MonitoringConfiguration": {"logUri": log_uri(bucket)}}},
    })


def get_job_run(application_id: str, job_run_id: str) -> AwsRequest:
    return AwsRequest(SERVICE, "GetJobRun", {"applicationId": application_id, "jobRunId": job_run_id})


def cancel_job_run(application_id: str, job_run_id: str) -> AwsRequest:
    return AwsRequest(SERVICE, "CancelJobRun", {"applicationId": application_id, "jobRunId": job_run_id})


def list_job_runs(application_id: str, states: Optional[Sequence[str]] = None) -> AwsRequest:
    params: Dict[str, Any] = {"applicationId": application_id}
    if states:
        params["states"] = list(states)
    return AwsRequest(SERVICE, "ListJobRuns", params)


def driver_log_key(application_id: str, job_run_id: str, stream: str = "stderr") -> str:
    """Where EMR Serverless puts the driver's stdout/stderr under our log URI (gzip)."""
    return f"{LOGS}applications/{application_id}/jobs/{job_run_id}/SPARK_DRIVER/{stream}.gz"


def job_state(answer: Dict[str, Any]) -> str:
    return str(answer.get("jobRun", {}).get("state", "?"))


def billed(answer: Dict[str, Any]) -> Dict[str, float]:
    """vCPU-hours, GB-hours and storage GB-hours AWS bills for a finished run (its
    ``billedResourceUtilization``: per second, one minute at least per worker)."""
    used = answer.get("jobRun", {}).get("billedResourceUtilization", {})
    return {key: float(used.get(key, 0.0)) for key in ("vCPUHour", "memoryGBHour", "storageGBHour")}


def job_ids(job: str) -> List[str]:
    """``"<application id>/<job run id>"`` (how the state file remembers a run) -> both."""
    application_id, _, job_run_id = job.partition("/")
    return [application_id, job_run_id]
