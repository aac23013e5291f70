"""The cluster's IAM roles: EMR's service role (``AmazonEMRServicePolicy_v2`` plus passing our
node role) and the nodes' role and instance profile (our bucket only), created once under our
IAM path and brought up to date at every launch."""
from __future__ import annotations

from typing import List

from bigfruits.aws.core import kinds, resource_names
from bigfruits.aws.core.context import AwsContext
from bigfruits.aws.core.request import AwsRequest
from bigfruits.aws.requests import iam

#: IAM is eventually consistent: EMR may not see a brand-new instance profile for a few seconds.
IAM_PROPAGATION_S = 10.0


def _ensure_role(ctx: AwsContext, role_name: str, creation: List[AwsRequest]) -> bool:
    """Create the role (and what follows it) unless it exists; True if created now."""
    exists = ctx.sender.attempt(iam.get_role(role_name), "NoSuchEntity")
    if exists and not ctx.dry_run:
        return False
    for request in creation:
        ctx.sender.attempt(request, "EntityAlreadyExists")
    return True


def ensure_roles(ctx: AwsContext) -> None:
    """The cluster's service role and EC2 instance profile, created once, under our path."""
    project, account = ctx.settings.project, ctx.account_id()
    created = _ensure_role(ctx, resource_names.service_role_name(project), iam.create_service_role(project, account))
    created |= _ensure_role(ctx, resource_names.node_role_name(project), iam.create_ec2_role(project))
    trust, attach_v2, pass_role, detach_v1 = iam.service_role_policies(project, account)
    ctx.send(trust)  # a role an older version made gets aws:SourceAccount/SourceArn too
    ctx.send(attach_v2)
    ctx.send(pass_role)
    ctx.sender.attempt(detach_v1, "NoSuchEntity")
    put_policy, detach_old = iam.put_node_policy(project, ctx.bucket())
    ctx.send(put_policy)
    ctx.sender.attempt(detach_old, "NoSuchEntity")
    ctx.state.add(kinds.ROLE, resource_names.service_role_name(project))
    ctx.state.add(kinds.ROLE, resource_names.node_role_name(project))
    ctx.state.add(kinds.INSTANCE_PROFILE, resource_names.instance_profile_name(project))
    if created and not ctx.dry_run:
        ctx.echo("IAM roles created; giving IAM a few seconds to propagate")
        ctx.injected.sleep(IAM_PROPAGATION_S)
