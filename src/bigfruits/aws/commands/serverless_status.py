"""``serverless status``: our application (state, cap, idle stop) and its last job runs, with
what each finished one cost."""
from __future__ import annotations

from typing import Any, Dict, List

from bigfruits.aws.core.context import AwsContext
from bigfruits.aws.procedures.serverless_app import current_application
from bigfruits.aws.procedures.serverless_jobs import cost_line
from bigfruits.aws.requests import emr_serverless as serverless
from bigfruits.aws.core.botocore_errors import GONE_CODES

SHOWN_RUNS = 5


def serverless_status(ctx: AwsContext) -> Dict[str, Any]:
    """Printed, and returned: the application and its last ``SHOWN_RUNS`` job runs."""
    application_id = current_application(ctx)
    answer = ctx.send(serverless.get_application(application_id)).get("application", {})
    cap = answer.get("maximumCapacity", {})
    stop = answer.get("autoStopConfiguration", {})
    ctx.echo(f"application {application_id} {answer.get('state', '?')} ({answer.get('releaseLabel', '?')}); "
             f"up to {cap.get('cpu', '?')}, {cap.get('memory', '?')}; stops after "
             f"{stop.get('idleTimeoutMinutes', '?')} idle minutes")
    found = ctx.sender.attempt(serverless.list_job_runs(application_id), *GONE_CODES) or {}
    runs: List[Dict[str, Any]] = sorted(found.get("jobRuns", []), key=lambda r: str(r.get("createdAt", "")),
                                        reverse=True)[:SHOWN_RUNS]
    for run in runs:
        line = f"  {run['id']} {run.get('state', '?')} {run.get('name', '')}".rstrip()
        if run.get("state") in serverless.JOB_DONE_STATES:
            line += f"; {cost_line(ctx, ctx.send(serverless.get_job_run(application_id, run['id'])))}"
        ctx.echo(line)
    if not runs:
        ctx.echo("  no job run yet (`bigfruits aws serverless run`)")
    return {"application": answer, "runs": runs}
