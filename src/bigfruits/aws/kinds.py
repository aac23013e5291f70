"""The resource kinds this area creates, registered for ``destroy``: how each is found from
tags (or our IAM path) and how it is removed."""
from __future__ import annotations

from typing import List

from bigfruits.aws import access_ops, cluster_ops, iam_ops, storage_ops
from bigfruits.aws import bucket as b
from bigfruits.aws import keypair as k
from bigfruits.aws import network as n
from bigfruits.aws import roles as r
from bigfruits.aws.context import AwsContext
from bigfruits.aws.resources import ResourceKind, register
from bigfruits.aws.tags import tag_dict, tags_match

_GONE = ("NoSuchEntity", "InvalidKeyPair.NotFound", "InvalidGroup.NotFound", "NoSuchBucket",
         "InvalidPermission.NotFound")


def _clusters(ctx: AwsContext) -> List[str]:
    return [x["Id"] for x in cluster_ops.our_active_clusters(ctx)]


def _remove_cluster(ctx: AwsContext, cluster_id: str) -> None:
    cluster_ops.terminate_and_wait(ctx, cluster_id)


def _ssh_rules(ctx: AwsContext) -> List[str]:
    groups = ctx.send(n.find_our_groups(ctx.settings.project)).get("SecurityGroups", [])
    return [f"{g['GroupId']}|{cidr}" for g in groups for cidr in n.ssh_cidrs(g)]


def _remove_ssh_rule(ctx: AwsContext, rule: str) -> None:
    group_id, cidr = rule.split("|", 1)
    ctx.sender.attempt(n.close_ssh(group_id, cidr), *_GONE)


def _groups(ctx: AwsContext) -> List[str]:
    return [g["GroupId"] for g in ctx.send(n.find_our_groups(ctx.settings.project)).get("SecurityGroups", [])]


def _remove_group(ctx: AwsContext, group_id: str) -> None:
    ctx.sender.attempt(n.delete_group(group_id), *_GONE)


def _key_pairs(ctx: AwsContext) -> List[str]:
    return [x["KeyName"] for x in ctx.send(k.find_our_key_pairs(ctx.settings.project)).get("KeyPairs", [])]


def _remove_key_pair(ctx: AwsContext, name: str) -> None:
    ctx.sender.attempt(k.delete_key_pair(name), *_GONE)
    pem = ctx.settings.private_key_path()
    if pem.name == f"{name}.pem" and pem.exists() and not ctx.dry_run:
        pem.unlink()


def _instance_profiles(ctx: AwsContext) -> List[str]:
    found = ctx.send(r.list_our_instance_profiles()).get("InstanceProfiles", [])
    return [p["InstanceProfileName"] for p in found
            if tags_match(tag_dict(p.get("Tags", [])), ctx.settings.project)
            or p["InstanceProfileName"].startswith(ctx.settings.name_prefix + "-")]


def _remove_instance_profile(ctx: AwsContext, name: str) -> None:
    answer = ctx.sender.attempt(r.get_instance_profile(name), *_GONE)
    if answer is None:
        return
    held = [x["RoleName"] for x in answer.get("InstanceProfile", {}).get("Roles", [])]
    for request in r.delete_instance_profile(name, held):
        ctx.sender.attempt(request, *_GONE)


def _roles(ctx: AwsContext) -> List[str]:
    ours = []
    for role in ctx.send(r.list_our_roles()).get("Roles", []):
        tags = ctx.sender.attempt(r.list_role_tags(role["RoleName"]), *_GONE) or {}
        if tags_match(tag_dict(tags.get("Tags", [])), ctx.settings.project):
            ours.append(role["RoleName"])
    return ours


def _remove_role(ctx: AwsContext, name: str) -> None:
    attached = ctx.sender.attempt(r.list_attached_policies(name), *_GONE)
    if attached is None and not ctx.dry_run:
        return
    arns = [p["PolicyArn"] for p in (attached or {}).get("AttachedPolicies", [])]
    for request in r.delete_role(name, arns):
        ctx.sender.attempt(request, *_GONE)


def _buckets(ctx: AwsContext) -> List[str]:
    names = [x["Name"] for x in ctx.send(b.list_buckets()).get("Buckets", [])]
    ours = []
    for name in names:
        try:
            if storage_ops.bucket_is_ours(ctx, name):
                ours.append(name)
        except Exception:  # another region's bucket or no permission: not something we can judge
            continue
    return ours


def _remove_bucket(ctx: AwsContext, name: str) -> None:
    """Empty it (1000 keys per request, S3's limit), then delete it."""
    keys = sorted(storage_ops.list_keys(ctx, name, ""))
    for start in range(0, len(keys), 1000):
        ctx.send(b.delete_objects(name, keys[start:start + 1000]))
    ctx.sender.attempt(b.delete_bucket(name), *_GONE)
    if ctx.state.get("bucket") == name:
        ctx.state.set("bucket", None)


register(ResourceKind(cluster_ops.CLUSTER_KIND, 10, _clusters, _remove_cluster))
register(ResourceKind(access_ops.SSH_RULE_KIND, 20, _ssh_rules, _remove_ssh_rule))
register(ResourceKind(access_ops.SECURITY_GROUP_KIND, 30, _groups, _remove_group))
register(ResourceKind(access_ops.KEY_PAIR_KIND, 40, _key_pairs, _remove_key_pair))
register(ResourceKind(iam_ops.INSTANCE_PROFILE_KIND, 50, _instance_profiles, _remove_instance_profile))
register(ResourceKind(iam_ops.ROLE_KIND, 60, _roles, _remove_role))
register(ResourceKind(storage_ops.BUCKET_KIND, 90, _buckets, _remove_bucket, needs_confirmation=True))
