"""``status``: the current cluster's state, uptime, master, applications, steps and cost so
far; and a warning about any other cluster of ours still running (billing)."""
from __future__ import annotations

import datetime as dt
from typing import Any, Dict, List, Optional

from bigfruits.aws.core import state
from bigfruits.aws.core.context import AwsContext
from bigfruits.aws.procedures.our_clusters import our_active_clusters
from bigfruits.aws.procedures.pricing import cost_line
from bigfruits.aws.requests.emr import clusters, steps


def _hours_since(created: Any, now: dt.datetime) -> Optional[float]:
    if not isinstance(created, dt.datetime):
        return None
    return max(0.0, (now - created).total_seconds() / 3600)


def group_counts(groups: List[Dict[str, Any]]) -> Dict[str, int]:
    """Instances per type, summed over groups (master and core are both m5.xlarge by default)."""
    counts: Dict[str, int] = {}
    for group in groups:
        kind = str(group["InstanceType"])
        counts[kind] = counts.get(kind, 0) + int(group.get("RequestedInstanceCount", 0))
    return counts


def status(ctx: AwsContext, cluster_id: Optional[str] = None) -> Dict[str, Any]:
    """Print and return the current cluster's state; warn about any other of ours running."""
    found = cluster_id or ctx.state.get(state.CURRENT_CLUSTER)
    info: Dict[str, Any] = _show_cluster(ctx, found) if found else {}
    if not found:
        ctx.echo("no current cluster")
    others = [x["Id"] for x in our_active_clusters(ctx) if x.get("Id") != found]
    if others:
        ctx.echo(f"warning: other clusters of ours still running (billing): {', '.join(others)}")
    info["others"] = others
    return info


def _show_cluster(ctx: AwsContext, cluster_id: str) -> Dict[str, Any]:
    """One cluster's state, uptime, master, applications, steps and cost, printed and returned."""
    now = dt.datetime.now(dt.timezone.utc)
    cluster = ctx.send(clusters.describe_cluster(cluster_id))["Cluster"]
    hours = _hours_since(cluster["Status"].get("Timeline", {}).get("CreationDateTime"), now)
    counts = group_counts(ctx.send(clusters.list_instance_groups(cluster_id)).get("InstanceGroups", []))
    step_list = ctx.send(steps.list_steps(cluster_id)).get("Steps", [])
    info = {"id": cluster_id, "state": cluster["Status"]["State"], "master": cluster.get("MasterPublicDnsName"),
            "applications": [a["Name"] for a in cluster.get("Applications", [])],
            "steps": [(x["Name"], x["Status"]["State"]) for x in step_list]}
    ctx.echo(f"cluster {cluster_id}: {info['state']}" + (f", up {hours:.1f} h" if hours is not None else ""))
    ctx.echo(f"  master: {info['master'] or '-'}")
    ctx.echo(f"  applications: {', '.join(info['applications']) or '-'}")
    for name, step_state in info["steps"]:
        ctx.echo(f"  step {name}: {step_state}")
    if info["state"] not in clusters.FAILED_STATES:
        ctx.echo(f"  cost: {cost_line(ctx, counts, hours)}")
    return info
