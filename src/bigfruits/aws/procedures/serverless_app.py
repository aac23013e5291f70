"""Our EMR Serverless application and its job runtime role: the account's vCPU quota that sizes
them, finding ours (by tags, no state file needed), creating them once, and taking the
application down for ``destroy`` (job runs cancelled, STOPPED, then deleted; the role goes with
our other IAM roles)."""
from __future__ import annotations

from typing import Any, Dict, List, Tuple

from bigfruits.aws.core import kinds, resource_names
from bigfruits.aws.core.botocore_errors import GONE_CODES
from bigfruits.aws.core.context import AwsContext
from bigfruits.aws.core.tags import managed_tags, tags_match
from bigfruits.aws.core.waiting import wait_for
from bigfruits.aws.requests import emr_serverless as serverless, iam, service_quotas
from bigfruits.aws.requests.iam_policies import role_arn, serverless_job_policy, serverless_trust_policy
from bigfruits.errors import AwsError, InputError

#: How long ``destroy`` waits for job runs to be cancelled and the application to stop.
STOP_TIMEOUT_S = 15 * 60
#: IAM is eventually consistent: EMR Serverless may not assume a brand-new role for a few seconds.
IAM_PROPAGATION_S = 10.0


def vcpu_quota(ctx: AwsContext) -> Tuple[int, str]:
    """The account's EMR Serverless vCPU quota and where the figure comes from: the value
    applied to the account, else AWS's default, else the documented default (labelled)."""
    why = "a dry run asks nothing" if ctx.dry_run else "Service Quotas gave no value"
    for request in (service_quotas.applied_quota(), service_quotas.default_quota()):
        try:
            value = service_quotas.quota_value(ctx.send(request))
        except AwsError as exc:  # NoSuchResourceException: never set; AccessDenied...: can't say
            why = f"Service Quotas answered {exc.code or exc.what}"
            continue
        if value:
            return value, f"the account's quota {service_quotas.VCPU_QUOTA} (Service Quotas)"
    return service_quotas.DOCUMENTED_DEFAULT_VCPUS, f"AWS's documented default for a new account ({why})"


def our_applications(ctx: AwsContext) -> List[Dict[str, Any]]:
    """Every live application carrying our tags (GetApplication answers its tags)."""
    found = []
    for summary in ctx.sender.paged(serverless.list_applications(), "applications"):
        answer = ctx.sender.attempt(serverless.get_application(summary["id"]), *GONE_CODES) or {}
        application = answer.get("application", {})
        if tags_match(application.get("tags", {}), ctx.settings.project):
            found.append(application)
    return found


def current_application(ctx: AwsContext) -> str:
    """The application ``serverless create`` made (state file), else the one our tags find."""
    remembered = ctx.state.ids(kinds.SERVERLESS_APPLICATION)
    if remembered:
        return remembered[-1]
    found = our_applications(ctx)
    if not found:
        raise InputError("no EMR Serverless application of ours yet", "run `bigfruits aws serverless create`")
    return str(found[0]["applicationId"])


def ensure_application(ctx: AwsContext, vcpus: int, interactive: bool) -> Dict[str, Any]:
    """Ours if there is one (kept as it is), else a new one capped at ``vcpus``; recorded."""
    existing = our_applications(ctx)
    if existing:
        application = existing[0]
        ctx.echo(f"application {application['applicationId']} exists ({application.get('state', '?')}, "
                 f"{application.get('releaseLabel', '?')}): kept (`destroy` first to make it anew)")
    else:
        name = resource_names.serverless_application_name(ctx.settings.project)
        application = ctx.send(serverless.create_application(
            name, ctx.settings.release, vcpus, managed_tags(ctx.settings.project), ctx.injected.run_id(),
            interactive))
        ctx.echo(f"application {application['applicationId']} created ({ctx.settings.release}, up to {vcpus} vCPU)")
    ctx.state.add(kinds.SERVERLESS_APPLICATION, str(application["applicationId"]),
                  name=application.get("name", ""))
    return application


def ensure_job_role(ctx: AwsContext, application_arn: str) -> str:
    """The job runtime role, trusted by our application only, with our bucket's prefixes as its
    only permissions (both documents put at every call, so they stay current); its ARN."""
    project = ctx.settings.project
    name = resource_names.serverless_role_name(project)
    trust = serverless_trust_policy(ctx.account_id(), application_arn)
    exists = ctx.sender.attempt(iam.get_role(name), "NoSuchEntity")
    created = False
    if exists and not ctx.dry_run:
        ctx.send(iam.update_trust(name, trust))
    else:
        created = ctx.sender.attempt(iam.create_role(
            name, trust, f"{project}: EMR Serverless job runs, created by bigfruits aws",
            managed_tags(project)), "EntityAlreadyExists") is not None
        if not created:  # made meanwhile by another run: bring its trust up to date
            ctx.send(iam.update_trust(name, trust))
    ctx.state.add(kinds.ROLE, name)
    ctx.send(iam.put_inline_policy(name, name, serverless_job_policy(ctx.bucket())))
    if created and not ctx.dry_run:
        ctx.echo("job runtime role created; giving IAM a few seconds to propagate")
        ctx.injected.sleep(IAM_PROPAGATION_S)
    return role_arn(ctx.account_id(), name)


# --- destroy: job runs cancelled, STOPPED first, then deleted ---------------------------------

#: What an account answers credentials that may not use EMR Serverless (then none was created).
NOT_ALLOWED_CODES = ("AccessDeniedException", "AccessDenied", "UnauthorizedOperation")


def discover_applications(ctx: AwsContext) -> List[str]:
    """Ours, by tags; credentials without EMR Serverless made none, and destroy goes on."""
    try:
        return [str(a["applicationId"]) for a in our_applications(ctx)]
    except AwsError as exc:
        if exc.code not in NOT_ALLOWED_CODES:
            raise
        ctx.echo(f"EMR Serverless applications not listed ({exc.code}): skipped, these credentials may not use it")
        return []


def _wait(ctx: AwsContext, fetch: Any, state_of: Any, done: Tuple[str, ...], what: str) -> Dict[str, Any]:
    return wait_for(fetch, state_of, done, what, STOP_TIMEOUT_S, ctx.injected.poll_interval_s,
                    ctx.injected.sleep, ctx.injected.clock, ctx.echo)


def active_runs(ctx: AwsContext, application_id: str) -> List[Dict[str, Any]]:
    """Its job runs not ended yet (none when the application is gone, or has never run one:
    moto then answers ResourceNotFoundException where AWS lists nothing)."""
    try:
        return list(ctx.sender.paged(serverless.list_job_runs(application_id, serverless.JOB_ACTIVE_STATES),
                                     "jobRuns"))
    except AwsError as exc:
        if exc.code in GONE_CODES:
            return []
        raise


def cancel_active_runs(ctx: AwsContext, application_id: str) -> None:
    """Cancel every job run not ended yet and wait until none is (AWS stops an application
    only once its job runs have ended)."""
    for run in active_runs(ctx, application_id):
        if run.get("state") != "CANCELLING":
            ctx.sender.attempt(serverless.cancel_job_run(application_id, run["id"]), *GONE_CODES)
    if not ctx.dry_run:
        _wait(ctx, lambda: {"left": len(active_runs(ctx, application_id))},
              lambda a: f"{a['left']} not ended" if a["left"] else "none left", ("none left",),
              f"job runs of {application_id}")


def remove_application(ctx: AwsContext, application_id: str) -> None:
    """Cancel its job runs, stop it (STOPPED first: AWS deletes only a CREATED or STOPPED
    application), delete it. Not ours (a stale state file) or gone: left alone."""
    found = ctx.sender.attempt(serverless.get_application(application_id), *GONE_CODES)
    if found is None:
        return
    application = found.get("application", {})
    if application and not tags_match(application.get("tags", {}), ctx.settings.project):
        return
    state = application.get("state")  # None in a dry run (nothing was asked)
    if state == "TERMINATED":
        return
    cancel_active_runs(ctx, application_id)
    fetch = lambda: ctx.send(serverless.get_application(application_id))  # noqa: E731
    state_of = lambda a: str(a.get("application", {}).get("state", "?"))  # noqa: E731
    what = f"application {application_id}"
    if state in serverless.CHANGING_STATES:  # wait until it settles
        state = state_of(_wait(ctx, fetch, state_of, serverless.DELETABLE_STATES + ("STARTED",), what))
    if state not in serverless.DELETABLE_STATES:
        ctx.send(serverless.stop_application(application_id))
        if not ctx.dry_run:
            _wait(ctx, fetch, state_of, serverless.DELETABLE_STATES, what)
    ctx.sender.attempt(serverless.delete_application(application_id), *GONE_CODES)
