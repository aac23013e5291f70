"""``destroy --project a`` removes project a's things and nothing else in the account: not what
carries our managed tag with project b's name, not what carries only one of our two tags.

The first test runs ``destroy`` over an in-memory account (``Account`` below: the read calls
destroy makes, EC2's tag filters applied as EC2 applies them) so it is pure and fast (mutmut
runs it per mutant); the last one does the same with two projects on the moto server."""
from __future__ import annotations

import fnmatch
from pathlib import Path
from typing import Any, Dict, List

import pytest

from bigfruits.aws.commands.destroy import destroy, discover_studios, remove_studio
from bigfruits.aws.core.context import AwsContext, Injected
from bigfruits.aws.core.request import AwsRequest
from bigfruits.aws.core.send import Sender
from bigfruits.aws.core.settings import AwsSettings
from bigfruits.aws.core.state import State
from bigfruits.aws.core.tags import MANAGED_TAG, PROJECT_TAG, managed_tags, tag_list
from bigfruits.aws.requests.iam_policies import IAM_PATH
from bigfruits.errors import AwsError
from tests.support.aws.model import assert_valid
from tests.support.aws.studio_context import studio_context

OURS = tag_list(managed_tags("a"))
#: what must survive ``destroy --project a``: the same tool's project b, and half-tagged things
NOT_OURS = {
    "project b": tag_list(managed_tags("b")),
    "managed only": [{"Key": MANAGED_TAG, "Value": "true"}],
    "project only": [{"Key": PROJECT_TAG, "Value": "a"}],
    "managed false": [{"Key": MANAGED_TAG, "Value": "false"}, {"Key": PROJECT_TAG, "Value": "a"}],
    "untagged": [],
}
KINDS = {"project b": "b", "managed only": "m", "project only": "p", "managed false": "f",
         "untagged": "u"}


def _matches(resource: Dict[str, Any], filters: List[Dict[str, Any]]) -> bool:
    """EC2's Filters: every filter matches (AND), each one if any of its values does (OR)."""
    tags = {t["Key"]: t["Value"] for t in resource.get("Tags", [])}
    for f in filters:
        if f["Name"].startswith("tag:"):
            value = tags.get(f["Name"][4:])
        elif f["Name"] == "group-name":
            value = resource.get("GroupName")
        else:
            raise AssertionError(f"filter {f['Name']} not faked")
        if value is None or not any(fnmatch.fnmatchcase(value, v) for v in f["Values"]):
            return False
    return True


_ROLE = ("roles", "RoleName", "RoleName", "NoSuchEntity")
_PROFILE = ("profiles", "InstanceProfileName", "InstanceProfileName", "NoSuchEntity")
_GROUP = ("groups", "GroupId", "GroupId", "InvalidGroup.NotFound")
_BUCKET = ("buckets", "Name", "Bucket", "NoSuchBucket")
_STUDIO = ("studios", "StudioId", "StudioId", "InvalidRequestException")
_POLICY = ("policies", "Arn", "PolicyArn", "NoSuchEntity")
_APPLICATION = ("applications", "applicationId", "applicationId", "ResourceNotFoundException")
#: requests about one named resource: (world list, its id field, the request's id parameter,
#: AWS's error code when there is no such resource)
NAMED = {
    **{op: _ROLE for op in ("ListRoleTags", "ListAttachedRolePolicies", "ListRolePolicies",
                            "ListInstanceProfilesForRole", "DetachRolePolicy", "DeleteRolePolicy",
                            "DeleteRole")},
    **{op: _PROFILE for op in ("GetInstanceProfile", "RemoveRoleFromInstanceProfile",
                               "DeleteInstanceProfile")},
    **{op: _GROUP for op in ("RevokeSecurityGroupIngress", "RevokeSecurityGroupEgress",
                             "DeleteSecurityGroup")},
    **{op: _BUCKET for op in ("GetBucketTagging", "ListObjectsV2", "DeleteObjects", "DeleteBucket")},
    **{op: _STUDIO for op in ("DescribeStudio", "DeleteStudio")},
    **{op: _POLICY for op in ("ListPolicyVersions", "DeletePolicy")},
    **{op: _APPLICATION for op in ("GetApplication", "ListJobRuns", "StopApplication", "DeleteApplication")},
    "DeleteKeyPair": ("keys", "KeyName", "KeyName", "InvalidKeyPair.NotFound"),
}
#: operation -> (world list, the resource's id field, the request's id parameter)
DELETES = {
    "DeleteStudio": ("studios", "StudioId", "StudioId"),
    "DeleteSecurityGroup": ("groups", "GroupId", "GroupId"),
    "DeleteKeyPair": ("keys", "KeyName", "KeyName"),
    "DeleteInstanceProfile": ("profiles", "InstanceProfileName", "InstanceProfileName"),
    "DeleteRole": ("roles", "RoleName", "RoleName"),
    "DeleteBucket": ("buckets", "Name", "Bucket"),
    "DeleteApplication": ("applications", "applicationId", "applicationId"),
}


class Account(Sender):
    """One account holding resources of several projects. Answers the reads ``destroy`` makes
    from ``world``; records every other request (the writes) in ``writes``."""

    def __init__(self, world: Dict[str, List[Dict[str, Any]]]) -> None:
        super().__init__(session=None)
        self.world = world
        self.writes: List[AwsRequest] = []
        self.terminated: set = set()

    def _roles(self, path: str) -> List[Dict[str, Any]]:
        return [r for r in self.world["roles"] if r["Path"].startswith(path)]

    def send(self, request: AwsRequest) -> Dict[str, Any]:  # noqa: C901 (one branch per call)
        assert_valid(request)  # as AWS would accept it
        op, params, w = request.operation, request.params, self.world
        if op in NAMED:  # about one resource: AWS's "not found" when it is not there
            kind, key, param, code = NAMED[op]
            if not any(r[key] == params[param] for r in w.get(kind, [])):
                if op.startswith(("Delete", "Revoke", "Detach", "Remove")):
                    self.writes.append(request)
                raise AwsError(f"{op}: not found", operation=op, code=code)
            found = next(r for r in w[kind] if r[key] == params[param])
            if found.get("Refuse"):  # AWS's answer for this one (once)
                self.writes.append(request)
                raise AwsError(f"{op}: refused", operation=op, code=found.pop("Refuse"))
        if op == "ListRoles":
            return {"Roles": [{k: v for k, v in r.items() if k != "Tags"}
                              for r in self._roles(params.get("PathPrefix", "/"))], "IsTruncated": False}
        if op == "ListRoleTags":
            return {"Tags": next(r["Tags"] for r in w["roles"] if r["RoleName"] == params["RoleName"])}
        if op == "ListInstanceProfiles":
            return {"InstanceProfiles": [p for p in w["profiles"]
                                         if p["Path"].startswith(params.get("PathPrefix", "/"))]}
        if op == "ListPolicies":
            return {"Policies": [], "IsTruncated": False}
        if op == "DescribeSecurityGroups":
            return {"SecurityGroups": [g for g in w["groups"] if _matches(g, params.get("Filters", []))]}
        if op == "DescribeKeyPairs":
            return {"KeyPairs": [k for k in w["keys"] if _matches(k, params.get("Filters", []))]}
        if op == "ListClusters":
            return {"Clusters": [{"Id": c["Id"]} for c in w["clusters"] if c["Id"] not in self.terminated]}
        if op == "DescribeCluster":
            found = next(c for c in w["clusters"] if c["Id"] == params["ClusterId"])
            state = "TERMINATED" if found["Id"] in self.terminated else "WAITING"
            return {"Cluster": {**found, "Status": {"State": state}}}
        if op == "DescribeSubnets" and set(params) == {"SubnetIds"}:
            return {"Subnets": [x for x in w.get("subnets", []) if x["SubnetId"] in params["SubnetIds"]]}
        if op == "ListBuckets":
            return {"Buckets": [{"Name": b["Name"]} for b in w["buckets"]]}
        if op == "GetBucketTagging":
            return {"TagSet": next(b["Tags"] for b in w["buckets"] if b["Name"] == params["Bucket"])}
        if op == "ListStudios":
            return {"Studios": [{"StudioId": s["StudioId"]} for s in w["studios"]]}
        if op == "DescribeStudio":
            return {"Studio": next(s for s in w["studios"] if s["StudioId"] == params["StudioId"])}
        if op in ("ListStudioSessionMappings",):
            return {"SessionMappings": []}
        if op == "ListObjectsV2":
            keys = [k for k in w.get("objects", {}).get(params["Bucket"], []) if k.startswith(params["Prefix"])]
            return {"Contents": [{"Key": k, "Size": 1, "ETag": '"e"'} for k in keys], "IsTruncated": False}
        if op in ("ListAttachedRolePolicies", "ListRolePolicies"):
            found = [r for r in w["roles"] if r["RoleName"] == params["RoleName"]]
            if op == "ListAttachedRolePolicies":
                return {"AttachedPolicies": [{"PolicyName": a.rsplit("/", 1)[-1], "PolicyArn": a}
                                             for r in found for a in r.get("Attached", [])]}
            return {"PolicyNames": [n for r in found for n in r.get("Inline", [])], "IsTruncated": False}
        if op == "ListInstanceProfilesForRole":
            return {"InstanceProfiles": [
                {k: p[k] for k in ("InstanceProfileName", "Path")} | {
                    "InstanceProfileId": "AIPA" + "X" * 16, "CreateDate": "2026-01-01T00:00:00Z",
                    "Arn": f"arn:aws:iam::123456789012:instance-profile/{p['InstanceProfileName']}",
                    "Roles": []}
                for p in w["profiles"] if params["RoleName"] in p["Roles"]], "IsTruncated": False}
        if op == "ListPolicyVersions":
            found = next(p for p in w["policies"] if p["Arn"] == params["PolicyArn"])
            return {"Versions": found["Versions"], "IsTruncated": False}
        if op == "GetInstanceProfile":
            found = [p for p in w["profiles"] if p["InstanceProfileName"] == params["InstanceProfileName"]]
            return {"InstanceProfile": {"Roles": [{"RoleName": n} for p in found for n in p["Roles"]]}}
        if op == "ListApplications":  # EMR Serverless: the live ones, as summaries
            return {"applications": [{"id": a["applicationId"], "state": a["state"]} for a in w.get("applications", [])
                                     if a["state"] in params["states"]]}
        if op == "GetApplication":  # its tags as a map, as EMR Serverless answers them
            found = next(a for a in w["applications"] if a["applicationId"] == params["applicationId"])
            return {"application": {**found, "tags": {t["Key"]: t["Value"] for t in found["Tags"]}}}
        if op == "ListJobRuns":
            return {"jobRuns": []}
        if op.startswith(("List", "Get", "Describe")):
            # a read this account does not model: an answer made up here could be anything
            raise AssertionError(f"{op} {params} is not modelled by this in-memory account")
        self.writes.append(request)
        if op == "StopApplication":
            next(a for a in w["applications"] if a["applicationId"] == params["applicationId"])["state"] = "STOPPED"
        if op == "TerminateJobFlows":
            self.terminated.update(params["JobFlowIds"])
        elif op in DELETES:
            kind, key, param = DELETES[op]
            w[kind] = [r for r in w[kind] if r[key] != params[param]]
        return {}

    def named(self) -> str:
        """Every write, as text (to look for a foreign id or name in it)."""
        return "\n".join(f"{r.operation} {r.params}" for r in self.writes)


def _world(*keys: str) -> Dict[str, List[Dict[str, Any]]]:
    """For each tag set (``a``: ours; the others: NOT_OURS by their KINDS letter): a Studio
    with its service role, a cluster, a security group with an SSH rule, Studio's security
    group, a key pair, a role, an instance profile and a bucket. Foreign things are named
    ``x<letter>-...`` so no name starts with ``a-`` (the instance-profile fallback for
    untagged profiles)."""
    by_key = {"a": OURS, **{KINDS[k]: v for k, v in NOT_OURS.items()}}
    sets = {key: by_key[key] for key in keys}
    world: Dict[str, List[Dict[str, Any]]] = {k: [] for k in (
        "roles", "profiles", "groups", "keys", "clusters", "buckets", "studios", "applications")}
    for key, tags in sets.items():
        name = "a" if key == "a" else f"x{key}"
        world["roles"] += [
            {"RoleName": f"{name}-emr-service-role", "Path": IAM_PATH, "Tags": tags},
            # our Studio service role's name, so that Studios are looked for
            {"RoleName": f"{name}-studio-service", "Path": IAM_PATH, "Tags": tags},
        ]
        world["profiles"].append({"InstanceProfileName": f"{name}-node-profile", "Path": IAM_PATH,
                                  "Tags": tags, "Roles": []})
        world["groups"] += [
            {"GroupId": f"sg-{key}ssh", "GroupName": f"{name}-ssh", "Tags": tags,
             "IpPermissions": [{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
                                "IpRanges": [{"CidrIp": f"198.51.100.{len(world['groups'])}/32"}]}]},
            {"GroupId": f"sg-{key}studio", "GroupName": "a-studio-workspace", "Tags": tags,
             "IpPermissions": []},
        ]
        world["keys"].append({"KeyName": f"{name}-key", "KeyPairId": f"key-{key}", "Tags": tags})
        world["clusters"].append({"Id": f"j-{key.upper()}", "Tags": tags})
        world["buckets"].append({"Name": f"{name}-bucket", "Tags": tags})
        world["studios"].append({"StudioId": f"es-{key.upper()}", "Tags": tags})
        world["applications"].append({"applicationId": f"00app{key.replace(' ', '')}", "state": "STARTED",
                                      "Tags": tags})
    return world


def _context(sender: Sender, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AwsContext:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    settings = AwsSettings(project="a", region="eu-west-1", state_file=tmp_path / "state.json")
    injected = Injected(sleep=lambda s: None, clock=lambda: 0.0, ip_lookup=lambda: "203.0.113.7")
    return AwsContext(settings, sender, State(settings.state_path()), injected)


@pytest.mark.pure
def test_destroy_removes_project_a_and_nothing_of_project_b_or_half_tagged(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Protects other teams' resources in the same account: ``destroy --project a`` removes
    each kind of project a's resources, and none that carries our managed tag with project
    b's name, only one of our two tags, a managed tag other than "true", or no tags."""
    account = Account(_world("a", *KINDS.values()))
    removed = destroy(_context(account, tmp_path, monkeypatch), yes=True)
    assert sorted(removed) == sorted([
        ("studio", "es-A"), ("cluster", "j-A"), ("serverless-application", "00appa"),
        ("ssh-rule", "sg-assh|198.51.100.0/32"),
        ("studio-security-group", "sg-astudio"), ("security-group", "sg-assh"),
        ("key-pair", "a-key"), ("instance-profile", "a-node-profile"),
        ("studio-role", "a-studio-service"), ("iam-role", "a-emr-service-role"),
        ("bucket", "a-bucket")]), removed
    written = account.named()
    for key in KINDS.values():
        for marker in (f"x{key}-", f"sg-{key}", f"j-{key.upper()}", f"es-{key.upper()}"):
            assert marker not in written, (marker, written)


@pytest.mark.pure
@pytest.mark.parametrize("kind", sorted(NOT_OURS))
def test_destroy_of_a_project_with_nothing_left_touches_nothing(
        kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Only other projects' and half-tagged resources in the account: destroy writes nothing."""
    account = Account(_world(KINDS[kind]))
    assert destroy(_context(account, tmp_path, monkeypatch), yes=True) == []
    assert account.writes == [], account.named()


@pytest.mark.pure
@pytest.mark.parametrize("kind", sorted(NOT_OURS))
def test_a_studio_not_ours_is_neither_found_nor_removed_by_id(kind: str) -> None:
    """A Studio id from a stale state file that turns out to be another project's (or
    half-tagged) is left: ``remove_studio`` checks the tags before deleting."""
    from bigfruits.aws.core.settings import StudioSettings

    settings = StudioSettings(project="a", bucket="a-bucket", region="eu-west-1")
    world = {"roles": [{"RoleName": "a-studio-service", "Path": IAM_PATH, "Tags": OURS}],
             "studios": [{"StudioId": "es-OTHER", "Tags": NOT_OURS[kind]}]}
    account = Account(world)
    assert discover_studios(studio_context(settings, account)) == []
    remove_studio(studio_context(settings, account), "es-OTHER")
    assert account.writes == []


# --- the same on the moto server: two projects and half-tagged things in one account --------

def _inventory() -> Dict[str, Any]:
    """Everything in the (moto) account destroy could touch, with the SSH rules of each group."""
    import json

    from tests.support.aws.server import boto

    ec2, emr, iam, s3 = boto("ec2"), boto("emr"), boto("iam"), boto("s3")
    active = ["STARTING", "BOOTSTRAPPING", "RUNNING", "WAITING", "TERMINATING"]
    return {
        "buckets": sorted(b["Name"] for b in s3.list_buckets().get("Buckets", [])),
        "key_pairs": sorted(k["KeyName"] for k in ec2.describe_key_pairs()["KeyPairs"]),
        "active_clusters": sorted(c["Id"] for c in emr.list_clusters(ClusterStates=active)["Clusters"]),
        "security_groups": sorted((g["GroupName"], g["GroupId"],
                                   json.dumps(g.get("IpPermissions", []), sort_keys=True))
                                  for g in ec2.describe_security_groups()["SecurityGroups"]),
        "roles": sorted(r["RoleName"] for r in iam.list_roles()["Roles"]),
        "instance_profiles": sorted(p["InstanceProfileName"]
                                    for p in iam.list_instance_profiles()["InstanceProfiles"]),
    }


def _half_tagged(name: str, tags: List[Dict[str, str]]) -> None:
    """A role (under our IAM path), a security group, a key pair and a bucket named like
    project a's things, carrying ``tags`` only."""
    import json

    from bigfruits.aws.requests.iam_policies import trust_policy
    from tests.support.aws.server import REGION, boto

    boto("iam").create_role(RoleName=name, Path=IAM_PATH, Tags=tags,
                            AssumeRolePolicyDocument=json.dumps(trust_policy("ec2.amazonaws.com")))
    boto("ec2").create_security_group(GroupName=name, Description="not ours", TagSpecifications=[
        {"ResourceType": "security-group", "Tags": tags}])
    boto("ec2").create_key_pair(KeyName=name, TagSpecifications=[{"ResourceType": "key-pair", "Tags": tags}])
    boto("s3").create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
    if tags:
        boto("s3").put_bucket_tagging(Bucket=name, Tagging={"TagSet": tags})


def test_destroy_one_project_leaves_the_other_and_half_tagged_things_on_moto(aws_env, built_wheel) -> None:
    """Protects another project in the same account, end to end through the CLI: project b's
    bucket, cluster, SSH group and rule, key pair, roles and instance profile, and things
    carrying only one of our tags (named ``a-...``), are exactly as they were after
    ``destroy --project a``; project a's are gone."""
    from tests.support.aws.cli import run

    run(["--project", "b", "create-bucket"])
    run(["--project", "b", "create-cluster", "--yes", "--wheel", str(built_wheel)])
    _half_tagged("a-managed-only", [{"Key": MANAGED_TAG, "Value": "true"}])
    _half_tagged("a-project-only", [{"Key": PROJECT_TAG, "Value": "a"}])
    _half_tagged("a-managed-b", [{"Key": MANAGED_TAG, "Value": "true"}, {"Key": PROJECT_TAG, "Value": "b"}])
    others = _inventory()
    assert others["active_clusters"] and "b-key" in others["key_pairs"], others

    run(["--project", "a", "create-bucket"])
    run(["--project", "a", "create-cluster", "--yes", "--wheel", str(built_wheel)])
    assert _inventory() != others
    out = run(["--project", "a", "destroy", "--yes"]).output
    assert "removed cluster" in out and "removed bucket a-" in out, out
    assert _inventory() == others


def test_destroy_of_a_project_never_removes_what_another_project_remembered(aws_env, built_wheel) -> None:
    """Protects project b when both projects share a profile and region: what b created and
    remembered is not taken for a's by ``destroy --project a`` (which has nothing to remove)."""
    from tests.support.aws.cli import run

    run(["--project", "b", "create-bucket"])
    run(["--project", "b", "create-cluster", "--yes", "--wheel", str(built_wheel)])
    others = _inventory()
    out = run(["--project", "a", "destroy", "--yes"]).output
    assert "nothing of ours left to remove" in out, out
    assert _inventory() == others


def _full_world() -> Dict[str, List[Dict[str, Any]]]:
    """``_world`` with what project a's things hold: a role with a managed and an inline
    policy, an instance profile holding it, 1001 objects in the bucket (two DeleteObjects)."""
    world = _world("a", "b")
    for role in world["roles"]:
        if role["RoleName"] == "a-emr-service-role":
            role.update(Attached=["arn:aws:iam::aws:policy/service-role/X"], Inline=["a-nodes"])
    for profile in world["profiles"]:
        if profile["InstanceProfileName"] == "a-node-profile":
            profile["Roles"] = ["a-emr-service-role"]
    world["objects"] = {"a-bucket": [f"k{i:04d}" for i in range(1001)] + ["studio/x.ipynb"],
                        "xb-bucket": ["kept"]}
    # Studio's two groups name each other; the engine's is still in use at the first try
    rule = {"IpProtocol": "tcp", "FromPort": 18888, "ToPort": 18888}
    workspace = next(g for g in world["groups"] if g["GroupId"] == "sg-astudio")
    workspace["IpPermissionsEgress"] = [{**rule, "UserIdGroupPairs": [{"GroupId": "sg-aengine"}]}]
    workspace["IpPermissions"] = [{**rule, "UserIdGroupPairs": [{"GroupId": "sg-aengine"}]},
                                  {**rule, "UserIdGroupPairs": [{"GroupId": "sg-xbstudio"}]}]
    world["groups"].append({"GroupId": "sg-aengine", "GroupName": "a-studio-engine", "Tags": OURS,
                            "IpPermissions": [], "Refuse": "DependencyViolation"})
    return world


#: in KINDS order: Studio, cluster, Serverless application, SSH rule, Studio's group, SSH group, key pair, instance
#: profile (its role taken out first), Studio's role, the cluster role (policies first), bucket
EXPECTED_WRITES = [
    ("DeleteStudio", {"StudioId": "es-A"}),
    ("TerminateJobFlows", {"JobFlowIds": ["j-A"]}),
    ("StopApplication", {"applicationId": "00appa"}),  # started: stopped, then deleted
    ("DeleteApplication", {"applicationId": "00appa"}),
    ("RevokeSecurityGroupIngress", {"GroupId": "sg-assh", "IpPermissions": [
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
         "IpRanges": [{"CidrIp": "198.51.100.0/32", "Description": "bigfruits connect"}]}]}),
    ("RevokeSecurityGroupIngress", {"GroupId": "sg-astudio", "IpPermissions": [
        {"IpProtocol": "tcp", "FromPort": 18888, "ToPort": 18888,
         "UserIdGroupPairs": [{"GroupId": "sg-aengine"}]}]}),
    ("RevokeSecurityGroupEgress", {"GroupId": "sg-astudio", "IpPermissions": [
        {"IpProtocol": "tcp", "FromPort": 18888, "ToPort": 18888,
         "UserIdGroupPairs": [{"GroupId": "sg-aengine"}]}]}),
    ("DeleteSecurityGroup", {"GroupId": "sg-aengine"}),  # refused: in use
    ("DeleteSecurityGroup", {"GroupId": "sg-aengine"}),
    ("DeleteSecurityGroup", {"GroupId": "sg-astudio"}),
    ("DeleteSecurityGroup", {"GroupId": "sg-assh"}),
    ("DeleteKeyPair", {"KeyName": "a-key"}),
    ("RemoveRoleFromInstanceProfile", {"InstanceProfileName": "a-node-profile",
                                       "RoleName": "a-emr-service-role"}),
    ("DeleteInstanceProfile", {"InstanceProfileName": "a-node-profile"}),
    ("DeleteRole", {"RoleName": "a-studio-service"}),
    ("DetachRolePolicy", {"RoleName": "a-emr-service-role",
                          "PolicyArn": "arn:aws:iam::aws:policy/service-role/X"}),
    ("DeleteRolePolicy", {"RoleName": "a-emr-service-role", "PolicyName": "a-nodes"}),
    ("DeleteRole", {"RoleName": "a-emr-service-role"}),
    ("DeleteBucket", {"Bucket": "a-bucket"}),
]


@pytest.mark.pure
def test_destroy_sends_exactly_these_requests_for_project_a(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """What ``destroy --project a --yes`` writes, in order, each request as AWS would accept it;
    the state file forgets what was removed and the key pair's private key file goes."""
    account = Account(_full_world())
    ctx = _context(account, tmp_path, monkeypatch)
    sleeps: List[float] = []
    ctx.injected.sleep = sleeps.append
    ctx.state.add("cluster", "j-A")
    ctx.state.add("key-pair", "a-key")
    ctx.state.set("bucket", "a-bucket")
    pem = ctx.settings.private_key_path()
    pem.parent.mkdir(parents=True)
    pem.write_text("key")
    other = pem.parent / "xb-key.pem"
    other.write_text("key")
    destroy(ctx, yes=True)
    writes = [(r.operation, r.params) for r in account.writes]
    for_objects = [p for op, p in writes if op == "DeleteObjects"]
    writes = [(op, p) for op, p in writes if op != "DeleteObjects"]
    assert [len(p["Delete"]["Objects"]) for p in for_objects] == [1000, 2]
    assert ({o["Key"] for p in for_objects for o in p["Delete"]["Objects"]}
            == {f"k{i:04d}" for i in range(1001)} | {"studio/x.ipynb"})
    assert all(p["Bucket"] == "a-bucket" and p["Delete"]["Quiet"] for p in for_objects)
    assert not pem.exists() and other.exists()
    assert State(ctx.settings.state_path()).kinds() == []
    assert State(ctx.settings.state_path()).get("bucket") is None
    assert writes == EXPECTED_WRITES
    assert sleeps == [15.0]  # one wait while Studio's network interfaces let go


@pytest.mark.pure
def test_without_yes_the_bucket_is_kept_unless_confirmed(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The bucket (data) goes only after a yes; a no keeps it and says so."""
    questions: List[str] = []
    account = Account(_full_world())
    ctx = _context(account, tmp_path, monkeypatch)
    ctx.injected.confirm = lambda q: questions.append(q) or False
    echoed: List[str] = []
    monkeypatch.setattr(AwsContext, "echo", lambda self, m: echoed.append(m))
    removed = destroy(ctx)
    assert questions == ["Delete bucket a-bucket and everything in it?"]
    assert "kept bucket a-bucket" in echoed and ("bucket", "a-bucket") not in removed
    assert "DeleteBucket" not in [r.operation for r in account.writes]
    assert "removed key-pair a-key" in echoed


@pytest.mark.pure
def test_nothing_to_remove_is_said(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    echoed: List[str] = []
    monkeypatch.setattr(AwsContext, "echo", lambda self, m: echoed.append(m))
    assert destroy(_context(Account(_world("b")), tmp_path, monkeypatch), yes=True) == []
    assert echoed == ["nothing of ours left to remove"]
    echoed.clear()  # a destroy that removed something never says so
    assert destroy(_context(Account(_world("a")), tmp_path / "a", monkeypatch), yes=True) != []
    assert echoed and "nothing of ours left to remove" not in echoed


def _empty_world(**lists: List[Dict[str, Any]]) -> Dict[str, List[Dict[str, Any]]]:
    world: Dict[str, List[Dict[str, Any]]] = {k: [] for k in (
        "roles", "profiles", "groups", "keys", "clusters", "buckets", "studios", "policies")}
    world.update(lists)
    return world


@pytest.mark.pure
def test_a_project_whose_name_starts_like_ours_keeps_its_instance_profile(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Protects project "a-b" from ``destroy --project a``: an untagged instance profile (made
    before profiles were tagged) is ours only by its exact name, not by the "a-" prefix."""
    profiles = [{"InstanceProfileName": name, "Path": IAM_PATH, "Tags": tags, "Roles": []}
                for name, tags in (("a-emr-ec2-role", []), ("a-b-emr-ec2-role", []),
                                   ("a-b-other", tag_list(managed_tags("a-b"))),
                                   ("a-emr-ec2-role-copy", []))]
    account = Account(_empty_world(profiles=profiles))
    removed = destroy(_context(account, tmp_path, monkeypatch), yes=True)
    assert removed == [("instance-profile", "a-emr-ec2-role")]
    # our profile's exact name, but tagged as project b's: b's
    b_named_like_ours = [{"InstanceProfileName": "a-emr-ec2-role", "Path": IAM_PATH,
                          "Tags": tag_list(managed_tags("b")), "Roles": []}]
    account = Account(_empty_world(profiles=b_named_like_ours))
    assert destroy(_context(account, tmp_path / "b", monkeypatch), yes=True) == []


@pytest.mark.pure
def test_studio_roles_and_policy_go_with_what_holds_them(tmp_path: Path) -> None:
    """IAM deletes no role still in an instance profile, nor a policy with other versions:
    the role is taken out of each profile first, the non-default versions deleted first."""
    from bigfruits.aws.commands.destroy import remove_studio_policy, remove_studio_role
    from bigfruits.aws.core.settings import StudioSettings

    settings = StudioSettings(project="a", bucket="a-bucket", region="eu-west-1")
    arn = "arn:aws:iam::123456789012:policy/bigfruits/a-studio-user"
    account = Account(_empty_world(
        roles=[{"RoleName": "a-studio-user", "Path": IAM_PATH, "Tags": OURS}],
        profiles=[{"InstanceProfileName": "someones-profile", "Path": "/", "Tags": [],
                   "Roles": ["a-studio-user"]}],
        policies=[{"Arn": arn, "Versions": [{"VersionId": "v3", "IsDefaultVersion": True},
                                            {"VersionId": "v2", "IsDefaultVersion": False},
                                            {"VersionId": "v1", "IsDefaultVersion": False}]}]))
    remove_studio_role(studio_context(settings, account), "a-studio-user")
    remove_studio_policy(studio_context(settings, account), arn)
    assert [(r.operation, r.params) for r in account.writes] == [
        ("RemoveRoleFromInstanceProfile", {"RoleName": "a-studio-user",
                                           "InstanceProfileName": "someones-profile"}),
        ("DeleteRole", {"RoleName": "a-studio-user"}),
        ("DeletePolicyVersion", {"PolicyArn": arn, "VersionId": "v2"}),
        ("DeletePolicyVersion", {"PolicyArn": arn, "VersionId": "v1"}),
        ("DeletePolicy", {"PolicyArn": arn}),
    ]


@pytest.mark.pure
def test_what_the_state_remembers_is_removed_even_when_already_gone(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The state file can outlive what it names (removed by hand, another machine's destroy):
    destroy takes every id it remembers, AWS's "not found" counts as removed, and the state
    forgets them all. Protects against a destroy that stops half-way and leaves the rest."""
    account = Account(_empty_world())
    ctx = _context(account, tmp_path, monkeypatch)
    stale = [("studio", "es-OLD"), ("ssh-rule", "sg-old|203.0.113.9/32"),
             ("studio-security-group", "sg-oldstudio"), ("security-group", "sg-old"),
             ("key-pair", "a-old-key"), ("instance-profile", "a-old-profile"),
             ("studio-role", "a-studio-user"),
             ("studio-policy", "arn:aws:iam::123456789012:policy/bigfruits/a-studio-user"),
             ("iam-role", "a-old-role"), ("bucket", "a-old-bucket")]
    for kind, resource_id in stale:
        ctx.state.add(kind, resource_id)
    removed = destroy(ctx, yes=True)
    assert removed == stale
    assert State(ctx.settings.state_path()).kinds() == []
    tried = {r.operation for r in account.writes}
    assert {"DeleteSecurityGroup", "RevokeSecurityGroupIngress", "DeleteKeyPair",
            "DeletePolicy", "DeleteBucket"} <= tried, tried


@pytest.mark.pure
def test_each_of_our_buckets_is_asked_for_and_one_we_cannot_read_is_passed_over(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A bucket whose tags we may not read (another region, no permission) is not ours to
    judge and does not stop the others; each of ours is asked about on its own."""
    buckets = [{"Name": "0-elsewhere", "Tags": OURS}, {"Name": "a-bucket", "Tags": OURS},
               {"Name": "a-second", "Tags": OURS}]
    account = Account(_empty_world(buckets=buckets))
    buckets[0]["Refuse"] = "AccessDenied"
    ctx = _context(account, tmp_path, monkeypatch)
    answers = [False, True]
    questions: List[str] = []
    ctx.injected.confirm = lambda q: questions.append(q) or answers.pop(0)
    removed = destroy(ctx)
    assert questions == ["Delete bucket a-bucket and everything in it?",
                         "Delete bucket a-second and everything in it?"]
    assert removed == [("bucket", "a-second")]


@pytest.mark.pure
def test_a_dry_run_destroy_over_a_full_state_prints_only_valid_requests(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``--dry-run destroy`` with every kind remembered: each request it would send is one AWS
    accepts, nothing is sent (no session) and the state file is unchanged."""
    import io
    import json

    from bigfruits.aws.core.send import DryRunSender

    out = io.StringIO()
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    settings = AwsSettings(project="a", region="eu-west-1", state_file=tmp_path / "state.json")
    state = State(settings.state_path())
    remembered = [("studio", "es-A"), ("cluster", "j-A"), ("ssh-rule", "sg-a|203.0.113.9/32"),
                  ("studio-security-group", "sg-as"), ("security-group", "sg-a"),
                  ("key-pair", "a-key"), ("instance-profile", "a-emr-ec2-role"),
                  ("studio-role", "a-studio-user"),
                  ("studio-policy", "arn:aws:iam::123456789012:policy/bigfruits/a-studio-user"),
                  ("iam-role", "a-emr-ec2-role"), ("bucket", "a-bucket")]
    for kind, resource_id in remembered:
        state.add(kind, resource_id)
    before = (tmp_path / "state.json").read_text()
    ctx = AwsContext(settings, DryRunSender(out), State(settings.state_path(), dry_run=True),
                     Injected(sleep=lambda s: None, clock=lambda: 0.0))
    monkeypatch.setattr(AwsContext, "echo", lambda self, m: None)
    assert destroy(ctx, yes=True) == remembered
    requests = [AwsRequest(**json.loads(line)) for line in out.getvalue().splitlines()]
    for request in requests:
        assert_valid(request)
    writes = [r.operation for r in requests if r.operation.startswith(("Delete", "Terminate", "Revoke"))]
    assert writes == ["DeleteStudio", "TerminateJobFlows", "RevokeSecurityGroupIngress",
                      "DeleteSecurityGroup", "DeleteSecurityGroup", "DeleteKeyPair",
                      "DeleteInstanceProfile", "DeleteRole", "DeletePolicy", "DeleteRole",
                      "DeleteBucket"]
    assert (tmp_path / "state.json").read_text() == before


# --- the EMR tag we added to network pieces that are not ours ------------------------------

def _network_world(*others: Dict[str, Any]) -> Dict[str, List[Dict[str, Any]]]:
    """Our cluster j-A in subnet-1 of vpc-1, and ``others``: clusters of other people."""
    ours = {"Id": "j-A", "Tags": OURS, "Ec2InstanceAttributes": {"Ec2SubnetId": "subnet-1"}}
    return _empty_world(clusters=[ours, *others], subnets=[
        {"SubnetId": "subnet-1", "VpcId": "vpc-1"}, {"SubnetId": "subnet-2", "VpcId": "vpc-1"},
        {"SubnetId": "subnet-9", "VpcId": "vpc-9"}])


def _untagged(account: "Account") -> List[str]:
    return [rid for r in account.writes if r.operation == "DeleteTags" for rid in r.params["Resources"]]


@pytest.mark.pure
def test_an_older_state_files_emr_tags_are_taken_back_after_its_cluster_terminated(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Protects other people's network from our tag, across versions: a state file as an
    earlier bigfruits wrote it (the kind names are a file format, written out here, not taken
    from ``core/kinds``) still has its EMR tags removed, only the tag we added
    (``for-use-with-amazon-emr-managed-policies=true``), and only once our cluster there is
    TERMINATED (DeleteTags after TerminateJobFlows and its wait)."""
    import json

    state_file = tmp_path / "state.json"
    state_file.write_text(json.dumps({"cluster": "j-A", "resources": {
        "cluster": {"j-A": {"flavor": "jupyterhub"}},
        "emr-policy-tag": {"vpc-1": {}, "subnet-1": {}, "sg-0emrmaster": {}}}}))
    account = Account(_network_world())
    ctx = _context(account, tmp_path, monkeypatch)
    assert ctx.settings.state_path() == state_file
    removed = destroy(ctx, yes=True)
    assert sorted(_untagged(account)) == ["sg-0emrmaster", "subnet-1", "vpc-1"]
    assert all(r.params["Tags"] == [{"Key": "for-use-with-amazon-emr-managed-policies", "Value": "true"}]
               for r in account.writes if r.operation == "DeleteTags")
    ops = [r.operation for r in account.writes]
    assert ops.index("TerminateJobFlows") < ops.index("DeleteTags")
    assert ("emr-policy-tag", "subnet-1") in removed
    assert json.loads(state_file.read_text())["resources"] == {}


@pytest.mark.pure
def test_a_tag_another_active_cluster_relies_on_is_kept_until_it_ends(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Protects someone else's running cluster: under AmazonEMRServicePolicy_v2 EMR needs the
    tag on its subnet, VPC and managed groups to add or replace instances. A tag we added where
    another active cluster runs stays (said, and still remembered); the others go; once that
    cluster has ended, the next ``destroy`` takes the rest back."""
    other = {"Id": "j-OTHER", "Tags": NOT_OURS["project b"], "Ec2InstanceAttributes": {
        "Ec2SubnetId": "subnet-2", "EmrManagedMasterSecurityGroup": "sg-0emrmaster"}}
    account = Account(_network_world(other))
    ctx = _context(account, tmp_path, monkeypatch)
    echoed: List[str] = []
    monkeypatch.setattr(AwsContext, "echo", lambda self, m: echoed.append(m))
    for kind, resource_id in (("cluster", "j-A"), ("emr-policy-tag", "vpc-1"), ("emr-policy-tag", "subnet-1"),
                              ("emr-policy-tag", "sg-0emrmaster"), ("emr-policy-tag", "subnet-9")):
        ctx.state.add(kind, resource_id)
    destroy(ctx, yes=True)
    assert _untagged(account) == ["subnet-1", "subnet-9"]  # neither used by j-OTHER
    assert State(ctx.settings.state_path()).ids("emr-policy-tag") == ["sg-0emrmaster", "vpc-1"]
    assert ("kept the EMR tag on vpc-1: active cluster(s) j-OTHER use it "
            "(run `destroy` again once they have ended)") in echoed
    assert "nothing of ours left to remove" not in echoed
    account.terminated.add("j-OTHER")  # its owner ended it
    destroy(_context(account, tmp_path, monkeypatch), yes=True)
    assert _untagged(account) == ["subnet-1", "subnet-9", "sg-0emrmaster", "vpc-1"]
    assert State(ctx.settings.state_path()).kinds() == []
