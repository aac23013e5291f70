"""SSH access: the key pair, port 22 for the caller's IP only, the tunnel (connect/disconnect)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

from bigfruits.aws.commands import network, tunnel
from bigfruits.aws.core.context import AwsContext
from bigfruits.aws.requests import ec2
from bigfruits.aws.requests.emr import clusters as c
from bigfruits.errors import AwsError, InputError

KEY_PAIR_KIND = "key-pair"
SECURITY_GROUP_KIND = "security-group"
SSH_RULE_KIND = "ssh-rule"


def create_keypair(ctx: AwsContext) -> Path:
    """Idempotent: an existing pair with its private key here is fine."""
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
    ctx.state.add(KEY_PAIR_KIND, name, private_key=str(pem))
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
    create_keypair(ctx)
    return group_id


def ensure_ssh_group(ctx: AwsContext, vpc_id: Optional[str] = None) -> str:
    """Our SSH group in the cluster's VPC (found by tags, created once per VPC); its id."""
    wanted = ec2.ssh_group_name(ctx.settings.project)
    vpc_id = vpc_id or network.cluster_vpc(ctx)
    for group in ctx.send(ec2.find_our_groups(ctx.settings.project)).get("SecurityGroups", []):
        if group.get("GroupName") == wanted and group.get("VpcId") == vpc_id:
            ctx.state.add(SECURITY_GROUP_KIND, group["GroupId"], name=wanted)
            if ec2.lacks_emr_tag(group):  # made by a version before the v2 service policy
                ctx.send(ec2.add_emr_tag([group["GroupId"]]))
            return str(group["GroupId"])
    group_id = str(ctx.send(ec2.create_ssh_group(ctx.settings.project, vpc_id))["GroupId"])
    ctx.state.add(SECURITY_GROUP_KIND, group_id, name=wanted)
    return group_id


def open_ssh_for_caller(ctx: AwsContext, group_id: str, ip: str) -> str:
    cidr = ec2.caller_cidr(ip)
    ctx.sender.attempt(ec2.open_ssh(group_id, ip), "InvalidPermission.Duplicate")
    ctx.state.add(SSH_RULE_KIND, f"{group_id}|{cidr}")
    ctx.echo(f"port 22 open for {cidr} only")
    return cidr


def close_ssh_rules(ctx: AwsContext) -> List[str]:
    """Revoke every port-22 rule on our groups (what we opened, also from other IPs)."""
    closed = []
    for group in ctx.send(ec2.find_our_groups(ctx.settings.project)).get("SecurityGroups", []):
        for cidr in ec2.ssh_cidrs(group):
            ctx.sender.attempt(ec2.close_ssh(group["GroupId"], cidr), "InvalidPermission.NotFound")
            ctx.state.remove(SSH_RULE_KIND, f"{group['GroupId']}|{cidr}")
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


def connect(
    ctx: AwsContext,
    cluster_id: str,
    forwards: Sequence[Tuple[int, int]] = tunnel.DEFAULT_FORWARDS,
    host: Optional[str] = None,
    port: int = 22,
    my_ip: Optional[str] = None,
) -> int:
    """Open port 22 for the caller's IP, then the background tunnel; returns its pid."""
    cluster = ctx.send(c.describe_cluster(cluster_id))["Cluster"]
    if cluster["Status"]["State"] not in c.READY_STATES and not ctx.dry_run:
        raise InputError(
            f"cluster {cluster_id} is {cluster['Status']['State']}", "wait for WAITING (`bigfruits aws status`)"
        )
    target = host or cluster.get("MasterPublicDnsName")
    if not target:
        raise AwsError(f"cluster {cluster_id} has no public master address", "is it in a public subnet?")
    attached = cluster.get("Ec2InstanceAttributes", {}).get("AdditionalMasterSecurityGroups") or []
    group_id = attached[0] if attached else ensure_ssh_group(ctx)  # ours is the only one added
    open_ssh_for_caller(ctx, group_id, my_ip or ctx.injected.ip_lookup())
    pem = ctx.settings.private_key_path()
    if ctx.dry_run:
        return 0
    if not pem.is_file():
        raise InputError(f"private key {pem} not found", "run `bigfruits aws create-keypair`")
    control = ssh_dir(ctx) / "tunnel.ctl"
    tunnel.close_tunnel(control, ctx.state.get("tunnel_pid"))
    known_hosts = known_hosts_path(ctx, cluster_id)
    known_hosts.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    cmd = tunnel.ssh_command(target, ctx.settings.ssh_user, pem, forwards, control, known_hosts, port)
    pid = tunnel.open_tunnel(cmd, control)
    ctx.state.set("tunnel_pid", pid)
    ctx.state.set("tunnel_control", str(control))
    for local, remote in forwards:
        ctx.echo(f"  http(s)://localhost:{local} -> master:{remote}")
    ctx.echo(f"tunnel up in the background (pid {pid}); `bigfruits aws disconnect` closes it")
    return pid


def disconnect(ctx: AwsContext) -> bool:
    control = ctx.state.get("tunnel_control")
    stopped = False
    if control:
        stopped = tunnel.close_tunnel(Path(control), ctx.state.get("tunnel_pid"))
    ctx.state.set("tunnel_pid", None)
    ctx.state.set("tunnel_control", None)
    ctx.echo("tunnel closed" if stopped else "no tunnel was running")
    return stopped
