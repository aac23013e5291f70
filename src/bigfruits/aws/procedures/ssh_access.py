"""SSH access to a cluster's master: the key pair, our SSH group with port 22 open for the
caller's IP only, each cluster's known host keys, and the background tunnel's bookkeeping."""
from __future__ import annotations

import os
from pathlib import Path
from typing import List, Optional

from bigfruits.aws.core import kinds, resource_names, state
from bigfruits.aws.core.context import AwsContext
from bigfruits.aws.procedures import cluster_network, tunnel
from bigfruits.aws.requests import ec2
from bigfruits.errors import AwsError


def ensure_key_pair(ctx: AwsContext) -> Path:
    """Idempotent: an existing pair with its private key here is fine; the private key's path."""
    name = ctx.settings.key_pair_name
    pem = ctx.settings.private_key_path()
    found = ctx.send(ec2.describe_key_pair(name)).get("KeyPairs", [])
    if found:
        if not pem.is_file():
            raise AwsError(
                f"key pair {name} exists on AWS but its private key {pem} is not here",
                f"delete it (`aws ec2 delete-key-pair --key-name {name}`) or pass --key-name",
            )
        ctx.echo(f"key pair {name} already exists ({pem})")
    else:
        material = ctx.send(ec2.create_key_pair(name, ctx.settings.project)).get("KeyMaterial", "")
        if not ctx.dry_run:
            write_private_key(pem, material)
        ctx.echo(f"key pair {name} created; private key in {pem} (mode 0600)")
    ctx.state.add(kinds.KEY_PAIR, name, private_key=str(pem))
    return pem


def write_private_key(path: Path, material: str) -> None:
    """Created with mode 0600 from the start (never world-readable, even briefly)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if path.exists():
        path.unlink()
    fd = os.open(str(path), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(material)


def prepare_access(ctx: AwsContext, vpc_id: str) -> str:
    """What a cluster needs before it can be reached: our SSH group in its VPC, the key pair;
    the group id."""
    group_id = ensure_ssh_group(ctx, vpc_id)
    ensure_key_pair(ctx)
    return group_id


def ensure_ssh_group(ctx: AwsContext, vpc_id: Optional[str] = None) -> str:
    """Our SSH group in the cluster's VPC (found by tags, created once per VPC); its id."""
    wanted = resource_names.ssh_group_name(ctx.settings.project)
    vpc_id = vpc_id or cluster_network.cluster_vpc(ctx)
    for group in ctx.send(ec2.find_our_groups(ctx.settings.project)).get("SecurityGroups", []):
        if group.get("GroupName") == wanted and group.get("VpcId") == vpc_id:
            ctx.state.add(kinds.SECURITY_GROUP, group["GroupId"], name=wanted)
            if ec2.lacks_emr_tag(group):  # made by a version before the v2 service policy
                ctx.send(ec2.add_emr_tag([group["GroupId"]]))
            return str(group["GroupId"])
    group_id = str(ctx.send(ec2.create_ssh_group(ctx.settings.project, vpc_id))["GroupId"])
    ctx.state.add(kinds.SECURITY_GROUP, group_id, name=wanted)
    return group_id


def open_ssh_for_caller(ctx: AwsContext, group_id: str, ip: str) -> str:
    cidr = ec2.caller_cidr(ip)
    ctx.sender.attempt(ec2.open_ssh(group_id, ip), "InvalidPermission.Duplicate")
    ctx.state.add(kinds.SSH_RULE, f"{group_id}|{cidr}")
    ctx.echo(f"port 22 open for {cidr} only")
    return cidr


def close_ssh_rules(ctx: AwsContext) -> List[str]:
    """Revoke every port-22 rule on our groups (what we opened, also from other IPs)."""
    closed = []
    for group in ctx.send(ec2.find_our_groups(ctx.settings.project)).get("SecurityGroups", []):
        for cidr in ec2.ssh_cidrs(group):
            ctx.sender.attempt(ec2.close_ssh(group["GroupId"], cidr), "InvalidPermission.NotFound")
            ctx.state.remove(kinds.SSH_RULE, f"{group['GroupId']}|{cidr}")
            closed.append(cidr)
    return closed


def ssh_dir(ctx: AwsContext) -> Path:
    return ctx.settings.state_path().parent / "ssh"


def known_hosts_path(ctx: AwsContext, cluster_id: str) -> Path:
    """One known_hosts per cluster: AWS reuses public DNS names, and a new cluster's host key
    behind a name an old cluster had would make ssh (accept-new) refuse to connect."""
    return ssh_dir(ctx) / "known_hosts.d" / cluster_id


def forget_host_keys(ctx: AwsContext, cluster_id: str) -> None:
    """At terminate: the cluster's host keys go with it."""
    if not ctx.dry_run:
        known_hosts_path(ctx, cluster_id).unlink(missing_ok=True)


def stop_tunnel(ctx: AwsContext) -> bool:
    """Close the background tunnel the state remembers (if any) and forget it; True if one
    was running."""
    control = ctx.state.get(state.TUNNEL_CONTROL)
    stopped = False
    if control:
        stopped = tunnel.close_tunnel(Path(control), ctx.state.get(state.TUNNEL_PID))
    ctx.state.set(state.TUNNEL_PID, None)
    ctx.state.set(state.TUNNEL_CONTROL, None)
    ctx.echo("tunnel closed" if stopped else "no tunnel was running")
    return stopped
