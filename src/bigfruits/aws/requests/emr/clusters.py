"""EMR cluster requests: one function turns a flavor (data) and the settings into RunJobFlow.

The files it names (``bootstrap.sh``, the constraints) are in ``aws/node/``."""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence

from bigfruits import __version__
from bigfruits.aws.core.request import AwsRequest
from bigfruits.aws.core.settings import AwsSettings
from bigfruits.aws.core.tags import EMR_MANAGED_POLICIES_TAG, managed_tags, tag_list
from bigfruits.aws.requests import iam
from bigfruits.aws.requests.emr.flavors import Flavor, configurations
from bigfruits.aws.requests.emr.steps import jupyterhub_password_step
from bigfruits.aws.requests.s3 import BOOTSTRAP_PREFIX, LOGS_PREFIX, WHEELHOUSE_PREFIX, s3_uri

#: States in which a cluster is alive (and billing).
ACTIVE_STATES = ["STARTING", "BOOTSTRAPPING", "RUNNING", "WAITING", "TERMINATING"]
READY_STATES = ("WAITING", "RUNNING")
FAILED_STATES = ("TERMINATED", "TERMINATED_WITH_ERRORS")
FLAVOR_TAG = "bigfruits:flavor"
BOOTSTRAP_SCRIPT = "bootstrap.sh"
#: pip constraints matching EMR 7's Spark 3.5 (numpy<2, pandas 2.2, TF 2.16): the bootstrap
#: installs with them, and CI's compatibility job tests the package with the same file
CONSTRAINTS_FILE = "constraints-emr7.txt"
#: What a node runs: ONNX Runtime on the graph the user's machine exported (no TensorFlow,
#: Keras, onnx or tf2onnx there: the ``node`` extra of pyproject.toml).
WHEEL_EXTRAS = "node"
#: Every instance's disks, as the cost estimate counts them: one gp3 data volume (HDFS, Spark's
#: shuffle, YARN's local files) that we ask for explicitly, and EMR's root volume, left at its
#: default size (taken as 15 GB here: an assumption the search tool could not confirm).
ROOT_VOLUME_GB = 15
DATA_VOLUME_GB = 64


def _ebs() -> Dict[str, Any]:
    return {"EbsBlockDeviceConfigs": [{"VolumeSpecification": {"VolumeType": "gp3", "SizeInGB": DATA_VOLUME_GB},
                                       "VolumesPerInstance": 1}]}


def wheel_name(version: str = __version__) -> str:
    """The file name ``pip wheel`` gives our pure-Python package (deterministic)."""
    return f"bigfruits-{version}-py3-none-any.whl"


def instance_counts(settings: AwsSettings) -> Dict[str, int]:
    counts: Dict[str, int] = {settings.master_type: 1}
    if settings.core_count:
        counts[settings.core_type] = counts.get(settings.core_type, 0) + settings.core_count
    return counts


def instance_groups(settings: AwsSettings) -> List[Dict[str, Any]]:
    groups = [
        {
            "Name": "master",
            "InstanceRole": "MASTER",
            "Market": "ON_DEMAND",
            "InstanceType": settings.master_type,
            "InstanceCount": 1,
            "EbsConfiguration": _ebs(),
        }
    ]
    if settings.core_count:
        groups.append(
            {
                "Name": "core",
                "InstanceRole": "CORE",
                "Market": "ON_DEMAND",
                "InstanceType": settings.core_type,
                "InstanceCount": settings.core_count,
                "EbsConfiguration": _ebs(),
            }
        )
    return groups


def default_wheelhouse_uri(bucket: str) -> str:
    """Where a request built on its own (no upload before it) says the wheelhouse is; the
    commands pass the content-named one they uploaded."""
    return s3_uri(bucket, WHEELHOUSE_PREFIX + "wheelhouse.tar")


def bootstrap_action(bucket: str, wheelhouse_uri: Optional[str] = None) -> Dict[str, Any]:
    """bootstrap.sh with: the wheelhouse tar (our wheel and every wheel it needs), the extras,
    the constraints."""
    return {
        "Name": "install bigfruits",
        "ScriptBootstrapAction": {
            "Path": s3_uri(bucket, BOOTSTRAP_PREFIX + BOOTSTRAP_SCRIPT),
            "Args": [wheelhouse_uri or default_wheelhouse_uri(bucket), WHEEL_EXTRAS,
                     s3_uri(bucket, BOOTSTRAP_PREFIX + CONSTRAINTS_FILE)],
        },
    }


def run_job_flow(
    settings: AwsSettings,
    flavor: Flavor,
    ssh_group_id: Optional[str],
    jupyterhub_password_uri: Optional[str] = None,
    *,
    account_id: str,
    steps: Sequence[Dict[str, Any]] = (),
    keep_alive: bool = True,
    wheelhouse_uri: Optional[str] = None,
) -> AwsRequest:
    """The whole cluster in one request: applications and configurations from the flavor,
    our bootstrap, logs in S3, tags, our SSH group, and an idle auto-termination policy.

    Both roles live under our IAM path, so they are given by ARN: a bare name resolves to
    ``role/<name>`` (no path) and RunJobFlow fails validation; the RunJobFlow reference asks
    for the full ARN of a role with a path
    (https://docs.aws.amazon.com/emr/latest/APIReference/API_RunJobFlow.html)."""
    bucket = settings.bucket or ""
    tags = dict(managed_tags(settings.project))
    tags.update(flavor.tags)
    tags[FLAVOR_TAG] = flavor.name
    # AmazonEMRServicePolicy_v2 acts only on clusters (and what EMR launches for them) carrying
    # it: https://docs.aws.amazon.com/emr/latest/ManagementGuide/emr-iam-role.html
    tags[EMR_MANAGED_POLICIES_TAG] = "true"
    all_steps = []
    if flavor.sets_jupyterhub_password and jupyterhub_password_uri:
        all_steps.append(jupyterhub_password_step(jupyterhub_password_uri))
    all_steps += list(steps)
    # No SSH group: no key pair either (a batch run is never logged into).
    ssh = ({"Ec2KeyName": settings.key_pair_name, "AdditionalMasterSecurityGroups": [ssh_group_id]}
           if ssh_group_id else {})
    params: Dict[str, Any] = {
        "Name": f"{settings.project}-{flavor.name}",
        "LogUri": s3_uri(bucket, LOGS_PREFIX),
        "ReleaseLabel": settings.release,
        "Applications": [{"Name": name} for name in flavor.applications],
        "Configurations": configurations(flavor, bucket),
        "Instances": {
            "InstanceGroups": instance_groups(settings),
            # False: the cluster terminates itself once its steps end (a batch run).
            "KeepJobFlowAliveWhenNoSteps": keep_alive,
            "TerminationProtected": False,
            **ssh,
            **({"Ec2SubnetId": settings.subnet_id} if settings.subnet_id else {}),
        },
        "BootstrapActions": [bootstrap_action(bucket, wheelhouse_uri)],
        "Steps": all_steps,
        "ServiceRole": iam.service_role_arn(account_id, settings.project),
        "JobFlowRole": iam.instance_profile_arn(account_id, settings.project),
        "VisibleToAllUsers": True,
        "Tags": tag_list(tags),
        "AutoTerminationPolicy": {"IdleTimeout": settings.idle_timeout_s},
    }
    return AwsRequest("emr", "RunJobFlow", params)


def describe_cluster(cluster_id: str) -> AwsRequest:
    return AwsRequest("emr", "DescribeCluster", {"ClusterId": cluster_id})


def cluster_state(answer: Dict[str, Any]) -> str:
    """The state in a DescribeCluster answer."""
    return str(answer["Cluster"]["Status"]["State"])


def list_active_clusters() -> AwsRequest:
    return AwsRequest("emr", "ListClusters", {"ClusterStates": list(ACTIVE_STATES)})


def terminate(cluster_ids: List[str]) -> AwsRequest:
    return AwsRequest("emr", "TerminateJobFlows", {"JobFlowIds": list(cluster_ids)})


def list_instance_groups(cluster_id: str) -> AwsRequest:
    return AwsRequest("emr", "ListInstanceGroups", {"ClusterId": cluster_id})
