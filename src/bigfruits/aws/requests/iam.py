"""IAM requests: the cluster's two roles (service role, EC2 instance profile), EMR Studio's
two roles and user policy; create, look up, tear down. Nothing here sends anything.

Everything we create lives under ``IAM_PATH`` and carries our tags, so listing that path finds
exactly ours (``destroy`` needs no state file), and a role of the same name elsewhere is
someone else's. The cluster's service role has AWS's least-privilege ``AmazonEMRServicePolicy_v2``
(the v1 ``AmazonElasticMapReduceRole`` is "on the path to deprecation":
https://docs.aws.amazon.com/emr/latest/ManagementGuide/emr-iam-role.html); v2 acts only on
resources tagged ``for-use-with-amazon-emr-managed-policies=true`` (``commands/network`` tags
the cluster's subnet, VPC and security groups) and passes only ``EMR_EC2_DefaultRole``, so our
role also gets ``PassRole`` on our nodes' role.
"""
from __future__ import annotations

import json
from typing import Any, Dict, List, Sequence

from bigfruits.aws.core.request import AwsRequest
from bigfruits.aws.core.resource_names import instance_profile_name, node_role_name, service_role_name
from bigfruits.aws.core.tags import managed_tags, tag_list
from bigfruits.aws.requests.iam_policies import (
    IAM_PATH, node_policy, pass_node_role_policy, role_arn, service_trust_policy, trust_policy,
)

SERVICE_POLICY = "arn:aws:iam::aws:policy/service-role/AmazonEMRServicePolicy_v2"
#: What older versions attached to the service role (v1, being deprecated): detached on sight.
OLD_SERVICE_POLICY = "arn:aws:iam::aws:policy/service-role/AmazonElasticMapReduceRole"
#: The service role's inline policy: pass our nodes' role to EC2 (``pass_node_role_policy``).
PASS_ROLE_POLICY_NAME = "bigfruits-pass-node-role"
#: What older versions attached to the nodes' role (s3:* on every bucket): detached on sight.
EC2_POLICY = "arn:aws:iam::aws:policy/service-role/AmazonElasticMapReduceforEC2Role"
#: The nodes' own inline policy (``iam_policies.node_policy``).
NODE_POLICY_NAME = "bigfruits-node"


def _json(document: Dict[str, Any]) -> str:
    return json.dumps(document, sort_keys=True)


# --- lookups --------------------------------------------------------------------------------

def list_our_roles() -> AwsRequest:
    return AwsRequest("iam", "ListRoles", {"PathPrefix": IAM_PATH})


def list_our_policies() -> AwsRequest:
    return AwsRequest("iam", "ListPolicies", {"Scope": "Local", "PathPrefix": IAM_PATH})


def list_our_instance_profiles() -> AwsRequest:
    return AwsRequest("iam", "ListInstanceProfiles", {"PathPrefix": IAM_PATH})


def get_role(name: str) -> AwsRequest:
    return AwsRequest("iam", "GetRole", {"RoleName": name})


def get_instance_profile(name: str) -> AwsRequest:
    return AwsRequest("iam", "GetInstanceProfile", {"InstanceProfileName": name})


def list_role_tags(name: str) -> AwsRequest:
    return AwsRequest("iam", "ListRoleTags", {"RoleName": name})


def list_attached_policies(name: str) -> AwsRequest:
    return AwsRequest("iam", "ListAttachedRolePolicies", {"RoleName": name})


def list_inline_policies(name: str) -> AwsRequest:
    return AwsRequest("iam", "ListRolePolicies", {"RoleName": name})


def get_policy_version(arn: str, version_id: str) -> AwsRequest:
    return AwsRequest("iam", "GetPolicyVersion", {"PolicyArn": arn, "VersionId": version_id})


def list_policy_versions(arn: str) -> AwsRequest:
    return AwsRequest("iam", "ListPolicyVersions", {"PolicyArn": arn})


# --- creating -------------------------------------------------------------------------------

def create_role(name: str, trust: Dict[str, Any], description: str,
                tags: Dict[str, str]) -> AwsRequest:
    return AwsRequest("iam", "CreateRole", {
        "RoleName": name,
        "Path": IAM_PATH,
        "AssumeRolePolicyDocument": _json(trust),
        "Description": description,
        "Tags": tag_list(tags),
    })


def attach_policy(role: str, arn: str) -> AwsRequest:
    return AwsRequest("iam", "AttachRolePolicy", {"RoleName": role, "PolicyArn": arn})


def update_trust(name: str, trust: Dict[str, Any]) -> AwsRequest:
    """An existing role gets today's trust policy (the auth mode may have changed)."""
    return AwsRequest("iam", "UpdateAssumeRolePolicy", {"RoleName": name, "PolicyDocument": _json(trust)})


def put_inline_policy(role: str, policy_name: str, document: Dict[str, Any]) -> AwsRequest:
    """PutRolePolicy replaces the document in place, so re-running it is safe."""
    return AwsRequest("iam", "PutRolePolicy", {
        "RoleName": role, "PolicyName": policy_name, "PolicyDocument": _json(document)})


def create_policy(name: str, document: Dict[str, Any], description: str,
                  tags: Dict[str, str]) -> AwsRequest:
    """A managed policy, because IAM Identity Center session mappings need a policy ARN."""
    return AwsRequest("iam", "CreatePolicy", {
        "PolicyName": name, "Path": IAM_PATH, "PolicyDocument": _json(document),
        "Description": description, "Tags": tag_list(tags)})


def new_policy_version(arn: str, document: Dict[str, Any]) -> AwsRequest:
    return AwsRequest("iam", "CreatePolicyVersion", {
        "PolicyArn": arn, "PolicyDocument": _json(document), "SetAsDefault": True})


# --- the cluster's roles --------------------------------------------------------------------

def service_role_arn(account_id: str, project: str) -> str:
    """The service role's ARN, path included (what RunJobFlow needs for a role with a path)."""
    return role_arn(account_id, service_role_name(project))


def instance_profile_arn(account_id: str, project: str) -> str:
    """The instance profile's ARN, path included (EMR takes it as JobFlowRole)."""
    return f"arn:aws:iam::{account_id}:instance-profile{IAM_PATH}{instance_profile_name(project)}"


def _create_cluster_role(name: str, trust: Dict[str, Any], project: str) -> AwsRequest:
    return create_role(name, trust, f"{project}: created by bigfruits aws", managed_tags(project))


def create_service_role(project: str, account_id: str) -> List[AwsRequest]:
    return [_create_cluster_role(service_role_name(project), service_trust_policy(account_id), project)]


def service_role_policies(project: str, account_id: str) -> List[AwsRequest]:
    """The service role's trust and policies, for a new role and for one made by an older
    version (all four are safe to repeat): today's trust (EMR for this account only), v2
    attached, PassRole on our nodes' role, v1 detached (the last answers NoSuchEntity when it
    is not there)."""
    name = service_role_name(project)
    node_role = role_arn(account_id, node_role_name(project))
    return [update_trust(name, service_trust_policy(account_id)),
            attach_policy(name, SERVICE_POLICY),
            put_inline_policy(name, PASS_ROLE_POLICY_NAME, pass_node_role_policy(node_role)),
            AwsRequest("iam", "DetachRolePolicy", {"RoleName": name, "PolicyArn": OLD_SERVICE_POLICY})]


def put_node_policy(project: str, bucket: str) -> List[AwsRequest]:
    """The nodes' role gets our own policy (in place, so re-running updates it) and loses the
    account-wide managed one older versions attached (NoSuchEntity when it is not there)."""
    name = node_role_name(project)
    return [put_inline_policy(name, NODE_POLICY_NAME, node_policy(bucket)),
            AwsRequest("iam", "DetachRolePolicy", {"RoleName": name, "PolicyArn": EC2_POLICY})]


def create_ec2_role(project: str) -> List[AwsRequest]:
    """The role, then the instance profile EC2 actually takes, holding that role (its policy:
    ``put_node_policy``)."""
    name = node_role_name(project)
    return [
        _create_cluster_role(name, trust_policy("ec2.amazonaws.com"), project),
        AwsRequest("iam", "CreateInstanceProfile", {
            "InstanceProfileName": instance_profile_name(project), "Path": IAM_PATH,
            "Tags": tag_list(managed_tags(project))}),
        AwsRequest("iam", "AddRoleToInstanceProfile",
                   {"InstanceProfileName": instance_profile_name(project), "RoleName": name}),
    ]


# --- teardown: a role can only be deleted once nothing hangs on it --------------------------

def role_dependents(role: str) -> List[AwsRequest]:
    """The three listings that say what must be removed before ``DeleteRole``."""
    return [
        list_attached_policies(role),
        list_inline_policies(role),
        AwsRequest("iam", "ListInstanceProfilesForRole", {"RoleName": role}),
    ]


def delete_role(role: str, attached_arns: Sequence[str], inline_names: Sequence[str] = (),
                instance_profiles: Sequence[str] = ()) -> List[AwsRequest]:
    """Detach managed policies, delete inline ones, leave instance profiles, then the role."""
    requests = [AwsRequest("iam", "DetachRolePolicy", {"RoleName": role, "PolicyArn": arn})
                for arn in attached_arns]
    requests += [AwsRequest("iam", "DeleteRolePolicy", {"RoleName": role, "PolicyName": name})
                 for name in inline_names]
    requests += [AwsRequest("iam", "RemoveRoleFromInstanceProfile",
                            {"RoleName": role, "InstanceProfileName": profile})
                 for profile in instance_profiles]
    requests.append(AwsRequest("iam", "DeleteRole", {"RoleName": role}))
    return requests


def delete_instance_profile(name: str, role_names: Sequence[str]) -> List[AwsRequest]:
    return [AwsRequest("iam", "RemoveRoleFromInstanceProfile",
                       {"InstanceProfileName": name, "RoleName": role}) for role in role_names
            ] + [AwsRequest("iam", "DeleteInstanceProfile", {"InstanceProfileName": name})]


def delete_policy(arn: str, old_versions: Sequence[str]) -> List[AwsRequest]:
    """Non-default versions first: IAM refuses to delete a policy that still has them."""
    requests = [AwsRequest("iam", "DeletePolicyVersion", {"PolicyArn": arn, "VersionId": v})
                for v in old_versions]
    requests.append(AwsRequest("iam", "DeletePolicy", {"PolicyArn": arn}))
    return requests
