"""``serverless cancel``: cancel a job run (the last one by default) and wait until it is."""
from __future__ import annotations

from typing import Optional

from bigfruits.aws.core.context import AwsContext
from bigfruits.aws.procedures.serverless_jobs import last_job, show_job_end, wait_for_job
from bigfruits.aws.requests import emr_serverless as serverless

CANCEL_TIMEOUT_S = 15 * 60


def serverless_cancel(ctx: AwsContext, job: Optional[str] = None, wait: bool = True) -> str:
    """The run's final state (CANCELLED, or how it ended before the cancel reached it)."""
    application_id, job_run_id = last_job(ctx, job)
    ctx.send(serverless.cancel_job_run(application_id, job_run_id))
    ctx.echo(f"job run {job_run_id} cancelling")
    if not wait or ctx.dry_run:
        return "CANCELLING"
    return show_job_end(ctx, application_id, wait_for_job(ctx, application_id, job_run_id, CANCEL_TIMEOUT_S))
