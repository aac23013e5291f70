"""``connect``: port 22 opened for the caller's IP only, then an SSH tunnel in the background to
JupyterHub and the Spark/YARN UIs on the master."""
from __future__ import annotations

from typing import Optional, Sequence, Tuple

from bigfruits.aws.core import state
from bigfruits.aws.core.context import AwsContext
from bigfruits.aws.procedures import ssh_access, tunnel
from bigfruits.aws.procedures.our_clusters import current_cluster
from bigfruits.aws.requests.emr import clusters
from bigfruits.errors import AwsError, InputError


def connect(
    ctx: AwsContext,
    cluster_id: Optional[str] = None,
    forwards: Sequence[Tuple[int, int]] = tunnel.DEFAULT_FORWARDS,
    host: Optional[str] = None,
    port: int = 22,
    my_ip: Optional[str] = None,
) -> int:
    """Open port 22 for the caller's IP, then the background tunnel; returns its pid."""
    pem = ctx.settings.private_key_path()
    if not pem.is_file():  # before any request, in a dry run too
        raise InputError(f"private key {pem} not found", "run `bigfruits aws create-keypair`")
    cluster_id = current_cluster(ctx, cluster_id)
    cluster = ctx.send(clusters.describe_cluster(cluster_id))["Cluster"]
    if cluster["Status"]["State"] not in clusters.READY_STATES and not ctx.dry_run:
        raise InputError(
            f"cluster {cluster_id} is {cluster['Status']['State']}", "wait for WAITING (`bigfruits aws status`)"
        )
    target = host or cluster.get("MasterPublicDnsName")
    if not target:
        raise AwsError(f"cluster {cluster_id} has no public master address", "is it in a public subnet?")
    attached = cluster.get("Ec2InstanceAttributes", {}).get("AdditionalMasterSecurityGroups") or []
    group_id = attached[0] if attached else ssh_access.ensure_ssh_group(ctx)  # ours is the only one added
    ssh_access.open_ssh_for_caller(ctx, group_id, my_ip or ctx.injected.ip_lookup())
    if ctx.dry_run:
        return 0
    return _open_tunnel(ctx, cluster_id, target, forwards, port)


def _open_tunnel(ctx: AwsContext, cluster_id: str, target: str,
                 forwards: Sequence[Tuple[int, int]], port: int) -> int:
    """The tunnel (a previous one closed first), remembered in the state; its pid."""
    pem = ctx.settings.private_key_path()
    control = ssh_access.ssh_dir(ctx) / "tunnel.ctl"
    tunnel.close_tunnel(control, ctx.state.get(state.TUNNEL_PID))
    known_hosts = ssh_access.known_hosts_path(ctx, cluster_id)
    known_hosts.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    cmd = tunnel.ssh_command(target, ctx.settings.ssh_user, pem, forwards, control, known_hosts, port)
    pid = tunnel.open_tunnel(cmd, control)
    ctx.state.set(state.TUNNEL_PID, pid)
    ctx.state.set(state.TUNNEL_CONTROL, str(control))
    for local, remote in forwards:
        ctx.echo(f"  http(s)://localhost:{local} -> master:{remote}")
    ctx.echo(f"tunnel up in the background (pid {pid}); `bigfruits aws disconnect` closes it")
    return pid
