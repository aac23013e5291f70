"""EMR requests for the Studio itself and its IAM Identity Center session mappings.

Pure functions returning ``AwsRequest``. moto does not implement these operations; their
shapes are checked against botocore's service model in the tests.
"""
from __future__ import annotations

from typing import Any, Dict, List, Sequence

from bigfruits.aws.core.request import AwsRequest
from bigfruits.aws.core.settings import StudioSettings
from bigfruits.aws.core.tags import tag_list


def list_studios() -> AwsRequest:
    return AwsRequest("emr", "ListStudios", {})


def describe_studio(studio_id: str) -> AwsRequest:
    return AwsRequest("emr", "DescribeStudio", {"StudioId": studio_id})


def create_studio(settings: StudioSettings, vpc_id: str, subnet_ids: Sequence[str],
                          workspace_sg: str, engine_sg: str, service_role_arn: str,
                          user_role_arn: str) -> AwsRequest:
    """IAM mode: people sign in with their own IAM identity, so no UserRole is passed (the API
    takes one only in IAM Identity Center mode)."""
    params: Dict[str, Any] = {
        "Name": settings.studio_name,
        "Description": f"bigfruits notebooks for project {settings.project}",
        "AuthMode": settings.auth_mode,
        "VpcId": vpc_id,
        "SubnetIds": list(subnet_ids),
        "ServiceRole": service_role_arn,
        "WorkspaceSecurityGroupId": workspace_sg,
        "EngineSecurityGroupId": engine_sg,
        "DefaultS3Location": settings.default_s3_location,
        "Tags": tag_list(settings.tags),
    }
    if settings.auth_mode == "SSO":
        params["UserRole"] = user_role_arn
        if settings.idc_instance_arn:
            params["IdcInstanceArn"] = settings.idc_instance_arn
    return AwsRequest("emr", "CreateStudio", params)


def create_session_mappings(settings: StudioSettings, studio_id: str,
                             session_policy_arn: str) -> List[AwsRequest]:
    """One mapping per IAM Identity Center user or group, each limited by the user policy."""
    identities = ([("USER", name) for name in settings.sso_users]
                  + [("GROUP", name) for name in settings.sso_groups])
    return [AwsRequest("emr", "CreateStudioSessionMapping", {
        "StudioId": studio_id, "IdentityName": name, "IdentityType": kind,
        "SessionPolicyArn": session_policy_arn}) for kind, name in identities]


def list_session_mappings(studio_id: str) -> AwsRequest:
    return AwsRequest("emr", "ListStudioSessionMappings", {"StudioId": studio_id})


def delete_session_mapping(studio_id: str, mapping: Dict[str, Any]) -> AwsRequest:
    """``mapping`` is one ``SessionMappings`` item from ListStudioSessionMappings."""
    return AwsRequest("emr", "DeleteStudioSessionMapping", {
        "StudioId": studio_id, "IdentityId": mapping["IdentityId"],
        "IdentityType": mapping["IdentityType"]})


def delete_studio(studio_id: str) -> AwsRequest:
    return AwsRequest("emr", "DeleteStudio", {"StudioId": studio_id})
