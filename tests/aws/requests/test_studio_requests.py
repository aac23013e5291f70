"""EMR Studio request builders and policy documents.

Tool: botocore's own service model (``botocore.validate.validate_parameters``), no network.
Why: moto does not implement EMR Studio, so the only authority on a request's shape available
offline is the model botocore itself uses to serialise it; a request that fails here would
fail the same way on AWS before being sent. (The Studio commands' dry runs are in
tests/aws/commands/test_create_studio_dry_run.py.)
"""
from __future__ import annotations

import json
from typing import Any, Dict, List

import botocore.session
import pytest
from botocore.validate import validate_parameters

from bigfruits.aws.core.send import CALLER_IDENTITY
from bigfruits.aws.requests import ec2, iam
from bigfruits.aws.requests.emr import studio
from bigfruits.aws.core.request import AwsRequest
from bigfruits.aws.requests.iam_policies import (service_role_policy, service_trust_policy,
                                           user_policy, user_trust_policy)
from bigfruits.aws.core.settings import StudioSettings
from bigfruits.errors import InputError

#: pure: no Spark, no moto, no network (run per mutant by mutmut, docs/mutation-testing.md)
pytestmark = pytest.mark.pure

_BOTOCORE = botocore.session.get_session()


def assert_valid(request: AwsRequest) -> None:
    """The request names a real operation and its params satisfy the operation's input shape."""
    model = _BOTOCORE.get_service_model(request.service)
    assert request.operation in model.operation_names, request.operation
    validate_parameters(request.params, model.operation_model(request.operation).input_shape)
    json.loads(request.to_json())


def settings(**overrides: Any) -> StudioSettings:
    base: Dict[str, Any] = dict(project="bigfruits", bucket="bf-bucket", region="eu-west-3")
    base.update(overrides)
    return StudioSettings(**base)


def every_builder_request(s: StudioSettings) -> List[AwsRequest]:
    doc = user_policy(s, "123456789012")
    arn = "arn:aws:iam::123456789012:policy/bigfruits/x"
    mapping = {"IdentityId": "id-1", "IdentityType": "USER"}
    return [
        CALLER_IDENTITY, iam.list_our_roles(),
        iam.list_our_policies(),
        iam.create_role("r", service_trust_policy("1", "eu-west-3"), "d", s.tags),
        iam.update_trust("r", user_trust_policy(s, "1")),
        iam.put_inline_policy("r", "p", service_role_policy(s, "vpc-1", ["subnet-1"])),
        iam.create_policy("p", doc, "d", s.tags),
        iam.new_policy_version(arn, doc), iam.attach_policy("r", arn),
        *iam.role_dependents("r"),
        *iam.delete_role("r", [arn], ["inline"], ["profile"]),
        iam.list_policy_versions(arn),
        *iam.delete_policy(arn, ["v1"]),
        ec2.find_default_vpc(), ec2.find_subnets("vpc-1"),
        ec2.find_studio_groups(s, "vpc-1"),
        ec2.find_tagged_studio_groups(s),
        ec2.create_studio_group(s, "n", "d", "vpc-1"),
        ec2.authorize_ingress("sg-e", ec2.engine_ingress("sg-w")),
        ec2.authorize_egress("sg-w", ec2.workspace_egress("sg-e")),
        ec2.revoke_default_egress("sg-w"),
        ec2.delete_security_group("sg-w"),
        studio.list_studios(),
        studio.describe_studio("es-1"),
        studio.create_studio(s, "vpc-1", ["subnet-1"], "sg-w", "sg-e",
                                              "arn:svc", "arn:user"),
        *studio.create_session_mappings(s, "es-1", arn),
        studio.list_session_mappings("es-1"),
        studio.delete_session_mapping("es-1", mapping),
        studio.delete_studio("es-1"),
    ]


@pytest.mark.parametrize("mode", [
    dict(), dict(auth_mode="SSO", sso_users=("alice",), sso_groups=("team",),
                 idc_instance_arn="arn:aws:sso:::instance/ssoins-1")])
def test_every_builder_request_matches_the_botocore_model(mode: Dict[str, Any]) -> None:
    requests = every_builder_request(settings(**mode))
    for request in requests:
        assert_valid(request)
    assert len({r.operation for r in requests}) >= 30


def test_create_studio_iam_mode_has_no_user_role_and_uses_our_prefix() -> None:
    params = studio.create_studio(
        settings(), "vpc-1", ["subnet-1", "subnet-2"], "sg-w", "sg-e", "arn:svc", "arn:user").params
    assert params["AuthMode"] == "IAM"
    assert "UserRole" not in params
    assert params["DefaultS3Location"] == "s3://bf-bucket/studio/"
    assert {"Key": "bigfruits:managed", "Value": "true"} in params["Tags"]
    sso = studio.create_studio(
        settings(auth_mode="SSO"), "vpc-1", ["subnet-1"], "sg-w", "sg-e", "arn:svc", "arn:user")
    assert sso.params["AuthMode"] == "SSO" and sso.params["UserRole"] == "arn:user"


def test_security_group_rules_are_exactly_what_studio_needs() -> None:
    (ingress,) = ec2.engine_ingress("sg-w")
    assert (ingress["FromPort"], ingress["ToPort"], ingress["IpProtocol"]) == (18888, 18888, "tcp")
    assert [p["GroupId"] for p in ingress["UserIdGroupPairs"]] == ["sg-w"]
    assert "IpRanges" not in ingress  # never open to an address range
    keys = ec2.rule_keys(ec2.workspace_egress("sg-e"))
    assert keys == {("tcp", 18888, 18888, "sg-e"), ("tcp", 443, 443, "0.0.0.0/0"),
                    ("tcp", 443, 443, "::/0")}
    tags = ec2.create_studio_group(settings(), "n", "d", "vpc-1") \
        .params["TagSpecifications"][0]["Tags"]
    assert {"Key": "for-use-with-amazon-emr-managed-policies", "Value": "true"} in tags


def test_missing_permissions_only_adds_what_is_absent() -> None:
    wanted = ec2.workspace_egress("sg-e")
    assert ec2.missing_permissions(wanted, []) == wanted
    assert ec2.missing_permissions(wanted, wanted) == []
    half = ec2.missing_permissions(wanted, wanted[:1])
    assert half == wanted[1:]


def test_pick_subnets_one_per_zone_at_most_five() -> None:
    subnets = [{"SubnetId": f"subnet-{i}", "AvailabilityZone": f"eu-west-3{'abcdefg'[i % 7]}",
                "MapPublicIpOnLaunch": True} for i in range(10)]
    picked = ec2.pick_subnets(subnets)
    assert len(picked) == 5 and len(set(picked)) == 5
    assert ec2.pick_subnets(list(reversed(subnets))) == picked


def _statements(policy: Dict[str, Any]) -> List[Dict[str, Any]]:
    return policy["Statement"]


def test_policies_are_least_privilege() -> None:
    s = settings()
    for policy in (service_role_policy(s, "vpc-1", ["subnet-1"]), user_policy(s, "123456789012")):
        for statement in _statements(policy):
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            assert actions and all(a != "*" and not a.endswith(":*") for a in actions), statement["Sid"]
            resources = statement["Resource"] if isinstance(statement["Resource"], list) \
                else [statement["Resource"]]
            for action in actions:
                if action.startswith("s3:") and action != "s3:ListAllMyBuckets":
                    assert resources and all(r.startswith("arn:aws:s3:::bf-bucket") for r in resources)
    service = service_role_policy(s, "vpc-1", ["subnet-1"])
    writes = [st for st in _statements(service) if "s3:PutObject" in st["Action"]]
    assert writes and all(r == "arn:aws:s3:::bf-bucket/studio/*" for st in writes for r in st["Resource"])
    (pass_role,) = [st for st in _statements(user_policy(s, "123456789012"))
                    if "iam:PassRole" in st["Action"]]
    assert pass_role["Resource"] == "arn:aws:iam::123456789012:role/bigfruits/bigfruits-studio-service"


def test_service_role_allows_workspace_collaboration_as_aws_documents() -> None:
    # AWS's sample Studio service role policy: Studio looks up who a Workspace is shared with.
    policy = service_role_policy(settings(), "vpc-1", ["subnet-1"])
    (collab,) = [st for st in _statements(policy) if st["Sid"] == "AllowWorkspaceCollaboration"]
    assert {"iam:GetUser", "iam:GetRole", "iam:ListUsers", "iam:ListRoles",
            "sso:GetManagedApplicationInstance", "sso-directory:SearchUsers"} == set(collab["Action"])
    assert collab["Effect"] == "Allow"


def test_trust_policies_follow_the_auth_mode() -> None:
    trust = service_trust_policy("123456789012", "eu-west-3")["Statement"][0]
    assert trust["Principal"] == {"Service": "elasticmapreduce.amazonaws.com"}
    assert trust["Condition"]["StringEquals"]["aws:SourceAccount"] == "123456789012"
    iam_mode = user_trust_policy(settings(), "123456789012")["Statement"][0]
    assert iam_mode["Principal"] == {"AWS": "arn:aws:iam::123456789012:root"}
    sso_mode = user_trust_policy(settings(auth_mode="SSO"), "123456789012")["Statement"][0]
    assert "sts:SetContext" in sso_mode["Action"]


@pytest.mark.parametrize("bad, words", [
    (dict(auth_mode="LDAP"), "auth mode"),
    (dict(sso_users=("alice",)), "IAM Identity Center"),
    (dict(subnet_ids=("subnet-1",)), "--vpc-id"),
    (dict(vpc_id="vpc-1", subnet_ids=tuple(f"subnet-{i}" for i in range(6))), "at most 5"),
])
def test_bad_settings_are_one_clear_error(bad: Dict[str, Any], words: str) -> None:
    with pytest.raises(InputError, match=words):
        settings(**bad)
