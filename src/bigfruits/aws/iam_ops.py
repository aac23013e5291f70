"""Making sure the cluster's IAM roles exist (created once, under our path, tagged)."""
from __future__ import annotations

from typing import List

from bigfruits.aws import roles as r
from bigfruits.aws.context import AwsContext
from bigfruits.aws.request import AwsRequest

ROLE_KIND = "iam-role"
INSTANCE_PROFILE_KIND = "instance-profile"
#: IAM is eventually consistent: EMR may not see a brand-new instance profile for a few seconds.
IAM_PROPAGATION_S = 10.0


def _ensure(ctx: AwsContext, role_name: str, creation: List[AwsRequest]) -> bool:
    """Create the role (and what follows it) unless it exists; True if created now."""
    exists = ctx.sender.attempt(r.get_role(role_name), "NoSuchEntity")
    if exists and not ctx.dry_run:
        return False
    for request in creation:
        ctx.sender.attempt(request, "EntityAlreadyExists")
    return True


def ensure_roles(ctx: AwsContext) -> None:
    project = ctx.settings.project
    created = _ensure(ctx, r.service_role_name(project), r.create_service_role(project))
    created |= _ensure(ctx, r.ec2_role_name(project), r.create_ec2_role(project))
    ctx.state.add(ROLE_KIND, r.service_role_name(project))
    ctx.state.add(ROLE_KIND, r.ec2_role_name(project))
    ctx.state.add(INSTANCE_PROFILE_KIND, r.instance_profile_name(project))
    if created and not ctx.dry_run:
        ctx.echo("IAM roles created; giving IAM a few seconds to propagate")
        ctx.injected.sleep(IAM_PROPAGATION_S)
