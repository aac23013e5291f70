"""The cluster's IAM roles as RunJobFlow receives them, and the nodes' own policy.

moto server: the roles, the instance profile and the cluster are real moto resources; moto does
not resolve role names, so what matters is what we send, read back from DescribeCluster."""
from __future__ import annotations

from tests.support.aws_cli import run
from tests.support.moto_server import ACCOUNT, boto


def test_run_job_flow_names_both_roles_by_arn_with_our_path(aws_env, built_wheel) -> None:
    # A bare name resolves to role/<name> (no path): EMR would refuse our /bigfruits/ roles.
    run(["create-bucket"])
    run(["create-cluster", "--yes", "--wheel", str(built_wheel)])
    emr = boto("emr")
    cluster = emr.describe_cluster(ClusterId=emr.list_clusters()["Clusters"][0]["Id"])["Cluster"]
    iam = boto("iam")
    assert cluster["ServiceRole"] == iam.get_role(RoleName="bigfruits-emr-service-role")["Role"]["Arn"]
    assert cluster["ServiceRole"] == f"arn:aws:iam::{ACCOUNT}:role/bigfruits/bigfruits-emr-service-role"
    profile = iam.get_instance_profile(InstanceProfileName="bigfruits-emr-ec2-role")["InstanceProfile"]
    assert profile["Arn"] == f"arn:aws:iam::{ACCOUNT}:instance-profile/bigfruits/bigfruits-emr-ec2-role"
    assert cluster["Ec2InstanceAttributes"]["IamInstanceProfile"] == profile["Arn"]
