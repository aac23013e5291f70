"""``serverless probe``: a job run of about a minute, without our archive, that reports the
image's Python interpreters and their packages, and the Python its executors run; so a user
settles on their own account which Python the archive is for (``serverless run --python``)."""
from __future__ import annotations

import json
from typing import Any, Dict, Optional

from bigfruits.aws.core import resource_names
from bigfruits.aws.core.context import AwsContext
from bigfruits.aws.procedures import serverless_scripts
from bigfruits.aws.procedures.serverless_app import current_application
from bigfruits.aws.procedures.serverless_jobs import driver_log, show_job_end, start_job, wait_for_job
from bigfruits.aws.requests.iam_policies import role_arn
from bigfruits.errors import AwsError

PROBE_TIMEOUT_S = 20 * 60
#: One small driver, one small executor: about a minute of each is billed.
PROBE_CONFS = {"spark.driver.cores": "1", "spark.driver.memory": "1g", "spark.executor.cores": "1",
               "spark.executor.memory": "1g", "spark.dynamicAllocation.maxExecutors": "1"}
#: The packages whose versions matter to our archive (the image's are shadowed by it).
SHOWN = ("numpy", "pandas", "pyarrow", "onnxruntime", "boto3", "matplotlib", "pillow", "pyspark")
MARKER = "bigfruits-probe: "
#: Polls of the driver's stdout in S3 after the run succeeded.
LOG_POLLS = 6


def report_lines(report: Dict[str, Any]) -> str:
    """The probe's JSON report, for humans."""
    driver, executors = report.get("driver", {}), report.get("executors", {})
    lines = [f"driver: Python {driver.get('version')} ({driver.get('executable')}), {driver.get('libc')}",
             f"executors: Python {executors.get('version', '?')} "
             f"({executors.get('executable', executors.get('error'))})"]
    for path, found in sorted(report.get("interpreters", {}).items()):
        packages = found.get("packages", {})
        named = {k.lower(): v for k, v in packages.items()} if isinstance(packages, dict) else {}
        shown = ", ".join(f"{name} {named[name]}" for name in SHOWN if name in named) or "none of ours"
        lines.append(f"{path}: Python {found.get('version', found.get('error', '?'))}; {shown}")
    return "\n".join(lines)


def serverless_probe(ctx: AwsContext, wait: bool = True) -> Optional[Dict[str, Any]]:
    """Run the probe; its report (None with --no-wait or in a dry run)."""
    application_id = current_application(ctx)
    script = serverless_scripts.upload_script(ctx, serverless_scripts.PROBE, "probe.py")
    role = role_arn(ctx.account_id(), resource_names.serverless_role_name(ctx.settings.project))
    job_run_id = start_job(ctx, application_id, role, script, [], PROBE_CONFS, "bigfruits probe", 10)
    ctx.echo(f"probe job run {job_run_id} started on {application_id}")
    if not wait or ctx.dry_run:
        return None
    final = show_job_end(ctx, application_id, wait_for_job(ctx, application_id, job_run_id, PROBE_TIMEOUT_S))
    found = []
    for _ in range(LOG_POLLS if final == "SUCCESS" else 1):  # the log lands in S3 shortly after the end
        found = [line for line in driver_log(ctx, application_id, job_run_id, "stdout", 200).splitlines()
                 if MARKER in line]
        if found:
            break
        ctx.injected.sleep(ctx.injected.poll_interval_s)
    if final != "SUCCESS" or not found:
        raise AwsError(f"the probe {final} without a report",
                       "`bigfruits aws serverless logs --stream stdout` shows more")
    report = json.loads(found[-1].split(MARKER, 1)[1])
    ctx.echo(report_lines(report))
    return report
