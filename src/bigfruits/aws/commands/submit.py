"""``submit``: the pipeline as an EMR step on the current cluster, S3 in and out; waits, and on
failure shows why (EMR's reason and the end of the step's stderr)."""
from __future__ import annotations

from typing import Optional, Sequence

from bigfruits.aws.core import state
from bigfruits.aws.core.context import AwsContext
from bigfruits.aws.procedures.node_files import check_step_model, step_model_args
from bigfruits.aws.procedures.our_clusters import current_cluster
from bigfruits.aws.procedures.step_watch import (STEP_TIMEOUT_S, show_step_failure, step_locations,
                                                 wait_for_step)
from bigfruits.aws.requests.emr import steps
from bigfruits.errors import AwsError


def submit(
    ctx: AwsContext,
    input_uri: Optional[str] = None,
    output_uri: Optional[str] = None,
    extra_args: Sequence[str] = (),
    cluster_id: Optional[str] = None,
    wait: bool = True,
    timeout_s: float = STEP_TIMEOUT_S,
) -> str:
    """The pipeline as an EMR step on S3 input/output; waits, and on failure shows why."""
    check_step_model(extra_args)  # before any request
    bucket = ctx.bucket()
    input_uri, output_uri = step_locations(ctx, bucket, input_uri, output_uri)
    found = current_cluster(ctx, cluster_id)
    step = steps.pipeline_step(input_uri, output_uri, step_model_args(ctx, extra_args))
    step_id = str(ctx.send(steps.add_steps(found, [step]))["StepIds"][0])
    ctx.state.set(state.LAST_STEP, step_id)
    ctx.state.set(state.LAST_OUTPUT, output_uri)
    ctx.echo(f"step {step_id} submitted to {found}; results go to {output_uri}")
    if not wait or ctx.dry_run:
        return step_id
    answer = wait_for_step(ctx, found, step_id, timeout_s)
    status = answer["Step"]["Status"]
    if status["State"] != "COMPLETED":
        show_step_failure(ctx, found, step_id, status)
        raise AwsError(f"the pipeline step {status['State']}", "read the stderr above (`bigfruits aws logs` shows more)")
    ctx.echo(f"step {step_id} completed; results in {output_uri} (`bigfruits aws download-results`)")
    return step_id
