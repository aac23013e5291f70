"""``bigfruits aws create-studio``, and EMR Studio's resources in ``bigfruits aws destroy``.

Loaded by ``bigfruits.aws.cli`` (its ``EXTENSIONS``): adds the command to the ``aws`` group
and registers the Studio resource kinds with the destroy registry, so the AWS layer's own
files need no Studio code.
"""
from __future__ import annotations

from typing import Any, Dict, Optional, Tuple

import click

from bigfruits.aws.cli import aws, pass_aws
from bigfruits.aws.context import AwsContext
from bigfruits.aws.request import AwsRequest
from bigfruits.aws.resources import ResourceKind, register
from bigfruits.aws.studio import Send, StudioResult, ensure_studio
from bigfruits.aws.studio_destroy import STUDIO_KINDS
from bigfruits.aws.studio_settings import AUTH_MODES, StudioSettings


def studio_send(ctx: AwsContext) -> Send:
    """The AWS layer's sender, seen the way the Studio code expects: in a dry run the request
    is printed and ``None`` comes back (nothing was asked, so nothing was answered)."""

    def send(request: AwsRequest) -> Optional[Dict[str, Any]]:
        answer = ctx.send(request)
        return None if ctx.dry_run else answer

    return send


def studio_settings(ctx: AwsContext, bucket: Optional[str] = None, **choices: Any) -> StudioSettings:
    return StudioSettings(project=ctx.settings.project, bucket=bucket or ctx.bucket(),
                          region=ctx.region, **choices)


def _remember(ctx: AwsContext, settings: StudioSettings, result: StudioResult) -> None:
    """Record what exists in the state file (``destroy`` also finds it by tags without it)."""
    ctx.state.add("studio", result.studio_id, name=settings.studio_name, url=result.url,
                  auth_mode=settings.auth_mode, vpc=result.vpc_id, subnets=result.subnet_ids)
    ctx.state.add("studio-security-group", result.workspace_sg, name=settings.workspace_sg_name)
    ctx.state.add("studio-security-group", result.engine_sg, name=settings.engine_sg_name)
    ctx.state.add("studio-role", settings.service_role_name, arn=result.service_role_arn)
    ctx.state.add("studio-role", settings.user_role_name, arn=result.user_role_arn)
    ctx.state.add("studio-policy", result.user_policy_arn)


@aws.command("create-studio")
@click.option("--name", help="Studio name [<project>-studio].")
@click.option("--auth-mode", type=click.Choice(AUTH_MODES), default="IAM", show_default=True,
              help="IAM: sign in with IAM; SSO: IAM Identity Center users and groups.")
@click.option("--vpc-id", help="VPC for the Studio and the clusters it attaches to [the default VPC].")
@click.option("--subnet-id", "subnet_ids", multiple=True,
              help="Subnet of --vpc-id (repeatable, up to 5) [the VPC's subnets, one per zone].")
@click.option("--idc-instance-arn", help="IAM Identity Center instance (SSO mode) [the account's].")
@click.option("--sso-user", "sso_users", multiple=True, help="Identity Center user to assign (repeatable).")
@click.option("--sso-group", "sso_groups", multiple=True, help="Identity Center group to assign (repeatable).")
@pass_aws()
def create_studio_cmd(ctx: AwsContext, name: Optional[str], auth_mode: str, vpc_id: Optional[str],
                      subnet_ids: Tuple[str, ...], idc_instance_arn: Optional[str],
                      sso_users: Tuple[str, ...], sso_groups: Tuple[str, ...]) -> None:
    """An EMR Studio with its roles and security groups; notebooks kept in s3://<bucket>/studio/
    (idempotent). Prints the Studio URL."""
    settings = studio_settings(ctx, name=name, auth_mode=auth_mode, vpc_id=vpc_id,
                               subnet_ids=tuple(subnet_ids), idc_instance_arn=idc_instance_arn,
                               sso_users=tuple(sso_users), sso_groups=tuple(sso_groups))
    result = ensure_studio(settings, studio_send(ctx), sleep=ctx.injected.sleep)
    _remember(ctx, settings, result)
    for line in result.created:
        ctx.echo(f"created {line}")
    if not result.created:
        ctx.echo(f"EMR Studio {settings.studio_name} already set up")
    ctx.echo(f"Workspaces and notebooks are kept in {settings.default_s3_location}")
    ctx.echo(f"Studio URL: {result.url}")
    if settings.auth_mode == "IAM":
        ctx.echo("Sign in with an IAM identity allowed to open it (e.g. switch to the role "
                 f"{settings.user_role_name}); then attach a cluster made with "
                 "`bigfruits aws create-cluster --flavor studio`.")


def _kind(name: str, order: int, discover: Any, remove: Any) -> ResourceKind:
    def find(ctx: AwsContext) -> list:
        return discover(_destroy_settings(ctx), studio_send(ctx))

    def drop(ctx: AwsContext, resource_id: str) -> None:
        remove(_destroy_settings(ctx), studio_send(ctx), resource_id, ctx.injected.sleep)

    return ResourceKind(name, order, find, drop)


def _destroy_settings(ctx: AwsContext) -> StudioSettings:
    """Finding and removing needs names and tags only, not the bucket: don't look it up."""
    bucket = ctx.settings.bucket or ctx.state.get("bucket") or "<bucket>"
    return studio_settings(ctx, bucket=str(bucket))


for _name, _order, _discover, _remove in STUDIO_KINDS:
    register(_kind(_name, _order, _discover, _remove))
