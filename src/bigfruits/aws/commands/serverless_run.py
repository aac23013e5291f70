"""``serverless run``: the pipeline as an EMR Serverless job run, with the same ``run`` arguments
and model as the EMR step, the dependency archive for the image's Python, executors sized
from the account's vCPU quota; waits through its states and prints what it cost."""
from __future__ import annotations

from typing import Optional, Sequence

from bigfruits.aws.core import resource_names, state
from bigfruits.aws.core.context import AwsContext
from bigfruits.aws.procedures import serverless_archive, serverless_scripts
from bigfruits.aws.procedures.node_files import step_model_args
from bigfruits.aws.procedures.serverless_app import current_application, vcpu_quota
from bigfruits.aws.procedures.serverless_jobs import (JOB_TIMEOUT_S, job_locations, show_job_end, start_job,
                                                      wait_for_job)
from bigfruits.aws.requests import emr_serverless as serverless, iam
from bigfruits.aws.requests.iam_policies import role_arn
from bigfruits.errors import AwsError, InputError


def executors(ctx: AwsContext, application_id: str) -> int:
    """As many as the quota holds, and the application's own cap."""
    quota, source = vcpu_quota(ctx)
    answer = ctx.send(serverless.get_application(application_id)).get("application", {})
    cap = str(answer.get("maximumCapacity", {}).get("cpu", "")).split()
    vcpus = min(quota, int(cap[0])) if cap and cap[0].isdigit() else quota
    count = serverless.executor_count(vcpus)
    ctx.echo(f"up to {count} executors of {serverless.EXECUTOR.cpu} vCPU beside the driver "
             f"({vcpus} vCPU: {source})")
    return count


def serverless_run(ctx: AwsContext, input_uri: Optional[str] = None, output_uri: Optional[str] = None,
                   extra_args: Sequence[str] = (), python_version: str = serverless.DEFAULT_PYTHON,
                   wait: bool = True, timeout_s: float = JOB_TIMEOUT_S) -> str:
    """Start the job run (everything it needs placed in the bucket first); its id. A run that
    did not succeed raises ``AwsError`` after its details and stderr are shown."""
    serverless_archive.check_python(python_version)
    input_uri, output_uri = job_locations(ctx, ctx.bucket(), input_uri, output_uri)
    application_id = current_application(ctx)  # none yet: one line, before minutes of building
    archive = serverless_archive.build_archive(python_version, ctx.echo)  # local and slow: next
    role = resource_names.serverless_role_name(ctx.settings.project)
    if not ctx.dry_run and ctx.sender.attempt(iam.get_role(role), "NoSuchEntity") is None:
        raise InputError(f"the job runtime role {role} is missing", "run `bigfruits aws serverless create`")
    archive_uri = serverless_archive.place_archive(ctx, archive)
    ctx.echo(f"dependency archive for Python {python_version}: {archive_uri}")
    confs = {**serverless.archive_confs(archive_uri, python_version),
             **serverless.sizing_confs(executors(ctx, application_id))}
    driver = serverless_scripts.upload_script(ctx, serverless_scripts.driver_script(python_version), "driver.py")
    arguments = ["run", "--input", input_uri, "--output", output_uri, *step_model_args(ctx, extra_args)]
    job_run_id = start_job(ctx, application_id, role_arn(ctx.account_id(), role), driver, arguments, confs,
                           f"bigfruits run {output_uri.rstrip('/').rsplit('/', 1)[-1]}",
                           max(5, int(timeout_s // 60)))
    ctx.state.set(state.LAST_OUTPUT, output_uri)
    ctx.echo(f"job run {job_run_id} started on {application_id}; results go to {output_uri}")
    if not wait or ctx.dry_run:
        return job_run_id
    try:
        answer = wait_for_job(ctx, application_id, job_run_id, timeout_s + 600)
    except KeyboardInterrupt:
        ctx.echo(f"stopped watching; job run {job_run_id} goes on (`bigfruits aws serverless cancel` stops it)")
        raise
    final = show_job_end(ctx, application_id, answer)
    if final != "SUCCESS":
        raise AwsError(f"the job run {final}",
                       "read the stderr above (`bigfruits aws serverless logs` shows more)")
    ctx.echo(f"results in {output_uri} (`bigfruits aws download-results`)")
    return job_run_id
