"""Which cluster a command means (``--cluster-id``, else the current one), which clusters of
ours are still running, and ending one (terminate, wait, forget)."""
from __future__ import annotations

from typing import Any, Dict, List, Optional

from bigfruits.aws.core import kinds, state
from bigfruits.aws.core.context import AwsContext
from bigfruits.aws.core.tags import is_ours
from bigfruits.aws.core.waiting import wait_for
from bigfruits.aws.procedures.ssh_access import forget_host_keys
from bigfruits.aws.requests.emr import clusters
from bigfruits.errors import InputError

TERMINATE_TIMEOUT_S = 20 * 60


def current_cluster(ctx: AwsContext, cluster_id: Optional[str] = None) -> str:
    found = cluster_id or ctx.state.get(state.CURRENT_CLUSTER)
    if not found:
        raise InputError("no cluster", "run `bigfruits aws create-cluster` or pass --cluster-id")
    return str(found)


def our_active_clusters(ctx: AwsContext) -> List[Dict[str, Any]]:
    """Active clusters carrying our tags (DescribeCluster is where EMR returns tags)."""
    ours = []
    for summary in ctx.sender.paged(clusters.list_active_clusters(), "Clusters"):
        detail = ctx.send(clusters.describe_cluster(summary["Id"])).get("Cluster", {})
        if is_ours(detail.get("Tags", []), ctx.settings.project):
            ours.append(detail)
    return ours


def terminate_and_wait(ctx: AwsContext, cluster_id: str, wait: bool = True) -> None:
    """Terminate, wait until EMR says it ended, and forget it (state, host keys)."""
    ctx.send(clusters.terminate([cluster_id]))
    if wait and not ctx.dry_run:
        wait_for(lambda: ctx.send(clusters.describe_cluster(cluster_id)), clusters.cluster_state,
                 clusters.FAILED_STATES, f"cluster {cluster_id}", TERMINATE_TIMEOUT_S,
                 ctx.injected.poll_interval_s, ctx.injected.sleep, ctx.injected.clock, ctx.echo)
    ctx.state.remove(kinds.CLUSTER, cluster_id)
    forget_host_keys(ctx, cluster_id)
    if ctx.state.get(state.CURRENT_CLUSTER) == cluster_id:
        ctx.state.set(state.CURRENT_CLUSTER, None)
    ctx.echo(f"cluster {cluster_id} terminated")
