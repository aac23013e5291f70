"""``ensure_roles``: the IAM requests *sent*, in order, with their exact parameters, for a fresh
account and for roles an older version made; and what the state file then remembers.

Tool: real boto3 clients under botocore's ``Stubber`` (tests/support/aws/stubbed.py), each
answer given only for the expected parameters. Why not moto here: these tests are pure (mutmut
runs them per mutant); what IAM then stores is checked on the moto server in
``test_cluster_roles.py``.
"""
from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any, Dict, List

import pytest

from bigfruits.aws.core.context import AwsContext, Injected
from bigfruits.aws.core.settings import AwsSettings
from bigfruits.aws.core.state import State
from bigfruits.aws.procedures.cluster_roles import IAM_PROPAGATION_S, ensure_roles
from bigfruits.aws.requests.iam_policies import node_policy, pass_node_role_policy, service_trust_policy, trust_policy
from tests.support.aws.stubbed import StubbedAws

pytestmark = pytest.mark.pure

ACCOUNT = "123456789012"
NOW = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
TAGS = [{"Key": "bigfruits:managed", "Value": "true"}, {"Key": "bigfruits:project", "Value": "p"}]
SERVICE, NODE = "p-emr-service-role", "p-emr-ec2-role"


def context(aws: StubbedAws, tmp_path: Path, sleeps: List[float]) -> AwsContext:
    settings = AwsSettings(project="p", region="eu-west-3", bucket="p-bucket", state_file=tmp_path / "state.json")
    return AwsContext(settings, aws, State(settings.state_path()), Injected(sleep=sleeps.append))


def role(name: str) -> Dict[str, Any]:
    return {"Role": {"Path": "/bigfruits/", "RoleName": name, "RoleId": "AROAEXAMPLEROLEID0001",
                     "Arn": f"arn:aws:iam::{ACCOUNT}:role/bigfruits/{name}", "CreateDate": NOW}}


def doc(document: Dict[str, Any]) -> str:
    return json.dumps(document, sort_keys=True)


def policies_answers(aws: StubbedAws) -> None:
    """What every launch sends after the roles exist: the service role's trust and policies,
    then the nodes' policy; the detaches of older versions' policies answer NoSuchEntity."""
    aws.answer("iam", "UpdateAssumeRolePolicy", {},
               {"RoleName": SERVICE, "PolicyDocument": doc(service_trust_policy(ACCOUNT))})
    aws.answer("iam", "AttachRolePolicy", {}, {
        "RoleName": SERVICE, "PolicyArn": "arn:aws:iam::aws:policy/service-role/AmazonEMRServicePolicy_v2"})
    aws.answer("iam", "PutRolePolicy", {}, {
        "RoleName": SERVICE, "PolicyName": "bigfruits-pass-node-role",
        "PolicyDocument": doc(pass_node_role_policy(f"arn:aws:iam::{ACCOUNT}:role/bigfruits/{NODE}"))})
    aws.fail("iam", "DetachRolePolicy", "NoSuchEntity", {
        "RoleName": SERVICE, "PolicyArn": "arn:aws:iam::aws:policy/service-role/AmazonElasticMapReduceRole"})
    aws.answer("iam", "PutRolePolicy", {}, {
        "RoleName": NODE, "PolicyName": "bigfruits-node", "PolicyDocument": doc(node_policy("p-bucket"))})
    aws.fail("iam", "DetachRolePolicy", "NoSuchEntity", {
        "RoleName": NODE, "PolicyArn": "arn:aws:iam::aws:policy/service-role/AmazonElasticMapReduceforEC2Role"})


def test_a_fresh_account_gets_both_roles_their_policies_and_a_pause(aws: StubbedAws, tmp_path: Path) -> None:
    """Protects the cluster's start under AmazonEMRServicePolicy_v2: the PassRole policy (v2
    passes only EMR_EC2_DefaultRole) is *sent*, the service role trusts EMR for this account
    only, and IAM gets a moment to propagate the new roles."""
    aws.answer("sts", "GetCallerIdentity", {"Account": ACCOUNT})
    aws.fail("iam", "GetRole", "NoSuchEntity", {"RoleName": SERVICE})
    aws.answer("iam", "CreateRole", role(SERVICE), {
        "RoleName": SERVICE, "Path": "/bigfruits/", "Description": "p: created by bigfruits aws",
        "AssumeRolePolicyDocument": doc(service_trust_policy(ACCOUNT)), "Tags": TAGS})
    aws.fail("iam", "GetRole", "NoSuchEntity", {"RoleName": NODE})
    aws.answer("iam", "CreateRole", role(NODE), {
        "RoleName": NODE, "Path": "/bigfruits/", "Description": "p: created by bigfruits aws",
        "AssumeRolePolicyDocument": doc(trust_policy("ec2.amazonaws.com")), "Tags": TAGS})
    aws.answer("iam", "CreateInstanceProfile", {"InstanceProfile": {
        "Path": "/bigfruits/", "InstanceProfileName": NODE, "InstanceProfileId": "AIPAEXAMPLEPROFILE01",
        "Arn": f"arn:aws:iam::{ACCOUNT}:instance-profile/bigfruits/{NODE}", "CreateDate": NOW, "Roles": []}},
        {"InstanceProfileName": NODE, "Path": "/bigfruits/", "Tags": TAGS})
    aws.answer("iam", "AddRoleToInstanceProfile", {}, {"InstanceProfileName": NODE, "RoleName": NODE})
    policies_answers(aws)
    sleeps: List[float] = []
    ctx = context(aws, tmp_path, sleeps)
    ensure_roles(ctx)
    assert sleeps == [IAM_PROPAGATION_S]
    state = State(ctx.settings.state_path())
    assert state.ids("iam-role") == sorted([SERVICE, NODE]) and state.ids("instance-profile") == [NODE]


def test_roles_an_older_version_made_are_brought_up_to_date_without_a_pause(aws: StubbedAws,
                                                                           tmp_path: Path) -> None:
    """Roles already there are not created again; they get today's trust and policies (an
    older version's trust let EMR act for any account; its v1 policy is detached)."""
    aws.answer("sts", "GetCallerIdentity", {"Account": ACCOUNT})
    aws.answer("iam", "GetRole", role(SERVICE), {"RoleName": SERVICE})
    aws.answer("iam", "GetRole", role(NODE), {"RoleName": NODE})
    policies_answers(aws)
    sleeps: List[float] = []
    ensure_roles(context(aws, tmp_path, sleeps))
    assert sleeps == []
    assert "CreateRole" not in aws.operations()


def test_a_role_that_appeared_meanwhile_is_fine(aws: StubbedAws, tmp_path: Path) -> None:
    """Another run created the role between our GetRole and CreateRole: EntityAlreadyExists is
    tolerated, and the rest goes on (the pause too: the role is new)."""
    aws.answer("sts", "GetCallerIdentity", {"Account": ACCOUNT})
    aws.fail("iam", "GetRole", "NoSuchEntity", {"RoleName": SERVICE})
    aws.fail("iam", "CreateRole", "EntityAlreadyExists")
    aws.answer("iam", "GetRole", role(NODE), {"RoleName": NODE})
    policies_answers(aws)
    sleeps: List[float] = []
    ensure_roles(context(aws, tmp_path, sleeps))
    assert sleeps == [IAM_PROPAGATION_S]
