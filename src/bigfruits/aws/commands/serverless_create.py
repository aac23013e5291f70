"""``serverless create``: our EMR Serverless application, capped at the account's vCPU quota,
and the job runtime role it alone may pass to its job runs (idempotent)."""
from __future__ import annotations

from typing import Any, Dict, Optional

from bigfruits.aws.core.context import AwsContext
from bigfruits.aws.procedures.serverless_app import ensure_application, ensure_job_role, vcpu_quota
from bigfruits.aws.requests import emr_serverless as serverless
from bigfruits.errors import InputError


def serverless_create(ctx: AwsContext, max_vcpus: Optional[int] = None, interactive: bool = False) -> Dict[str, Any]:
    """The application (kept if it exists) and its role; what was made, as GetApplication says."""
    serverless.check_release(ctx.settings.release)  # before anything is asked
    if max_vcpus is not None and max_vcpus < 1:
        raise InputError(f"--max-vcpus {max_vcpus}", "pass a positive number of vCPU")
    quota, source = vcpu_quota(ctx)
    vcpus = min(quota, max_vcpus) if max_vcpus else quota
    serverless.executor_count(vcpus)  # enough for a driver and an executor, or one line
    ctx.echo(f"EMR Serverless vCPU quota: {quota} ({source}); the application may use {vcpus}")
    application = ensure_application(ctx, vcpus, interactive)
    application_id = str(application["applicationId"])
    arn = str(application.get("arn") or serverless.application_arn(ctx.region, ctx.account_id(), application_id))
    role = ensure_job_role(ctx, arn)
    ctx.echo(f"job runtime role {role}: our bucket's prefixes only, trusted by {application_id} alone")
    ctx.echo(f"application {application_id}: starts with the first job run, stops after "
             f"{serverless.IDLE_STOP_MINUTES} idle minutes; no network configuration (S3 in {ctx.region} only)")
    if interactive:
        ctx.echo("EMR Studio Workspaces may attach it (see docs/emr-serverless.md for the notebook's %%configure)")
    return {"applicationId": application_id, "arn": arn, "role": role}
