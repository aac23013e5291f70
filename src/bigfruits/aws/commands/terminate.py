"""``terminate``: close the tunnel and port 22, terminate the cluster, wait until it is gone."""
from __future__ import annotations

from typing import Optional

from bigfruits.aws.core import state
from bigfruits.aws.core.context import AwsContext
from bigfruits.aws.procedures.our_clusters import current_cluster, terminate_and_wait
from bigfruits.aws.procedures.ssh_access import close_ssh_rules, stop_tunnel


def terminate(ctx: AwsContext, cluster_id: Optional[str] = None, wait: bool = True) -> str:
    """Close the tunnel and port 22, terminate, and wait until EMR says TERMINATED."""
    found = current_cluster(ctx, cluster_id)
    if ctx.state.get(state.TUNNEL_CONTROL):
        stop_tunnel(ctx)
    for cidr in close_ssh_rules(ctx):
        ctx.echo(f"port 22 closed for {cidr}")
    terminate_and_wait(ctx, found, wait)
    return found
