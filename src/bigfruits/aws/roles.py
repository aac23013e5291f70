"""The two IAM roles an EMR cluster needs (service role, EC2 instance profile), as requests.

Ours live under the IAM path ``/bigfruits/`` and carry our tags, so ``destroy`` finds them by
listing that path even without the state file. The AWS-managed policies are the classic EMR
ones: they work with default VPC subnets, which the v2 policies would require to be tagged.
"""
from __future__ import annotations

import json
from typing import List

from bigfruits.aws.request import AwsRequest, managed_tags, tag_list

ROLE_PATH = "/bigfruits/"
SERVICE_POLICY = "arn:aws:iam::aws:policy/service-role/AmazonElasticMapReduceRole"
EC2_POLICY = "arn:aws:iam::aws:policy/service-role/AmazonElasticMapReduceforEC2Role"


def service_role_name(project: str) -> str:
    return f"{project}-emr-service-role"


def ec2_role_name(project: str) -> str:
    return f"{project}-emr-ec2-role"


def instance_profile_name(project: str) -> str:
    return ec2_role_name(project)


def trust_policy(service: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
            ],
        },
        sort_keys=True,
    )


def _create_role(name: str, service: str, policy_arn: str, project: str) -> List[AwsRequest]:
    return [
        AwsRequest(
            "iam",
            "CreateRole",
            {
                "RoleName": name,
                "Path": ROLE_PATH,
                "AssumeRolePolicyDocument": trust_policy(service),
                "Description": f"{project}: created by bigfruits aws",
                "Tags": tag_list(managed_tags(project)),
            },
        ),
        AwsRequest("iam", "AttachRolePolicy", {"RoleName": name, "PolicyArn": policy_arn}),
    ]


def create_service_role(project: str) -> List[AwsRequest]:
    return _create_role(
        service_role_name(project), "elasticmapreduce.amazonaws.com", SERVICE_POLICY, project
    )


def create_ec2_role(project: str) -> List[AwsRequest]:
    """The role, then the instance profile EC2 actually takes, holding that role."""
    name = ec2_role_name(project)
    return _create_role(name, "ec2.amazonaws.com", EC2_POLICY, project) + [
        AwsRequest(
            "iam",
            "CreateInstanceProfile",
            {
                "InstanceProfileName": instance_profile_name(project),
                "Path": ROLE_PATH,
                "Tags": tag_list(managed_tags(project)),
            },
        ),
        AwsRequest(
            "iam",
            "AddRoleToInstanceProfile",
            {"InstanceProfileName": instance_profile_name(project), "RoleName": name},
        ),
    ]


def get_role(name: str) -> AwsRequest:
    return AwsRequest("iam", "GetRole", {"RoleName": name})


def list_our_roles() -> AwsRequest:
    return AwsRequest("iam", "ListRoles", {"PathPrefix": ROLE_PATH})


def list_our_instance_profiles() -> AwsRequest:
    return AwsRequest("iam", "ListInstanceProfiles", {"PathPrefix": ROLE_PATH})


def list_role_tags(name: str) -> AwsRequest:
    return AwsRequest("iam", "ListRoleTags", {"RoleName": name})


def list_attached_policies(name: str) -> AwsRequest:
    return AwsRequest("iam", "ListAttachedRolePolicies", {"RoleName": name})


def delete_role(name: str, attached_policy_arns: List[str]) -> List[AwsRequest]:
    """A role goes only once its policies are detached."""
    return [
        AwsRequest("iam", "DetachRolePolicy", {"RoleName": name, "PolicyArn": arn})
        for arn in attached_policy_arns
    ] + [AwsRequest("iam", "DeleteRole", {"RoleName": name})]


def delete_instance_profile(name: str, role_names: List[str]) -> List[AwsRequest]:
    return [
        AwsRequest(
            "iam", "RemoveRoleFromInstanceProfile", {"InstanceProfileName": name, "RoleName": r}
        )
        for r in role_names
    ] + [AwsRequest("iam", "DeleteInstanceProfile", {"InstanceProfileName": name})]



def get_instance_profile(name: str) -> AwsRequest:
    return AwsRequest("iam", "GetInstanceProfile", {"InstanceProfileName": name})
