"""What each policy may grant, said as rules rather than as a whole reviewed document
(test_policy_documents.py): S3 only inside our bucket, never an S3 action on every resource.

These hold whatever statements are added or renamed, so a policy widened by mistake fails here
with the rule it breaks, not only as a difference from the golden file."""
from __future__ import annotations

import json
from typing import Any, Dict, Iterator, List, Tuple

import pytest

from bigfruits.aws.core.settings import StudioSettings
from bigfruits.aws.requests import iam_policies as p

#: pure: no Spark, no moto, no network (run per mutant by mutmut, docs/mutation-testing.md)
pytestmark = pytest.mark.pure

ACCOUNT = "123456789012"
BUCKET = "bf-bucket"
#: S3 actions that name no bucket: IAM accepts only ``*`` as their resource.
UNSCOPABLE_S3 = {"s3:ListAllMyBuckets"}


def _as_list(value: Any) -> List[str]:
    return [value] if isinstance(value, str) else list(value)


def _settings(mode: str) -> StudioSettings:
    extra: Dict[str, Any] = {}
    if mode == "SSO":
        extra = {"auth_mode": "SSO", "sso_users": ("alice",), "sso_groups": ("team",),
                 "idc_instance_arn": "arn:aws:sso:::instance/ssoins-1"}
    return StudioSettings(project="bigfruits", bucket=BUCKET, region="eu-west-3", **extra)


def granting_policies() -> Iterator[Tuple[str, Dict[str, Any]]]:
    """Every permissions policy we build (trust policies grant nothing on resources)."""
    yield "node_policy", p.node_policy(BUCKET)
    for mode in ("IAM", "SSO"):
        s = _settings(mode)
        yield f"{mode}/service_role_policy", p.service_role_policy(s, "vpc-1", ["subnet-1"])
        yield f"{mode}/user_policy", p.user_policy(s, ACCOUNT)


POLICIES = dict(granting_policies())


def s3_grants(policy: Dict[str, Any]) -> List[Tuple[str, str, str]]:
    """(statement id, action, resource) of every S3 action the policy allows."""
    found = []
    for statement in policy["Statement"]:
        assert statement["Effect"] in ("Allow", "Deny"), statement
        assert "NotAction" not in statement and "NotResource" not in statement, statement
        if statement["Effect"] == "Deny":
            continue  # takes away, grants nothing (what it takes away: test_studio_users_never_read_secrets)
        actions = _as_list(statement["Action"])
        for action in actions:
            if action.lower().startswith("s3:") or action == "*":
                for resource in _as_list(statement["Resource"]):
                    found.append((statement.get("Sid", "?"), action, resource))
    return found


def inside_our_bucket(resource: str) -> bool:
    return resource == f"arn:aws:s3:::{BUCKET}" or resource.startswith(f"arn:aws:s3:::{BUCKET}/")


@pytest.mark.parametrize("name", sorted(POLICIES))
def test_every_s3_grant_is_inside_our_bucket(name: str) -> None:
    """Protects other people's buckets in the account: an S3 action on anything but our bucket
    or its objects (another bucket, ``arn:aws:s3:::*``, ``*``) fails, except the one action
    IAM cannot scope. ``s3:*`` and ``*`` as actions count as S3 actions."""
    grants = s3_grants(POLICIES[name])
    outside = [g for g in grants if not inside_our_bucket(g[2]) and g[1] not in UNSCOPABLE_S3]
    assert outside == [], outside


@pytest.mark.parametrize("name", sorted(POLICIES))
def test_no_s3_action_on_every_resource(name: str) -> None:
    """Protects against the widening to ``*``: no S3 action (nor ``*``) has Resource ``*`` or
    any wildcard bucket, apart from ``s3:ListAllMyBuckets``, which names no bucket."""
    wide = [g for g in s3_grants(POLICIES[name])
            if g[1] not in UNSCOPABLE_S3 and (g[2] == "*" or g[2].startswith("arn:aws:s3:::*"))]
    assert wide == [], wide


@pytest.mark.parametrize("name", sorted(POLICIES))
def test_no_wildcard_s3_action(name: str) -> None:
    """``s3:*`` (or ``s3:Put*``...) would grant whatever S3 adds later, on our bucket too
    (bucket policy, ACLs, deleting the bucket): each action is named."""
    starred = [g for g in s3_grants(POLICIES[name]) if "*" in g[1]]
    assert starred == [], starred


def test_the_node_policy_reaches_our_objects_and_nothing_wider() -> None:
    """The nodes read and write our bucket's objects (the pipeline's raw/ and output/) and
    list it, and that is all the S3 they get."""
    grants = s3_grants(POLICIES["node_policy"])
    resources = {g[2] for g in grants}
    assert resources == {f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/*"}
    objects = {g[1] for g in grants if g[2] == f"arn:aws:s3:::{BUCKET}/*"}
    assert {"s3:GetObject", "s3:PutObject"} <= objects
    assert ("s3:ListBucket" in {g[1] for g in grants if g[2] == f"arn:aws:s3:::{BUCKET}"})


@pytest.mark.parametrize("mode", ["IAM", "SSO"])
def test_studio_writes_only_its_studio_prefix(mode: str) -> None:
    """Studio's service role backs workspaces up under ``studio/``: it may write and delete
    there only, not over the pipeline's data elsewhere in the bucket."""
    writes = [g for g in s3_grants(POLICIES[f"{mode}/service_role_policy"])
              if g[1] in ("s3:PutObject", "s3:DeleteObject")]
    assert writes and all(g[2].startswith(f"arn:aws:s3:::{BUCKET}/studio/") for g in writes), writes


@pytest.mark.parametrize("mode", ["IAM", "SSO"])
def test_studio_users_only_read_s3(mode: str) -> None:
    """A Studio user reads our bucket; writing or deleting objects is not theirs to do."""
    actions = {g[1] for g in s3_grants(POLICIES[f"{mode}/user_policy"])}
    writing = {a for a in actions if a.startswith(("s3:Put", "s3:Delete", "s3:Abort", "s3:Restore"))}
    assert actions and not writing, writing


@pytest.mark.parametrize("mode", ["IAM", "SSO"])
def test_studio_users_never_read_secrets(mode: str) -> None:
    """Protects the JupyterHub password create-cluster leaves under ``secrets/`` for its step:
    a Studio user (role, or Identity Center session policy) reads the rest of our bucket but
    not that. Evaluated by moto's IAM policy engine (Allow and Deny as IAM combines them; no
    condition is involved in these S3 statements), not by reading the statements."""
    from moto.iam.access_control import IAMPolicy, PermissionResult

    policy = IAMPolicy(json.dumps(POLICIES[f"{mode}/user_policy"]))
    secret = f"arn:aws:s3:::{BUCKET}/secrets/jupyterhub-password-0123456789abcdef"
    assert policy.is_action_permitted("s3:GetObject", secret) == PermissionResult.DENIED
    assert policy.is_action_permitted("s3:GetObjectVersion", secret) == PermissionResult.DENIED
    for key in ("output/run-1/manifest.json", "raw/Test/Kiwi/0.jpg", "studio/ws/n.ipynb", "logs/j-1/x.gz"):
        assert policy.is_action_permitted("s3:GetObject", f"arn:aws:s3:::{BUCKET}/{key}") == PermissionResult.PERMITTED
    assert policy.is_action_permitted("s3:PutObject", f"arn:aws:s3:::{BUCKET}/raw/x") == PermissionResult.NEUTRAL


def test_the_bucket_is_the_one_asked_for() -> None:
    """The rules above hold for any bucket name, not only the one they are written with."""
    other = p.node_policy("someone-elses")
    grants = s3_grants(other)
    assert grants and all(g[2].startswith("arn:aws:s3:::someone-elses") for g in grants)
