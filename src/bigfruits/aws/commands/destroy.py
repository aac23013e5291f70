"""``destroy``: remove every resource of ours, kind by kind in the one order AWS allows, found
from the state file *and* from tags (or our IAM path), and say what was removed.

``KINDS`` below is that order: the Studio first (it attaches to clusters), the clusters, the
EMR Serverless application (its job runs cancelled, STOPPED, deleted; its role goes with our
other roles), the EMR tag we added to the default VPC, subnet or EMR's groups (once no cluster of ours uses
them), the port-22 rules, Studio's security groups (cross-references first) before our SSH group, the key
pair, the instance profile before its role, Studio's roles and user policy, our cluster roles,
and the bucket last, after asking (data lives there). Every removal tolerates "already gone".
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Tuple

from bigfruits.aws.core import kinds, resource_names, state
from bigfruits.aws.core.botocore_errors import GONE_CODES
from bigfruits.aws.core.context import AwsContext
from bigfruits.aws.core.settings import StudioSettings
from bigfruits.aws.core.tags import is_ours
from bigfruits.aws.procedures.bucket_files import bucket_is_ours, list_keys
from bigfruits.aws.procedures.cluster_network import remove_emr_tag
from bigfruits.aws.procedures.our_clusters import our_active_clusters, terminate_and_wait
from bigfruits.aws.procedures.serverless_app import discover_applications, remove_application
from bigfruits.aws.requests import ec2, iam, s3
from bigfruits.aws.requests.emr import studio as studio_requests
from bigfruits.errors import AwsError

@dataclass(frozen=True)
class ResourceKind:
    #: the key in the state file (``ctx.state.add(name, id)``)
    name: str
    #: ids of live resources of ours found from tags/paths (works without the state file)
    discover: Callable[[AwsContext], List[str]]
    #: removes one (waiting if it must); tolerates "already gone"; returns False when it kept
    #: it on purpose (then it stays remembered for a later ``destroy``)
    remove: Callable[[AwsContext, str], Optional[bool]]
    #: ask before removing (data lives there)
    needs_confirmation: bool = False


def destroy(ctx: AwsContext, yes: bool = False) -> List[Tuple[str, str]]:
    """Returns (kind, id) of everything removed; the bucket only after confirmation."""
    removed: List[Tuple[str, str]] = []
    kept = False
    for kind in KINDS:
        ids = sorted(set(ctx.state.ids(kind.name)) | set(kind.discover(ctx)))
        for resource_id in ids:
            if kind.needs_confirmation and not yes and not ctx.dry_run:
                if not ctx.confirm(f"Delete {kind.name} {resource_id} and everything in it?"):
                    ctx.echo(f"kept {kind.name} {resource_id}")
                    continue
            if kind.remove(ctx, resource_id) is False:
                kept = True  # on purpose; it said why
                continue
            ctx.state.remove(kind.name, resource_id)
            ctx.echo(f"removed {kind.name} {resource_id}")
            removed.append((kind.name, resource_id))
    if not removed and not kept:
        ctx.echo("nothing of ours left to remove")
    return removed


# --- clusters, SSH access, key pair ---------------------------------------------------------

def _clusters(ctx: AwsContext) -> List[str]:
    return [x["Id"] for x in our_active_clusters(ctx)]


def _remove_cluster(ctx: AwsContext, cluster_id: str) -> None:
    terminate_and_wait(ctx, cluster_id)


def _ssh_rules(ctx: AwsContext) -> List[str]:
    groups = ctx.send(ec2.find_our_groups(ctx.settings.project)).get("SecurityGroups", [])
    return [f"{g['GroupId']}|{cidr}" for g in groups for cidr in ec2.ssh_cidrs(g)]


def _remove_ssh_rule(ctx: AwsContext, rule: str) -> None:
    group_id, cidr = rule.split("|", 1)
    ctx.sender.attempt(ec2.close_ssh(group_id, cidr), *GONE_CODES)


def _groups(ctx: AwsContext) -> List[str]:
    return [g["GroupId"] for g in ctx.send(ec2.find_our_groups(ctx.settings.project)).get("SecurityGroups", [])]


def _remove_group(ctx: AwsContext, group_id: str) -> None:
    ctx.sender.attempt(ec2.delete_security_group(group_id), *GONE_CODES)


def _key_pairs(ctx: AwsContext) -> List[str]:
    return [x["KeyName"] for x in ctx.send(ec2.find_our_key_pairs(ctx.settings.project)).get("KeyPairs", [])]


def _remove_key_pair(ctx: AwsContext, name: str) -> None:
    ctx.sender.attempt(ec2.delete_key_pair(name), *GONE_CODES)
    pem = ctx.settings.private_key_path()
    if pem.name == f"{name}.pem" and pem.exists() and not ctx.dry_run:
        pem.unlink()


# --- the cluster's IAM roles ----------------------------------------------------------------

def _instance_profiles(ctx: AwsContext) -> List[str]:
    found = ctx.sender.paged(iam.list_our_instance_profiles(), "InstanceProfiles")
    # An untagged one (made before profiles were tagged) only by its exact name: a prefix
    # would take project "a-b"'s profile for project "a"'s.
    return [p["InstanceProfileName"] for p in found
            if is_ours(p.get("Tags", []), ctx.settings.project)
            or (not p.get("Tags")
                and p["InstanceProfileName"] == resource_names.instance_profile_name(ctx.settings.project))]


def _remove_instance_profile(ctx: AwsContext, name: str) -> None:
    answer = ctx.sender.attempt(iam.get_instance_profile(name), *GONE_CODES)
    if answer is None:
        return
    held = [x["RoleName"] for x in answer.get("InstanceProfile", {}).get("Roles", [])]
    for request in iam.delete_instance_profile(name, held):
        ctx.sender.attempt(request, *GONE_CODES)


def _roles(ctx: AwsContext) -> List[str]:
    ours = []
    for role in ctx.sender.paged(iam.list_our_roles(), "Roles"):
        tags = ctx.sender.attempt(iam.list_role_tags(role["RoleName"]), *GONE_CODES) or {}
        if is_ours(tags.get("Tags", []), ctx.settings.project):
            ours.append(role["RoleName"])
    return ours


def _remove_role(ctx: AwsContext, name: str) -> None:
    attached = ctx.sender.attempt(iam.list_attached_policies(name), *GONE_CODES)
    if attached is None and not ctx.dry_run:
        return
    arns = [p["PolicyArn"] for p in (attached or {}).get("AttachedPolicies", [])]
    # The nodes' role carries our inline policy: IAM deletes no role that still has one.
    inline = ctx.sender.attempt(iam.list_inline_policies(name), *GONE_CODES) or {}
    for request in iam.delete_role(name, arns, list(inline.get("PolicyNames", []))):
        ctx.sender.attempt(request, *GONE_CODES)


# --- the bucket -----------------------------------------------------------------------------

def _buckets(ctx: AwsContext) -> List[str]:
    names = [x["Name"] for x in ctx.send(s3.list_buckets()).get("Buckets", [])]
    ours = []
    for name in names:
        try:
            if bucket_is_ours(ctx, name):
                ours.append(name)
        except Exception:  # another region's bucket or no permission: not something we can judge
            continue
    return ours


def _remove_bucket(ctx: AwsContext, name: str) -> None:
    """Empty it (1000 keys per request, S3's limit), then delete it."""
    try:
        keys = sorted(list_keys(ctx, name, ""))
    except AwsError as exc:  # already gone (the state file remembered it)
        if exc.code not in GONE_CODES:
            raise
        keys = []
    for start in range(0, len(keys), 1000):
        ctx.send(s3.delete_objects(name, keys[start:start + 1000]))
    ctx.sender.attempt(s3.delete_bucket(name), *GONE_CODES)
    if ctx.state.get(state.CURRENT_BUCKET) == name:
        ctx.state.set(state.CURRENT_BUCKET, None)


# --- EMR Studio: found by tags, names and our IAM path; no state file needed ----------------

def studio_settings(ctx: AwsContext) -> StudioSettings:
    """The Studio's names and tags for this project (no bucket lookup: destroy asks AWS
    nothing it does not need)."""
    bucket = ctx.settings.bucket or ctx.state.get(state.CURRENT_BUCKET) or "<bucket>"
    return ctx.studio_settings(bucket=str(bucket))


def discover_studios(ctx: AwsContext) -> List[str]:
    """Every Studio carrying our tags, whatever its name (``--name`` may have changed it).

    A Studio of ours is created after its service role and removed before it, so without that
    role there is none to look for (and accounts, or moto, without EMR Studio are not asked)."""
    if studio_settings(ctx).service_role_name not in discover_studio_roles(ctx):
        return []
    ours = []
    for summary in ctx.sender.paged(studio_requests.list_studios(), "Studios"):
        studio = ctx.send(studio_requests.describe_studio(summary["StudioId"])).get("Studio", {})
        if is_ours(studio.get("Tags", []), ctx.settings.project):
            ours.append(str(summary["StudioId"]))
    return ours


def remove_studio(ctx: AwsContext, studio_id: str) -> None:
    """Session mappings first, then the Studio (its workspaces' files stay in S3)."""
    try:
        found = ctx.send(studio_requests.describe_studio(studio_id))
    except AwsError as exc:  # EMR answers a missing Studio with InvalidRequestException
        if exc.code in ("InvalidRequestException",) + GONE_CODES:
            return
        raise
    if found.get("Studio") and not is_ours(found["Studio"].get("Tags", []), ctx.settings.project):
        return
    mappings = ctx.send(studio_requests.list_session_mappings(studio_id)).get("SessionMappings", [])
    for mapping in mappings:
        ctx.sender.attempt(studio_requests.delete_session_mapping(studio_id, mapping), *GONE_CODES)
    ctx.send(studio_requests.delete_studio(studio_id))


def _our_studio_groups(ctx: AwsContext) -> List[Dict[str, Any]]:
    answer = ctx.send(ec2.find_tagged_studio_groups(studio_settings(ctx)))
    return [g for g in answer.get("SecurityGroups", []) if is_ours(g.get("Tags", []), ctx.settings.project)]


def discover_studio_groups(ctx: AwsContext) -> List[str]:
    return [str(group["GroupId"]) for group in _our_studio_groups(ctx)]


def _references_to(group_id: str, permissions: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """The parts of ``permissions`` whose peer is ``group_id``."""
    found = []
    for perm in permissions:
        pairs = [p for p in perm.get("UserIdGroupPairs", []) if p.get("GroupId") == group_id]
        if pairs:
            kept = {k: perm[k] for k in ("IpProtocol", "FromPort", "ToPort") if k in perm}
            found.append({**kept, "UserIdGroupPairs": [{"GroupId": group_id}]})
    return found


#: Studio's network interfaces outlive DeleteStudio for a while and keep its groups in use:
#: EC2 answers DependencyViolation; the deletion is retried every 15 s for 10 minutes.
IN_USE_CODES = ("DependencyViolation",)
IN_USE_RETRY_DELAYS_S = (15.0,) * 39


def remove_studio_group(ctx: AwsContext, group_id: str) -> None:
    """Revoke the rules of our other groups that name this one (EC2 refuses to delete a group
    still referenced), then delete it, waiting while Studio's network interfaces let go."""
    for other in _our_studio_groups(ctx):
        if other["GroupId"] == group_id:
            continue
        ingress = _references_to(group_id, other.get("IpPermissions", []))
        if ingress:
            ctx.sender.attempt(ec2.revoke_ingress(other["GroupId"], ingress), *GONE_CODES)
        egress = _references_to(group_id, other.get("IpPermissionsEgress", []))
        if egress:
            ctx.sender.attempt(ec2.revoke_egress(other["GroupId"], egress), *GONE_CODES)
    try:
        ctx.sender.send_retrying(ec2.delete_security_group(group_id),
                                 lambda exc: exc.code in IN_USE_CODES, IN_USE_RETRY_DELAYS_S,
                                 ctx.injected.sleep)
    except AwsError as exc:
        if exc.code not in GONE_CODES:
            raise


def discover_studio_roles(ctx: AwsContext) -> List[str]:
    settings = studio_settings(ctx)
    present = {r["RoleName"] for r in ctx.sender.paged(iam.list_our_roles(), "Roles")}
    return [name for name in (settings.user_role_name, settings.service_role_name) if name in present]


def remove_studio_role(ctx: AwsContext, role: str) -> None:
    """Detach managed policies, delete inline ones, leave instance profiles, delete the role."""
    attached, inline, profiles = (ctx.sender.attempt(request, *GONE_CODES) or {}
                                  for request in iam.role_dependents(role))
    for request in iam.delete_role(
            role, [p["PolicyArn"] for p in attached.get("AttachedPolicies", [])],
            list(inline.get("PolicyNames", [])),
            [p["InstanceProfileName"] for p in profiles.get("InstanceProfiles", [])]):
        ctx.sender.attempt(request, *GONE_CODES)


def discover_studio_policies(ctx: AwsContext) -> List[str]:
    wanted = studio_settings(ctx).user_policy_name
    return [str(p["Arn"]) for p in ctx.sender.paged(iam.list_our_policies(), "Policies")
            if p["PolicyName"] == wanted]


def remove_studio_policy(ctx: AwsContext, arn: str) -> None:
    """Non-default versions first: IAM refuses to delete a policy that still has them."""
    answer = ctx.sender.attempt(iam.list_policy_versions(arn), *GONE_CODES)
    versions = (answer or {}).get("Versions", [])
    for request in iam.delete_policy(
            arn, [v["VersionId"] for v in versions if not v["IsDefaultVersion"]]):
        ctx.sender.attempt(request, *GONE_CODES)


def _nothing_to_discover(ctx: AwsContext) -> List[str]:
    """Only the state file knows where we added EMR's tag (nothing marks it as ours)."""
    return []


#: Every kind ``destroy`` knows, in the order they must go.
KINDS: List[ResourceKind] = [
    ResourceKind(kinds.STUDIO, discover_studios, remove_studio),
    ResourceKind(kinds.CLUSTER, _clusters, _remove_cluster),
    ResourceKind(kinds.SERVERLESS_APPLICATION, discover_applications, remove_application),
    ResourceKind(kinds.EMR_TAG, _nothing_to_discover, remove_emr_tag),
    ResourceKind(kinds.SSH_RULE, _ssh_rules, _remove_ssh_rule),
    ResourceKind(kinds.STUDIO_SECURITY_GROUP, discover_studio_groups, remove_studio_group),
    ResourceKind(kinds.SECURITY_GROUP, _groups, _remove_group),
    ResourceKind(kinds.KEY_PAIR, _key_pairs, _remove_key_pair),
    ResourceKind(kinds.INSTANCE_PROFILE, _instance_profiles, _remove_instance_profile),
    ResourceKind(kinds.STUDIO_ROLE, discover_studio_roles, remove_studio_role),
    ResourceKind(kinds.STUDIO_POLICY, discover_studio_policies, remove_studio_policy),
    ResourceKind(kinds.ROLE, _roles, _remove_role),
    ResourceKind(kinds.BUCKET, _buckets, _remove_bucket, needs_confirmation=True),
]
#: The Studio's kinds, for ``destroy_studio``.
STUDIO_KINDS = (kinds.STUDIO, kinds.STUDIO_SECURITY_GROUP, kinds.STUDIO_ROLE, kinds.STUDIO_POLICY)


def destroy_studio(ctx: AwsContext) -> List[str]:
    """The Studio kinds alone, in order, found by tags and names (not the state file)."""
    removed: List[str] = []
    for kind in KINDS:
        if kind.name not in STUDIO_KINDS:
            continue
        for resource_id in kind.discover(ctx):
            kind.remove(ctx, resource_id)
            removed.append(f"{kind.name} {resource_id}")
    return removed
