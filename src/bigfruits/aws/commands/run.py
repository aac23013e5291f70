"""``run``: the pipeline on a cluster of its own that terminates itself when the step ends.

One RunJobFlow carries the pipeline step, with ``KeepJobFlowAliveWhenNoSteps`` false and the
step's ``ActionOnFailure`` TERMINATE_CLUSTER: EMR ends the cluster whatever happens to this
process (a laptop asleep, a lost network), which is how mrjob and Airflow run batch jobs on EMR.
Here we only watch: progress, the failure's details and stderr, the results downloaded; and if
we give up waiting, we terminate the cluster ourselves.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

from bigfruits.aws.core import kinds, state
from bigfruits.aws.core.context import AwsContext
from bigfruits.aws.procedures import cluster_launch, cluster_network
from bigfruits.aws.procedures.bucket_files import download_results
from bigfruits.aws.procedures.cluster_roles import ensure_roles
from bigfruits.aws.procedures.node_files import check_step_model, step_model_args
from bigfruits.aws.procedures.pricing import cost_line
from bigfruits.aws.procedures.step_watch import show_step_failure, step_locations, step_named, wait_for_step
from bigfruits.aws.requests.emr import clusters, steps
from bigfruits.aws.requests.emr.flavors import BATCH
from bigfruits.errors import AwsError, InputError

RUN_TIMEOUT_S = 3 * 60 * 60


def run_transient(
    ctx: AwsContext,
    input_uri: Optional[str] = None,
    output_uri: Optional[str] = None,
    extra_args: Sequence[str] = (),
    wheel: Optional[Path] = None,
    yes: bool = False,
    timeout_s: float = RUN_TIMEOUT_S,
    dest: Path = Path("results"),
    wait: bool = True,
) -> str:
    """Start the batch cluster with the pipeline step, watch it, download the results; the
    cluster id. Failure and timeout raise ``AwsError`` (the cluster is gone or going)."""
    settings = ctx.settings
    check_step_model(extra_args)  # what this machine makes first: a failure here sends nothing
    wheel = cluster_launch.prepare_node_files(ctx, wheel)
    bucket = ctx.bucket()
    # before the prompt: a wrong --input or --output must start nothing
    input_uri, output_uri = step_locations(ctx, bucket, input_uri, output_uri)
    ctx.echo(f"batch run on a transient cluster: {settings.release}, 1 x {settings.master_type} + "
             f"{settings.core_count} x {settings.core_type}; it terminates itself when the step ends")
    ctx.echo(f"  cost: {cost_line(ctx, clusters.instance_counts(settings))}")
    if not (yes or ctx.dry_run) and not ctx.confirm("Start this run?"):
        raise InputError("nothing started", "re-run and confirm, or pass --yes")
    ctx, _ = cluster_network.in_cluster_network(ctx)  # first: a wrong --subnet-id starts nothing either
    ensure_roles(ctx)
    wheelhouse = cluster_launch.upload_bootstrap(ctx, wheel)
    step = steps.pipeline_step(input_uri, output_uri, step_model_args(ctx, extra_args),
                               action_on_failure="TERMINATE_CLUSTER")
    request = clusters.run_job_flow(ctx.settings_with_bucket(), BATCH, None, account_id=ctx.account_id(),
                                    steps=[step], keep_alive=False, wheelhouse_uri=wheelhouse)
    cluster_id = cluster_launch.start_cluster(ctx, request)
    ctx.state.add(kinds.CLUSTER, cluster_id, flavor=BATCH.name)
    ctx.state.set(state.LAST_OUTPUT, output_uri)
    ctx.echo(f"cluster {cluster_id} started; results go to {output_uri}")
    if ctx.dry_run:
        return cluster_id
    step_id = _pipeline_step(ctx, cluster_id)
    if not wait:
        ctx.echo(f"not waiting: `bigfruits aws status --cluster-id {cluster_id}` follows it, `bigfruits aws "
                 f"logs --cluster-id {cluster_id}` shows its step's log, `bigfruits aws download-results` "
                 "fetches the results once the step has completed")
        return cluster_id
    _watch(ctx, cluster_id, step_id, timeout_s)
    download_results(ctx, dest)
    return cluster_id


def _pipeline_step(ctx: AwsContext, cluster_id: str) -> str:
    """The id of the cluster's pipeline step, remembered for `logs`; a cluster without one is
    terminated."""
    step_id = step_named(ctx, cluster_id, steps.PIPELINE_STEP_NAME)
    if step_id is None:
        ctx.sender.attempt(clusters.terminate([cluster_id]))
        raise AwsError(f"cluster {cluster_id} has no pipeline step", "it was terminated: run again")
    ctx.state.set(state.LAST_STEP, step_id)
    return step_id


def _watch(ctx: AwsContext, cluster_id: str, step_id: str, timeout_s: float) -> None:
    """Until the pipeline step ends; giving up (not Ctrl-C) terminates the cluster, and a step
    that did not complete raises with its stderr shown."""
    with cluster_launch.terminated_on_failure(
            ctx, cluster_id,
            f"stopped watching; cluster {cluster_id} goes on and terminates itself when the step ends",
            f"terminating cluster {cluster_id} (it would otherwise run until its step ends)"):
        answer = wait_for_step(ctx, cluster_id, step_id, timeout_s)
    status = answer["Step"]["Status"]
    ctx.state.remove(kinds.CLUSTER, cluster_id)  # ended with its step: EMR terminates it
    if status["State"] != "COMPLETED":
        show_step_failure(ctx, cluster_id, step_id, status)
        raise AwsError(f"the pipeline step {status['State']}; cluster {cluster_id} terminates itself",
                       f"read the stderr above (`bigfruits aws logs --cluster-id {cluster_id} "
                       f"--step-id {step_id}` shows more)")
    ctx.echo(f"step {step_id} completed; cluster {cluster_id} terminates itself")
