"""``serverless logs``: the end of a job run's driver stdout or stderr, from S3."""
from __future__ import annotations

from typing import Optional

from bigfruits.aws.core.context import AwsContext
from bigfruits.aws.procedures.serverless_jobs import driver_log, last_job
from bigfruits.aws.procedures.step_watch import LOG_TAIL_LINES


def serverless_logs(ctx: AwsContext, job: Optional[str] = None, stream: str = "stderr",
                    lines: int = LOG_TAIL_LINES) -> str:
    """``job`` ("<application id>/<job run id>") else the last run; printed and returned."""
    application_id, job_run_id = last_job(ctx, job)
    text = driver_log(ctx, application_id, job_run_id, stream, lines)
    ctx.echo(text)
    return text
