"""A job run's life on our EMR Serverless application, for ``serverless run``, ``probe``,
``status``, ``logs`` and ``cancel``: where the pipeline reads and writes, starting a run,
waiting through its states, and what it cost (its ``billedResourceUtilization`` at the region's
rates) or why it failed (``stateDetails`` and the end of the driver's stderr)."""
from __future__ import annotations

from typing import Any, Dict, Mapping, Optional, Sequence, Tuple

from bigfruits.aws.core import state
from bigfruits.aws.core.context import AwsContext
from bigfruits.aws.core.tags import managed_tags
from bigfruits.aws.core.waiting import wait_for
from bigfruits.aws.procedures.pricing import serverless_cost, serverless_rates
from bigfruits.aws.procedures.step_watch import LOG_TAIL_LINES, s3_log_tail, step_locations
from bigfruits.aws.requests import emr_serverless as serverless, s3
from bigfruits.errors import InputError

JOB_TIMEOUT_S = 3 * 60 * 60


def job_locations(ctx: AwsContext, bucket: str, input_uri: Optional[str],
                  output_uri: Optional[str]) -> Tuple[str, str]:
    """As the EMR step's (s3:// in our bucket, a new output folder per run), and within what
    the job runtime role may read (``raw/``) and write (``output/``)."""
    input_uri, output_uri = step_locations(ctx, bucket, input_uri, output_uri)
    for uri, option, prefix, verb in ((input_uri, "--input", s3.RAW_PREFIX, "read"),
                                      (output_uri, "--output", s3.OUTPUT_PREFIX, "write")):
        key = s3.split_s3_uri(uri)[1]
        if not key.startswith(prefix):
            raise InputError(f"{option} {uri}: EMR Serverless job runs {verb} s3://{bucket}/{prefix}… only "
                             "(their role's scope)",
                             f"pass {option} {s3.s3_uri(bucket, prefix + key)}")
    return input_uri, output_uri


def start_job(ctx: AwsContext, application_id: str, role_arn: str, entry_point: str,
              arguments: Sequence[str], confs: Mapping[str, str], name: str,
              timeout_minutes: int = serverless.TIMEOUT_MINUTES) -> str:
    """StartJobRun; the run is remembered as the last one (``status``, ``logs``, ``cancel``)."""
    request = serverless.start_job_run(application_id, role_arn, entry_point, arguments, confs, ctx.bucket(),
                                       name, managed_tags(ctx.settings.project), ctx.injected.run_id(),
                                       timeout_minutes)
    job_run_id = str(ctx.send(request)["jobRunId"])
    ctx.state.set(state.LAST_SERVERLESS_JOB, f"{application_id}/{job_run_id}")
    return job_run_id


def last_job(ctx: AwsContext, job: Optional[str] = None) -> Tuple[str, str]:
    """(application id, job run id) of ``job`` ("<application>/<run>"), else the last run."""
    remembered = job or ctx.state.get(state.LAST_SERVERLESS_JOB)
    if not remembered or "/" not in str(remembered):
        raise InputError("no EMR Serverless job run yet",
                         "run `bigfruits aws serverless run`, or pass --job APPLICATION_ID/JOB_RUN_ID")
    application_id, job_run_id = serverless.job_ids(str(remembered))
    return application_id, job_run_id


def wait_for_job(ctx: AwsContext, application_id: str, job_run_id: str,
                 timeout_s: float = JOB_TIMEOUT_S) -> Dict[str, Any]:
    """Poll until the run ends (SUCCESS, FAILED, CANCELLED), printing each state it passes
    (QUEUED, PENDING, SCHEDULED, RUNNING, CANCELLING...); the last GetJobRun answer."""
    return wait_for(lambda: ctx.send(serverless.get_job_run(application_id, job_run_id)), serverless.job_state,
                    serverless.JOB_DONE_STATES, f"job run {job_run_id}", timeout_s,
                    ctx.injected.poll_interval_s, ctx.injected.sleep, ctx.injected.clock, ctx.echo)


def cost_line(ctx: AwsContext, answer: Dict[str, Any]) -> str:
    """Billed vCPU-hours, GB-hours, storage GB-hours and their cost at the region's rates."""
    billed = serverless.billed(answer)
    rates, source = serverless_rates(ctx)
    return (f"billed {billed['vCPUHour']:.3f} vCPU-hours, {billed['memoryGBHour']:.3f} GB-hours, "
            f"{billed['storageGBHour']:.3f} storage GB-hours: ${serverless_cost(billed, rates):.2f} ({source})")


def driver_log(ctx: AwsContext, application_id: str, job_run_id: str, stream: str = "stderr",
               lines: int = LOG_TAIL_LINES) -> str:
    """The end of the driver's stdout or stderr, which EMR Serverless copies to our bucket."""
    return s3_log_tail(ctx, serverless.driver_log_key(application_id, job_run_id, stream), stream, lines,
                       "EMR Serverless uploads them as the run goes; try `bigfruits aws serverless logs` later")


def show_job_end(ctx: AwsContext, application_id: str, answer: Dict[str, Any]) -> str:
    """What a finished run cost; for one that did not succeed, AWS's stateDetails and the end
    of the driver's stderr. Its final state."""
    run = answer.get("jobRun", {})
    final = str(run.get("state", "?"))
    ctx.echo(f"job run {run.get('jobRunId', '?')} {final}; {cost_line(ctx, answer)}")
    if final != "SUCCESS":
        if run.get("stateDetails"):
            ctx.echo(f"  {run['stateDetails']}")
        ctx.echo(driver_log(ctx, application_id, str(run.get("jobRunId", "?"))))
    return final
