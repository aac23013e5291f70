"""``ensure_studio`` / ``destroy_studio``: what is asked, in which order, given AWS's answers.

Tool: real boto3 clients with botocore's ``Stubber``. Why: moto does not implement the EMR
Studio API (CreateStudio, DescribeStudio, session mappings), so a moto server cannot answer
these calls. Through real clients each request is still validated against botocore's service
model before the stub answers, and each canned answer is validated against the output shape,
so the flow is tested on the shapes AWS really uses. The order across services is recorded by
the sender in tests/support/aws/stubbed.py (one Stubber per service only orders calls within a service).
"""
from __future__ import annotations

import datetime
import json
import urllib.parse
from typing import Any, Dict, List, Optional, Tuple

import pytest

from bigfruits.aws.commands.create_studio import ensure_studio
from bigfruits.aws.commands.destroy import destroy_studio
from bigfruits.aws.core.settings import StudioSettings
from bigfruits.aws.requests import ec2, iam
from bigfruits.aws.requests.iam_policies import (service_role_policy, service_trust_policy, user_policy,
                                                 user_trust_policy)
from bigfruits.errors import AwsError, InputError
from tests.support.aws.stubbed import StubbedAws
from tests.support.aws.studio_context import studio_context

#: pure: no Spark, no moto, no network (run per mutant by mutmut, docs/mutation-testing.md)
pytestmark = pytest.mark.pure

ACCOUNT = "123456789012"
URL = "https://es-ABC.emrstudio-prod.eu-west-3.amazonaws.com"
OUR_TAGS = [{"Key": "bigfruits:managed", "Value": "true"},
            {"Key": "bigfruits:project", "Value": "bigfruits"}]
NOW = datetime.datetime(2025, 1, 1, tzinfo=datetime.timezone.utc)


def settings(**overrides: Any) -> StudioSettings:
    base: Dict[str, Any] = dict(project="bigfruits", bucket="bf-bucket", region="eu-west-3")
    base.update(overrides)
    return StudioSettings(**base)


def role(name: str) -> Dict[str, Any]:
    return {"Path": "/bigfruits/", "RoleName": name, "RoleId": "AROAEXAMPLEROLEID0001",
            "Arn": f"arn:aws:iam::{ACCOUNT}:role/bigfruits/{name}", "CreateDate": NOW}


POLICY_ARN = f"arn:aws:iam::{ACCOUNT}:policy/bigfruits/bigfruits-studio-user"


def sent(request: Any) -> Dict[str, Any]:
    """The parameters of a request as the builders make it: what a stub expects to receive
    (the builders' own content is tested in tests/aws/requests; here, that the command sends
    each with the right arguments: this VPC, these subnets, these groups, this Studio)."""
    return request.params


def network_answers(aws: StubbedAws, groups: List[Dict[str, Any]], s: StudioSettings) -> None:
    aws.answer("sts", "GetCallerIdentity", {"Account": ACCOUNT, "Arn": "arn:aws:iam::1:user/me",
                                            "UserId": "AIDAEXAMPLE"}, {})
    aws.answer("ec2", "DescribeVpcs", {"Vpcs": [{"VpcId": "vpc-1", "IsDefault": True}]},
               {"Filters": [{"Name": "isDefault", "Values": ["true"]}]})
    aws.answer("ec2", "DescribeSubnets", {"Subnets": [
        {"SubnetId": f"subnet-{z}", "AvailabilityZone": f"eu-west-3{z}", "MapPublicIpOnLaunch": True}
        for z in "abc"]}, {"Filters": [{"Name": "vpc-id", "Values": ["vpc-1"]}]})
    for z in "abc":  # each public subnet's own route table: to the internet gateway
        aws.answer("ec2", "DescribeRouteTables", {"RouteTables": [{"Routes": [
            {"DestinationCidrBlock": "0.0.0.0/0", "GatewayId": "igw-1"}]}]},
            {"Filters": [{"Name": "association.subnet-id", "Values": [f"subnet-{z}"]}]})
    aws.answer("ec2", "DescribeSecurityGroups", {"SecurityGroups": groups}, sent(ec2.find_studio_groups(s, "vpc-1")))


def fresh_account_answers(aws: StubbedAws, studio_errors: Tuple[str, ...] = (),
                          studio_succeeds: bool = True, s: Optional[StudioSettings] = None) -> None:
    s = s or settings()
    network_answers(aws, [], s)
    aws.answer("ec2", "CreateSecurityGroup", {"GroupId": "sg-w"}, sent(ec2.create_studio_group(
        s, "bigfruits-studio-workspace", "EMR Studio workspaces (bigfruits)", "vpc-1")))
    aws.answer("ec2", "CreateSecurityGroup", {"GroupId": "sg-e"}, sent(ec2.create_studio_group(
        s, "bigfruits-studio-engine", "EMR Studio engine on the cluster master (bigfruits)", "vpc-1")))
    aws.answer("ec2", "AuthorizeSecurityGroupIngress", {"Return": True},
               sent(ec2.authorize_ingress("sg-e", ec2.engine_ingress("sg-w"))))
    aws.answer("ec2", "AuthorizeSecurityGroupEgress", {"Return": True},
               sent(ec2.authorize_egress("sg-w", ec2.workspace_egress("sg-e"))))
    aws.answer("ec2", "RevokeSecurityGroupEgress", {"Return": True}, sent(ec2.revoke_default_egress("sg-w")))
    aws.answer("ec2", "RevokeSecurityGroupEgress", {"Return": True}, sent(ec2.revoke_default_egress("sg-e")))
    aws.answer("iam", "ListRoles", {"Roles": [], "IsTruncated": False}, {"PathPrefix": "/bigfruits/"})
    aws.answer("iam", "CreateRole", {"Role": role("bigfruits-studio-service")}, sent(iam.create_role(
        "bigfruits-studio-service", service_trust_policy(ACCOUNT, "eu-west-3"), "EMR Studio service role (bigfruits)",
        s.tags)))
    aws.answer("iam", "PutRolePolicy", {}, sent(iam.put_inline_policy(
        "bigfruits-studio-service", "bigfruits-studio-service",
        service_role_policy(s, "vpc-1", ["subnet-a", "subnet-b", "subnet-c"]))))
    aws.answer("iam", "CreateRole", {"Role": role("bigfruits-studio-user")}, sent(iam.create_role(
        "bigfruits-studio-user", user_trust_policy(s, ACCOUNT), "EMR Studio users (bigfruits)", s.tags)))
    aws.answer("iam", "ListPolicies", {"Policies": [], "IsTruncated": False},
               {"Scope": "Local", "PathPrefix": "/bigfruits/"})
    aws.answer("iam", "CreatePolicy", {"Policy": {"PolicyName": "bigfruits-studio-user", "Arn": POLICY_ARN}},
               sent(iam.create_policy("bigfruits-studio-user", user_policy(s, ACCOUNT),
                                      "EMR Studio users (bigfruits)", s.tags)))
    aws.answer("iam", "AttachRolePolicy", {}, {"RoleName": "bigfruits-studio-user", "PolicyArn": POLICY_ARN})
    aws.answer("emr", "ListStudios", {"Studios": []}, {})
    for code in studio_errors:
        aws.fail("emr", "CreateStudio", code)
    if studio_succeeds:
        aws.answer("emr", "CreateStudio", {"StudioId": "es-ABC", "Url": URL})


def test_fresh_account_creates_everything_in_dependency_order(aws: StubbedAws) -> None:
    fresh_account_answers(aws)
    result = ensure_studio(studio_context(settings(), aws, lambda _: None), settings())
    assert result.url == URL and result.studio_id == "es-ABC"
    assert (result.vpc_id, result.subnet_ids) == ("vpc-1", ["subnet-a", "subnet-b", "subnet-c"])
    ops = aws.operations()
    assert ops.index("CreateSecurityGroup") < ops.index("CreateStudio")
    assert ops.index("PutRolePolicy") < ops.index("CreateStudio")
    (studio,) = aws.params("CreateStudio")
    assert (studio["WorkspaceSecurityGroupId"], studio["EngineSecurityGroupId"]) == ("sg-w", "sg-e")
    assert studio["ServiceRole"].endswith(":role/bigfruits/bigfruits-studio-service")
    assert studio["SubnetIds"] == ["subnet-a", "subnet-b", "subnet-c"]
    (ingress,) = aws.params("AuthorizeSecurityGroupIngress")
    assert ingress["GroupId"] == "sg-e"
    assert ingress["IpPermissions"][0]["UserIdGroupPairs"][0]["GroupId"] == "sg-w"
    assert sorted(p["GroupId"] for p in aws.params("RevokeSecurityGroupEgress")) == ["sg-e", "sg-w"]
    trust = json.loads(aws.params("CreateRole")[0]["AssumeRolePolicyDocument"])
    assert trust["Statement"][0]["Condition"]["StringEquals"]["aws:SourceAccount"] == ACCOUNT
    assert len(result.created) == 6  # 2 groups, 2 roles, 1 policy, 1 studio


def test_new_roles_not_yet_visible_to_emr_are_retried_then_succeed(aws: StubbedAws) -> None:
    fresh_account_answers(aws, studio_errors=("InvalidRequestException", "ValidationException"))
    waits: List[float] = []
    result = ensure_studio(studio_context(settings(), aws, waits.append), settings(), propagation_wait_s=3.0)
    assert result.url == URL
    assert waits == [3.0, 3.0]
    assert aws.operations().count("CreateStudio") == 3


def test_a_second_run_creates_nothing(aws: StubbedAws) -> None:
    s = settings()
    groups = [
        {"GroupName": "bigfruits-studio-workspace", "GroupId": "sg-w", "VpcId": "vpc-1",
         "Tags": OUR_TAGS, "IpPermissions": [],
         "IpPermissionsEgress": [
             {"IpProtocol": "tcp", "FromPort": 18888, "ToPort": 18888,
              "UserIdGroupPairs": [{"GroupId": "sg-e"}]},
             {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
              "IpRanges": [{"CidrIp": "0.0.0.0/0"}], "Ipv6Ranges": [{"CidrIpv6": "::/0"}]}]},
        {"GroupName": "bigfruits-studio-engine", "GroupId": "sg-e", "VpcId": "vpc-1",
         "Tags": OUR_TAGS, "IpPermissionsEgress": [],
         "IpPermissions": [{"IpProtocol": "tcp", "FromPort": 18888, "ToPort": 18888,
                            "UserIdGroupPairs": [{"GroupId": "sg-w"}]}]},
    ]
    network_answers(aws, groups, s)
    aws.answer("iam", "ListRoles", {"Roles": [role("bigfruits-studio-service"),
                                              role("bigfruits-studio-user")], "IsTruncated": False},
               {"PathPrefix": "/bigfruits/"})
    aws.answer("iam", "UpdateAssumeRolePolicy", {}, sent(iam.update_trust(
        "bigfruits-studio-service", service_trust_policy(ACCOUNT, "eu-west-3"))))
    aws.answer("iam", "PutRolePolicy", {}, sent(iam.put_inline_policy(
        "bigfruits-studio-service", "bigfruits-studio-service",
        service_role_policy(s, "vpc-1", ["subnet-a", "subnet-b", "subnet-c"]))))
    aws.answer("iam", "UpdateAssumeRolePolicy", {}, sent(iam.update_trust(
        "bigfruits-studio-user", user_trust_policy(s, ACCOUNT))))
    aws.answer("iam", "ListPolicies", {"Policies": [{"PolicyName": "bigfruits-studio-user",
                                                     "Arn": POLICY_ARN, "DefaultVersionId": "v1"}],
                                       "IsTruncated": False}, {"Scope": "Local", "PathPrefix": "/bigfruits/"})
    document = urllib.parse.quote(json.dumps(user_policy(s, ACCOUNT)))
    aws.answer("iam", "GetPolicyVersion", {"PolicyVersion": {"Document": document, "VersionId": "v1",
                                                             "IsDefaultVersion": True}},
               {"PolicyArn": POLICY_ARN, "VersionId": "v1"})
    aws.answer("iam", "AttachRolePolicy", {}, {"RoleName": "bigfruits-studio-user", "PolicyArn": POLICY_ARN})
    aws.answer("emr", "ListStudios", {"Studios": [{"StudioId": "es-ABC", "Name": "bigfruits-studio"}]}, {})
    aws.answer("emr", "DescribeStudio", {"Studio": {"StudioId": "es-ABC", "Url": URL,
                                                    "Tags": OUR_TAGS}}, {"StudioId": "es-ABC"})
    result = ensure_studio(studio_context(s, aws, lambda _: None), s)
    assert result.url == URL and result.created == []
    writes = [op for op in aws.operations() if op.startswith(("Create", "Authorize", "Revoke"))]
    assert writes == []


def test_a_security_group_of_that_name_that_is_not_ours_is_an_error(aws: StubbedAws) -> None:
    network_answers(aws, [{"GroupName": "bigfruits-studio-workspace", "GroupId": "sg-x",
                           "VpcId": "vpc-1", "Tags": []}], settings())
    with pytest.raises(AwsError, match="not ours"):
        ensure_studio(studio_context(settings(), aws, lambda _: None), settings())
    assert "CreateSecurityGroup" not in aws.operations()


def test_identity_center_mode_passes_the_user_role_and_maps_users(aws: StubbedAws) -> None:
    s = settings(auth_mode="SSO", sso_users=("alice",), sso_groups=("data-team",))
    fresh_account_answers(aws, s=s)
    aws.answer("emr", "CreateStudioSessionMapping", {})
    aws.answer("emr", "CreateStudioSessionMapping", {})
    ensure_studio(studio_context(s, aws, lambda _: None), s)
    (studio,) = aws.params("CreateStudio")
    assert studio["AuthMode"] == "SSO"
    assert studio["UserRole"].endswith(":role/bigfruits/bigfruits-studio-user")
    mappings = aws.params("CreateStudioSessionMapping")
    assert {(m["IdentityType"], m["IdentityName"]) for m in mappings} == {
        ("USER", "alice"), ("GROUP", "data-team")}
    assert all(m["SessionPolicyArn"] == POLICY_ARN for m in mappings)
    user_trust = json.loads(aws.params("CreateRole")[1]["AssumeRolePolicyDocument"])
    assert "sts:SetContext" in user_trust["Statement"][0]["Action"]


def test_no_default_vpc_says_what_to_pass(aws: StubbedAws) -> None:
    aws.answer("sts", "GetCallerIdentity", {"Account": ACCOUNT}, {})
    aws.answer("ec2", "DescribeVpcs", {"Vpcs": []}, {"Filters": [{"Name": "isDefault", "Values": ["true"]}]})
    with pytest.raises(InputError, match="--vpc-id"):
        ensure_studio(studio_context(settings(), aws, lambda _: None), settings())


def test_destroy_removes_ours_in_dependency_order(aws: StubbedAws) -> None:
    workspace = {"GroupName": "bigfruits-studio-workspace", "GroupId": "sg-w", "VpcId": "vpc-1",
                 "Tags": OUR_TAGS, "IpPermissionsEgress": [
                     {"IpProtocol": "tcp", "FromPort": 18888, "ToPort": 18888,
                      "UserIdGroupPairs": [{"GroupId": "sg-e"}]}]}
    engine = {"GroupName": "bigfruits-studio-engine", "GroupId": "sg-e", "VpcId": "vpc-1",
              "Tags": OUR_TAGS, "IpPermissions": [
                  {"IpProtocol": "tcp", "FromPort": 18888, "ToPort": 18888,
                   "UserIdGroupPairs": [{"GroupId": "sg-w"}]}]}
    # the Studio: looked for because our service role exists; a foreign one of the same name
    # is skipped, ours goes with its mapping
    ours = {"PathPrefix": "/bigfruits/"}
    groups = sent(ec2.find_tagged_studio_groups(settings()))
    aws.answer("iam", "ListRoles", {"Roles": [role("bigfruits-studio-service")], "IsTruncated": False}, ours)
    aws.answer("emr", "ListStudios", {"Studios": [{"StudioId": "es-OTHER", "Name": "bigfruits-studio"},
                                                  {"StudioId": "es-ABC", "Name": "bigfruits-studio"}]}, {})
    aws.answer("emr", "DescribeStudio", {"Studio": {"StudioId": "es-OTHER", "Tags": []}}, {"StudioId": "es-OTHER"})
    aws.answer("emr", "DescribeStudio", {"Studio": {"StudioId": "es-ABC", "Tags": OUR_TAGS}}, {"StudioId": "es-ABC"})
    aws.answer("emr", "DescribeStudio", {"Studio": {"StudioId": "es-ABC", "Tags": OUR_TAGS}}, {"StudioId": "es-ABC"})
    aws.answer("emr", "ListStudioSessionMappings", {"SessionMappings": [
        {"StudioId": "es-ABC", "IdentityId": "u-1", "IdentityName": "alice", "IdentityType": "USER"}]},
        {"StudioId": "es-ABC"})
    aws.answer("emr", "DeleteStudioSessionMapping", {},
               {"StudioId": "es-ABC", "IdentityId": "u-1", "IdentityType": "USER"})
    aws.answer("emr", "DeleteStudio", {})
    # the groups: the engine's rule naming the workspace group goes before the workspace group
    aws.answer("ec2", "DescribeSecurityGroups", {"SecurityGroups": [workspace, engine]}, groups)
    aws.answer("ec2", "DescribeSecurityGroups", {"SecurityGroups": [workspace, engine]}, groups)
    aws.answer("ec2", "RevokeSecurityGroupIngress", {"Return": True}, {"GroupId": "sg-e", "IpPermissions": [
        {"IpProtocol": "tcp", "FromPort": 18888, "ToPort": 18888, "UserIdGroupPairs": [{"GroupId": "sg-w"}]}]})
    aws.fail("ec2", "DeleteSecurityGroup", "DependencyViolation")  # Studio's ENIs still going
    aws.answer("ec2", "DeleteSecurityGroup", {})
    aws.answer("ec2", "DescribeSecurityGroups", {"SecurityGroups": [{**engine, "IpPermissions": []}]}, groups)
    aws.answer("ec2", "DeleteSecurityGroup", {})
    # the roles (not someone else's under our path) and the policy
    aws.answer("iam", "ListRoles", {"Roles": [role("bigfruits-studio-service"),
                                              role("bigfruits-studio-user"), role("someone-else")],
                                    "IsTruncated": False}, ours)
    user, service = {"RoleName": "bigfruits-studio-user"}, {"RoleName": "bigfruits-studio-service"}
    aws.answer("iam", "ListAttachedRolePolicies", {"AttachedPolicies": [
        {"PolicyName": "bigfruits-studio-user", "PolicyArn": POLICY_ARN}]}, user)
    aws.answer("iam", "ListRolePolicies", {"PolicyNames": [], "IsTruncated": False}, user)
    aws.answer("iam", "ListInstanceProfilesForRole", {"InstanceProfiles": [], "IsTruncated": False}, user)
    aws.answer("iam", "DetachRolePolicy", {}, {**user, "PolicyArn": POLICY_ARN})
    aws.answer("iam", "DeleteRole", {}, user)
    aws.answer("iam", "ListAttachedRolePolicies", {"AttachedPolicies": []}, service)
    aws.answer("iam", "ListRolePolicies", {"PolicyNames": ["bigfruits-studio-service"], "IsTruncated": False},
               service)
    aws.answer("iam", "ListInstanceProfilesForRole", {"InstanceProfiles": [], "IsTruncated": False}, service)
    aws.answer("iam", "DeleteRolePolicy", {}, {**service, "PolicyName": "bigfruits-studio-service"})
    aws.answer("iam", "DeleteRole", {}, service)
    aws.answer("iam", "ListPolicies", {"Policies": [{"PolicyName": "bigfruits-studio-user",
                                                     "Arn": POLICY_ARN}], "IsTruncated": False},
               {"Scope": "Local", "PathPrefix": "/bigfruits/"})
    aws.answer("iam", "ListPolicyVersions", {"Versions": [
        {"VersionId": "v2", "IsDefaultVersion": True}, {"VersionId": "v1", "IsDefaultVersion": False}]},
        {"PolicyArn": POLICY_ARN})
    aws.answer("iam", "DeletePolicyVersion", {}, {"PolicyArn": POLICY_ARN, "VersionId": "v1"})
    aws.answer("iam", "DeletePolicy", {}, {"PolicyArn": POLICY_ARN})

    waits: List[float] = []
    removed = destroy_studio(studio_context(settings(), aws, waits.append))

    writes = [op for op in aws.operations() if op.startswith(("Delete", "Revoke", "Detach"))]
    assert writes == ["DeleteStudioSessionMapping", "DeleteStudio",
                      "RevokeSecurityGroupIngress",
                      "DeleteSecurityGroup", "DeleteSecurityGroup", "DeleteSecurityGroup",
                      "DetachRolePolicy", "DeleteRole", "DeleteRolePolicy", "DeleteRole",
                      "DeletePolicyVersion", "DeletePolicy"]
    assert len(waits) == 1
    assert aws.params("DeleteStudio") == [{"StudioId": "es-ABC"}]  # never the foreign one
    assert aws.params("RevokeSecurityGroupIngress")[0]["GroupId"] == "sg-e"
    assert [p["GroupId"] for p in aws.params("DeleteSecurityGroup")] == ["sg-w", "sg-w", "sg-e"]
    assert {p["RoleName"] for p in aws.params("DeleteRole")} == {
        "bigfruits-studio-service", "bigfruits-studio-user"}
    assert removed == ["studio es-ABC", "studio-security-group sg-w", "studio-security-group sg-e",
                       "studio-role bigfruits-studio-user", "studio-role bigfruits-studio-service",
                       f"studio-policy {POLICY_ARN}"]


def test_no_studio_service_role_means_no_studio_to_look_for(aws: StubbedAws) -> None:
    """Accounts (and moto) where EMR Studio was never set up are not asked about Studios."""
    from bigfruits.aws.commands.destroy import discover_studios

    aws.answer("iam", "ListRoles", {"Roles": [role("bigfruits-emr-service-role")], "IsTruncated": False})
    assert discover_studios(studio_context(settings(), aws)) == []
    assert aws.operations() == ["ListRoles"]


def test_removing_what_is_already_gone_is_fine(aws: StubbedAws) -> None:
    """State-file ids can be stale: a missing Studio, group or role is not an error."""
    from bigfruits.aws.commands.destroy import remove_studio, remove_studio_group, remove_studio_role

    aws.fail("emr", "DescribeStudio", "InvalidRequestException")
    remove_studio(studio_context(settings(), aws), "es-GONE")
    aws.answer("ec2", "DescribeSecurityGroups", {"SecurityGroups": []})
    aws.fail("ec2", "DeleteSecurityGroup", "InvalidGroup.NotFound")
    remove_studio_group(studio_context(settings(), aws, lambda _: pytest.fail("no wait")), "sg-gone")
    for op in ("ListAttachedRolePolicies", "ListRolePolicies", "ListInstanceProfilesForRole",
               "DeleteRole"):
        aws.fail("iam", op, "NoSuchEntity")
    remove_studio_role(studio_context(settings(), aws), "bigfruits-studio-user")
    assert "DeleteStudio" not in aws.operations()


def test_an_error_that_time_does_not_cure_is_not_retried(aws: StubbedAws) -> None:
    fresh_account_answers(aws, studio_errors=("AccessDeniedException",), studio_succeeds=False)
    with pytest.raises(AwsError, match="AccessDenied"):
        ensure_studio(studio_context(settings(), aws, lambda _: pytest.fail("must not wait")), settings())
    assert aws.operations().count("CreateStudio") == 1
