"""IAM requests for EMR Studio's two roles and the user policy: create, and tear down.

Pure functions returning ``AwsRequest``; nothing is sent here. Roles and the policy live under
``IAM_PATH`` so ``ListRoles``/``ListPolicies`` on that path find exactly ours.
"""
from __future__ import annotations

import json
from typing import Any, Dict, List

from bigfruits.aws.request import AwsRequest, tag_list
from bigfruits.aws.studio_settings import IAM_PATH


def caller_identity_request() -> AwsRequest:
    """The account id, needed in trust policies and ARNs."""
    return AwsRequest("sts", "GetCallerIdentity", {})


def list_our_roles_request() -> AwsRequest:
    return AwsRequest("iam", "ListRoles", {"PathPrefix": IAM_PATH})


def list_our_policies_request() -> AwsRequest:
    return AwsRequest("iam", "ListPolicies", {"Scope": "Local", "PathPrefix": IAM_PATH})


def create_role_request(name: str, trust_policy: Dict[str, Any], description: str,
                        tags: Dict[str, str]) -> AwsRequest:
    return AwsRequest("iam", "CreateRole", {
        "RoleName": name,
        "Path": IAM_PATH,
        "AssumeRolePolicyDocument": json.dumps(trust_policy, sort_keys=True),
        "Description": description,
        "Tags": tag_list(tags),
    })


def update_trust_request(name: str, trust_policy: Dict[str, Any]) -> AwsRequest:
    """An existing role gets today's trust policy (the auth mode may have changed)."""
    return AwsRequest("iam", "UpdateAssumeRolePolicy", {
        "RoleName": name, "PolicyDocument": json.dumps(trust_policy, sort_keys=True)})


def put_inline_policy_request(role: str, policy_name: str,
                              document: Dict[str, Any]) -> AwsRequest:
    """PutRolePolicy replaces the document in place, so re-running it is safe."""
    return AwsRequest("iam", "PutRolePolicy", {
        "RoleName": role, "PolicyName": policy_name,
        "PolicyDocument": json.dumps(document, sort_keys=True)})


def create_policy_request(name: str, document: Dict[str, Any], description: str,
                          tags: Dict[str, str]) -> AwsRequest:
    """A managed policy, because IAM Identity Center session mappings need a policy ARN."""
    return AwsRequest("iam", "CreatePolicy", {
        "PolicyName": name, "Path": IAM_PATH,
        "PolicyDocument": json.dumps(document, sort_keys=True),
        "Description": description, "Tags": tag_list(tags)})


def new_policy_version_request(arn: str, document: Dict[str, Any]) -> AwsRequest:
    return AwsRequest("iam", "CreatePolicyVersion", {
        "PolicyArn": arn, "PolicyDocument": json.dumps(document, sort_keys=True),
        "SetAsDefault": True})


def attach_policy_request(role: str, arn: str) -> AwsRequest:
    return AwsRequest("iam", "AttachRolePolicy", {"RoleName": role, "PolicyArn": arn})


# --- teardown: a role can only be deleted once nothing hangs on it --------------------------

def role_dependents_requests(role: str) -> List[AwsRequest]:
    """The three listings that say what must be removed before ``DeleteRole``."""
    return [
        AwsRequest("iam", "ListAttachedRolePolicies", {"RoleName": role}),
        AwsRequest("iam", "ListRolePolicies", {"RoleName": role}),
        AwsRequest("iam", "ListInstanceProfilesForRole", {"RoleName": role}),
    ]


def role_teardown_requests(role: str, attached_arns: List[str], inline_names: List[str],
                           instance_profiles: List[str]) -> List[AwsRequest]:
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


def list_policy_versions_request(arn: str) -> AwsRequest:
    return AwsRequest("iam", "ListPolicyVersions", {"PolicyArn": arn})


def policy_teardown_requests(arn: str, old_versions: List[str]) -> List[AwsRequest]:
    """Non-default versions first: IAM refuses to delete a policy that still has them."""
    requests = [AwsRequest("iam", "DeletePolicyVersion", {"PolicyArn": arn, "VersionId": v})
                for v in old_versions]
    requests.append(AwsRequest("iam", "DeletePolicy", {"PolicyArn": arn}))
    return requests
