"""``create-cluster``: a long-lived cluster to work on (JupyterHub, or attached to an EMR Studio),
with everything it needs placed first; after RunJobFlow any failure terminates it."""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Optional

from bigfruits.aws.core import kinds, state
from bigfruits.aws.core.context import AwsContext
from bigfruits.aws.procedures import cluster_launch, cluster_network, jupyterhub, node_files
from bigfruits.aws.procedures.cluster_roles import ensure_roles
from bigfruits.aws.procedures.pricing import cost_line
from bigfruits.aws.procedures.ssh_access import prepare_access
from bigfruits.aws.requests.emr import clusters, steps
from bigfruits.aws.requests.emr.flavors import Flavor, get_flavor
from bigfruits.errors import InputError


def create_cluster(
    ctx: AwsContext,
    flavor_name: str = "jupyterhub",
    yes: bool = False,
    wheel: Optional[Path] = None,
    notebook: Optional[Path] = None,
    wait: bool = True,
    with_model: bool = True,
) -> str:
    """What the cluster needs from this machine first (nothing sent if that fails), then
    everything it needs in AWS, then RunJobFlow; after that any failure terminates it."""
    flavor = get_flavor(flavor_name)
    notebook = _check_local_files(flavor, notebook, with_model)
    wheel = cluster_launch.prepare_node_files(ctx, wheel)
    ctx = cluster_network.in_studio_subnet(ctx, flavor)
    _announce(ctx, flavor)
    if not (yes or ctx.dry_run) and not ctx.confirm("Create this cluster?"):
        raise InputError("cluster not created", "re-run and confirm, or pass --yes")
    ctx, vpc_id = cluster_network.in_cluster_network(ctx)  # first: a wrong --subnet-id creates nothing
    group_id = prepare_access(ctx, vpc_id)
    ensure_roles(ctx)
    wheelhouse = cluster_launch.upload_bootstrap(ctx, wheel)
    model = jupyterhub.place_model(ctx) if with_model else None
    if notebook is not None:
        with tempfile.TemporaryDirectory(prefix="bigfruits-notebook-") as tmp:
            jupyterhub.place_notebook(ctx, flavor, jupyterhub.with_model(notebook, model, Path(tmp)))
    password, password_key, password_uri = None, None, None
    if flavor.sets_jupyterhub_password:
        password, password_key, password_uri = jupyterhub.put_password(ctx)
    request = clusters.run_job_flow(ctx.settings_with_bucket(), flavor, group_id, password_uri,
                                    account_id=ctx.account_id(), wheelhouse_uri=wheelhouse)
    try:
        cluster_id = cluster_launch.start_cluster(ctx, request)
    except BaseException:
        jupyterhub.delete_password(ctx, password_key)  # no cluster, no step to use (and delete) it
        raise
    ctx.state.add(kinds.CLUSTER, cluster_id, flavor=flavor.name)
    ctx.state.set(state.CURRENT_CLUSTER, cluster_id)
    ctx.echo(f"cluster {cluster_id} requested")
    _wait_or_terminate(ctx, cluster_id, wait and not ctx.dry_run, password_key)
    _show_password(ctx, password, wait)
    return cluster_id


def _check_local_files(flavor: Flavor, notebook: Optional[Path], with_model: bool) -> Optional[Path]:
    """The notebook to place (the flavors with JupyterHub: ``--notebook``, else ours) and the
    notebooks' model (ImageNet weights, exported here once), checked before any request; the
    notebook's path."""
    if flavor.places_notebook:
        notebook = notebook or jupyterhub.notebook_path()
        jupyterhub.check_notebook(notebook)
    else:
        notebook = None
    if with_model:
        node_files.local_model("imagenet", 0)
    return notebook


def _announce(ctx: AwsContext, flavor: Flavor) -> None:
    """What is about to start and what it costs, before the question."""
    settings = ctx.settings
    ctx.echo(f"cluster {settings.project}-{flavor.name}: {flavor.description}")
    ctx.echo(f"  {settings.release}, 1 x {settings.master_type} + {settings.core_count} x {settings.core_type}; "
             f"auto-terminates after {settings.idle_timeout_s // 60} min idle")
    ctx.echo(f"  cost: {cost_line(ctx, clusters.instance_counts(settings))}")


def _wait_or_terminate(ctx: AwsContext, cluster_id: str, wait: bool, password_key: Optional[str]) -> None:
    """Until the cluster is ready and its password set; any failure on the way terminates it
    (Ctrl-C only stops the waiting)."""
    with cluster_launch.terminated_on_failure(
            ctx, cluster_id,
            f"stopped waiting; cluster {cluster_id} keeps starting (`bigfruits aws terminate` stops it)",
            f"cluster {cluster_id} failed after creation: terminating it so it bills nothing",
            cleanup=lambda: jupyterhub.delete_password(ctx, password_key)):
        if wait:
            cluster_launch.wait_until_ready(ctx, cluster_id)
            if password_key:
                jupyterhub.wait_for_password_step(ctx, cluster_id)


def _show_password(ctx: AwsContext, password: Optional[str], waited: bool) -> None:
    """The password, once: after the wait it works already; otherwise once its step completes."""
    if password and waited and not ctx.dry_run:
        ctx.echo(f"JupyterHub user jovyan, password {password}  (shown once: keep it; "
                 "the cluster deletes its copy once set)")
    elif password:
        ctx.echo(f"JupyterHub user jovyan, password {password}  (shown once: keep it; it works once "
                 f"the step '{steps.PASSWORD_STEP_NAME}' is COMPLETED in `bigfruits aws status`; "
                 "if that step fails, EMR terminates the cluster)")
