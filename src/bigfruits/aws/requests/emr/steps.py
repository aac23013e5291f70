"""EMR steps as requests: the pipeline (spark-submit) and the JupyterHub password change.

Why ``command-runner.jar`` + ``spark-submit`` of a local driver file: the bootstrap writes
``DRIVER_PATH`` on every node (it only calls ``bigfruits.cli.main``), so the step needs no S3
download of the primary resource, runs the same CLI users run locally, and in client deploy
mode the driver's output lands in the step's own stdout/stderr logs that ``submit`` shows.
"""
from __future__ import annotations

from typing import Any, Dict, List, Sequence

from bigfruits.aws.core.request import AwsRequest
from bigfruits.aws.requests.s3 import LOGS_PREFIX

#: Written by bootstrap.sh on every node.
DRIVER_PATH = "/usr/local/lib/bigfruits/driver.py"
COMMAND_RUNNER = "command-runner.jar"
STEP_DONE_STATES = ("COMPLETED", "CANCELLED", "FAILED", "INTERRUPTED")
PASSWORD_STEP_NAME = "set JupyterHub password"
PIPELINE_STEP_NAME = "bigfruits run"


def pipeline_step(input_uri: str, output_uri: str, extra_args: Sequence[str] = (),
                  action_on_failure: str = "CONTINUE") -> Dict[str, Any]:
    """``action_on_failure``: CONTINUE on a cluster kept for more work; TERMINATE_CLUSTER for
    a batch run, whose cluster must not outlive its step."""
    args: List[str] = [
        "spark-submit",
        "--deploy-mode",
        "client",
        DRIVER_PATH,
        "run",
        "--input",
        input_uri,
        "--output",
        output_uri,
        *extra_args,
    ]
    return {
        "Name": PIPELINE_STEP_NAME,
        "ActionOnFailure": action_on_failure,
        "HadoopJarStep": {"Jar": COMMAND_RUNNER, "Args": args},
    }


def jupyterhub_password_step(password_uri: str) -> Dict[str, Any]:
    """EMR's JupyterHub runs in the ``jupyterhub`` container with user jovyan/jupyter: feed
    ``chpasswd`` there the line stored at ``password_uri``, then delete it whatever happens."""
    command = (f"set -o pipefail; trap 'aws s3 rm --quiet {password_uri}' EXIT; "
               f"aws s3 cp --quiet {password_uri} - | sudo docker exec -i jupyterhub chpasswd")
    # If it fails, EMR terminates the cluster itself: JupyterHub must never stay up with its
    # public default password (jovyan/jupyter), even when nobody is watching; see
    # https://docs.aws.amazon.com/emr/latest/ReleaseGuide/emr-jupyterhub-user-access.html
    return {
        "Name": PASSWORD_STEP_NAME,
        "ActionOnFailure": "TERMINATE_CLUSTER",
        "HadoopJarStep": {"Jar": COMMAND_RUNNER, "Args": ["bash", "-c", command]},
    }


def add_steps(cluster_id: str, steps: List[Dict[str, Any]]) -> AwsRequest:
    return AwsRequest("emr", "AddJobFlowSteps", {"JobFlowId": cluster_id, "Steps": steps})


def describe_step(cluster_id: str, step_id: str) -> AwsRequest:
    return AwsRequest("emr", "DescribeStep", {"ClusterId": cluster_id, "StepId": step_id})


def list_steps(cluster_id: str) -> AwsRequest:
    return AwsRequest("emr", "ListSteps", {"ClusterId": cluster_id})


def step_log_key(cluster_id: str, step_id: str, stream: str = "stderr") -> str:
    """Where EMR copies a step's output under the cluster's LogUri (gzip, a few minutes late)."""
    return f"{LOGS_PREFIX}{cluster_id}/steps/{step_id}/{stream}.gz"
