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

from bigfruits.aws.commands.cluster import (
    CLUSTER_KIND, ensure_roles, in_cluster_network, show_step_failure, start_cluster,
    step_locations, upload_bootstrap, wait_for_step,
)
from bigfruits.aws.commands.node_files import step_model_args
from bigfruits.aws.commands.pricing import cost_line
from bigfruits.aws.commands.storage import download_results
from bigfruits.aws.core.context import AwsContext
from bigfruits.aws.requests import s3 as b
from bigfruits.aws.requests.emr import clusters as c
from bigfruits.aws.requests.emr import steps as s
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
) -> str:
    """Start the batch cluster with the pipeline step, watch it, download the results; the
    cluster id. Failure and timeout raise ``AwsError`` (the cluster is gone or going)."""
    settings = ctx.settings
    bucket = ctx.bucket()
    # before the prompt: a wrong --input or --output must start nothing
    input_uri, output_uri = step_locations(ctx, bucket, input_uri, output_uri)
    ctx.echo(f"batch run on a transient cluster: {settings.release}, 1 x {settings.master_type} + "
             f"{settings.core_count} x {settings.core_type}; it terminates itself when the step ends")
    ctx.echo(f"  cost: {cost_line(ctx, c.instance_counts(settings))}")
    if not (yes or ctx.dry_run) and not ctx.confirm("Start this run?"):
        raise InputError("nothing started", "re-run and confirm, or pass --yes")
    ctx, _ = in_cluster_network(ctx)  # first: a wrong --subnet-id starts nothing either
    ensure_roles(ctx)
    wheelhouse = upload_bootstrap(ctx, wheel)
    step = s.pipeline_step(input_uri, output_uri, step_model_args(ctx, extra_args),
                           action_on_failure="TERMINATE_CLUSTER")
    request = c.run_job_flow(ctx.settings_with_bucket(), BATCH, None, account_id=ctx.account_id(),
                             steps=[step], keep_alive=False, wheelhouse_uri=wheelhouse)
    cluster_id = start_cluster(ctx, request)
    ctx.state.add(CLUSTER_KIND, cluster_id, flavor=BATCH.name)
    ctx.state.set("last_output", output_uri)
    ctx.echo(f"cluster {cluster_id} started; results go to {output_uri}")
    if ctx.dry_run:
        return cluster_id
    step_id = _pipeline_step_id(ctx, cluster_id)
    ctx.state.set("last_step", step_id)
    try:
        answer = wait_for_step(ctx, cluster_id, step_id, timeout_s)
    except KeyboardInterrupt:
        ctx.echo(f"stopped watching; cluster {cluster_id} goes on and terminates itself when the step ends")
        raise
    except BaseException:
        ctx.echo(f"terminating cluster {cluster_id} (it would otherwise run until its step ends)")
        ctx.sender.attempt(c.terminate([cluster_id]))
        raise
    status_ = answer["Step"]["Status"]
    ctx.state.remove(CLUSTER_KIND, cluster_id)  # ended with its step: EMR terminates it
    if status_["State"] != "COMPLETED":
        show_step_failure(ctx, cluster_id, step_id, status_)
        raise AwsError(f"the pipeline step {status_['State']}; cluster {cluster_id} terminates itself",
                       f"read the stderr above (`bigfruits aws logs --cluster-id {cluster_id} "
                       f"--step-id {step_id}` shows more)")
    ctx.echo(f"step {step_id} completed; cluster {cluster_id} terminates itself")
    download_results(ctx, dest)
    return cluster_id


def _pipeline_step_id(ctx: AwsContext, cluster_id: str) -> str:
    found = [x for x in ctx.send(s.list_steps(cluster_id)).get("Steps", [])
             if x.get("Name") == s.PIPELINE_STEP_NAME]
    if not found:
        ctx.sender.attempt(c.terminate([cluster_id]))
        raise AwsError(f"cluster {cluster_id} has no pipeline step", "it was terminated: run again")
    return str(found[0]["Id"])
