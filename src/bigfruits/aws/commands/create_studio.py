"""``create-studio``: EMR Studio and what it needs. Find what exists, create only what is
missing, and remember it (the teardown is in ``destroy``).

The builders (``requests/iam``, ``requests/ec2``, ``requests/emr/studio``) say *what* to ask;
this module decides *whether* to ask it, from the answers. In a dry run the sender answers
"nothing exists yet" with placeholders for new ids, so the whole plan is printed.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

from bigfruits.aws.core import kinds
from bigfruits.aws.core.context import AwsContext
from bigfruits.aws.core.settings import StudioSettings
from bigfruits.aws.core.tags import is_ours
from bigfruits.aws.procedures.cluster_network import route_tables
from bigfruits.aws.requests import ec2, iam
from bigfruits.aws.requests.emr import studio as studio_requests
from bigfruits.aws.requests.iam_policies import (service_role_policy, service_trust_policy,
                                                 user_policy, user_trust_policy)
from bigfruits.errors import AwsError, InputError

#: New IAM roles take a few seconds to be visible to EMR; CreateStudio says so with these codes.
PROPAGATION_CODES = ("ValidationException", "InvalidRequestException")


@dataclass
class StudioResult:
    """What ``create-studio`` leaves behind (and records in the state file)."""

    studio_id: str
    url: str
    vpc_id: str
    subnet_ids: List[str]
    workspace_sg: str
    engine_sg: str
    service_role_arn: str
    user_role_arn: str
    user_policy_arn: str
    created: List[str] = field(default_factory=list)


def create_studio(ctx: AwsContext, **choices: Any) -> StudioResult:
    """The command: set the Studio up, remember it, and say how to use it."""
    settings = ctx.studio_settings(**choices)
    result = ensure_studio(ctx, settings)
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
    return result


def _remember(ctx: AwsContext, settings: StudioSettings, result: StudioResult) -> None:
    """Record what exists in the state file (``destroy`` also finds it by tags without it)."""
    ctx.state.add(kinds.STUDIO, result.studio_id, name=settings.studio_name, url=result.url,
                  auth_mode=settings.auth_mode, vpc=result.vpc_id, subnets=result.subnet_ids)
    ctx.state.add(kinds.STUDIO_SECURITY_GROUP, result.workspace_sg, name=settings.workspace_sg_name)
    ctx.state.add(kinds.STUDIO_SECURITY_GROUP, result.engine_sg, name=settings.engine_sg_name)
    ctx.state.add(kinds.STUDIO_ROLE, settings.service_role_name, arn=result.service_role_arn)
    ctx.state.add(kinds.STUDIO_ROLE, settings.user_role_name, arn=result.user_role_arn)
    ctx.state.add(kinds.STUDIO_POLICY, result.user_policy_arn)


def ensure_studio(ctx: AwsContext, settings: StudioSettings, propagation_attempts: int = 8,
                  propagation_wait_s: float = 5.0) -> StudioResult:
    """Create (or find) the roles, security groups and Studio; safe to run again."""
    created: List[str] = []
    account = ctx.sender.account_id()
    vpc_id, subnets = _network(ctx, settings)
    ws_sg, engine_sg = _security_groups(ctx, settings, vpc_id, created)
    service_arn, user_arn, session_policy = _roles(ctx, settings, account, vpc_id, subnets, created)
    studio = find_studio(ctx, settings)
    studio_is_new = studio is None
    if studio is None:
        request = studio_requests.create_studio(settings, vpc_id, subnets, ws_sg, engine_sg,
                                                service_arn, user_arn)
        # Only freshly created roles can be "not yet valid"; otherwise fail at once.
        attempts = propagation_attempts if any("IAM role" in c for c in created) else 1
        studio = ctx.sender.send_retrying(request, lambda exc: exc.code in PROPAGATION_CODES,
                                          (propagation_wait_s,) * (attempts - 1), ctx.injected.sleep)
        created.append(f"EMR Studio {settings.studio_name} ({studio['StudioId']})")
    studio_id = str(studio["StudioId"])
    if settings.auth_mode == "SSO":
        _session_mappings(ctx, settings, studio_id, session_policy, studio_is_new, created)
    return StudioResult(studio_id=studio_id, url=str(studio.get("Url", "")), vpc_id=vpc_id,
                        subnet_ids=subnets, workspace_sg=ws_sg, engine_sg=engine_sg,
                        service_role_arn=service_arn, user_role_arn=user_arn,
                        user_policy_arn=session_policy, created=created)


def _roles(ctx: AwsContext, settings: StudioSettings, account: str, vpc_id: str,
           subnets: List[str], created: List[str]) -> Tuple[str, str, str]:
    """The service role (its inline policy today's), the users' role and their session policy;
    (service role ARN, user role ARN, session policy ARN)."""
    roles = {r["RoleName"]: r for r in ctx.sender.paged(iam.list_our_roles(), "Roles")}
    service_arn = _role(ctx, settings.service_role_name,
                        service_trust_policy(account, settings.region),
                        "EMR Studio service role (bigfruits)", roles, settings, created)
    ctx.send(iam.put_inline_policy(settings.service_role_name, settings.service_policy_name,
                                   service_role_policy(settings, vpc_id, subnets)))
    user_arn = _role(ctx, settings.user_role_name, user_trust_policy(settings, account),
                     "EMR Studio users (bigfruits)", roles, settings, created)
    session_policy = _user_policy(ctx, settings, account, created)
    ctx.send(iam.attach_policy(settings.user_role_name, session_policy))
    return service_arn, user_arn, session_policy


def _session_mappings(ctx: AwsContext, settings: StudioSettings, studio_id: str, session_policy: str,
                      studio_is_new: bool, created: List[str]) -> None:
    """SSO mode: the users and groups given mapped to the Studio (those not mapped yet)."""
    mapped = set()
    if not studio_is_new:
        answer = ctx.send(studio_requests.list_session_mappings(studio_id))
        mapped = {(m["IdentityType"], m.get("IdentityName")) for m in answer.get("SessionMappings", [])}
    for request in studio_requests.create_session_mappings(settings, studio_id, session_policy):
        if (request.params["IdentityType"], request.params["IdentityName"]) not in mapped:
            ctx.send(request)
            created.append(f"session mapping {request.params['IdentityType'].lower()} "
                           f"{request.params['IdentityName']}")


def _network(ctx: AwsContext, settings: StudioSettings) -> Tuple[str, List[str]]:
    if settings.vpc_id:
        vpc_id = settings.vpc_id
    else:
        vpcs = ctx.send(ec2.find_default_vpc()).get("Vpcs")
        if not vpcs:
            raise InputError(f"no default VPC in {settings.region}",
                             "pass --vpc-id and --subnet-id, or create one with "
                             "'aws ec2 create-default-vpc'")
        vpc_id = vpcs[0]["VpcId"]
    if settings.subnet_ids:
        return vpc_id, list(settings.subnet_ids)
    described = ctx.send(ec2.find_subnets(vpc_id)).get("Subnets", [])
    through_nat = frozenset(x["SubnetId"] for x in described
                            if ec2.routes_through_nat(route_tables(ctx, x["SubnetId"], vpc_id)))
    subnets = ec2.pick_subnets(described, through_nat)
    if not subnets:
        raise InputError(f"VPC {vpc_id} has no subnets", "pass --subnet-id (up to 5)")
    return vpc_id, subnets


def _security_groups(ctx: AwsContext, settings: StudioSettings, vpc_id: str,
                     created: List[str]) -> Tuple[str, str]:
    answer = ctx.send(ec2.find_studio_groups(settings, vpc_id))
    existing = {group["GroupName"]: group for group in answer.get("SecurityGroups", [])}
    groups: Dict[str, Dict[str, Any]] = {}
    purposes = {settings.workspace_sg_name: "EMR Studio workspaces (bigfruits)",
                settings.engine_sg_name: "EMR Studio engine on the cluster master (bigfruits)"}
    for name, description in purposes.items():
        if name in existing:
            if not is_ours(existing[name].get("Tags", []), settings.project):
                raise AwsError(f"security group {name} in {vpc_id} exists and is not ours",
                               "delete or rename it, or use another --project")
            groups[name] = existing[name]
            continue
        group_id = ctx.send(ec2.create_studio_group(settings, name, description, vpc_id))["GroupId"]
        created.append(f"security group {name} ({group_id})")
        groups[name] = {"GroupId": group_id, "IpPermissions": [],
                        "IpPermissionsEgress": ec2.default_egress()}
    workspace, engine = groups[settings.workspace_sg_name], groups[settings.engine_sg_name]
    ws_id, engine_id = workspace["GroupId"], engine["GroupId"]
    ingress = ec2.missing_permissions(ec2.engine_ingress(ws_id), engine.get("IpPermissions", []))
    if ingress:
        ctx.send(ec2.authorize_ingress(engine_id, ingress))
    egress = ec2.missing_permissions(ec2.workspace_egress(engine_id),
                                     workspace.get("IpPermissionsEgress", []))
    if egress:
        ctx.send(ec2.authorize_egress(ws_id, egress))
    for group in (workspace, engine):
        if ec2.has_default_egress(group.get("IpPermissionsEgress", [])):
            ctx.send(ec2.revoke_default_egress(group["GroupId"]))
    return ws_id, engine_id


def _role(ctx: AwsContext, name: str, trust: Dict[str, Any], description: str,
          existing_roles: Dict[str, Dict[str, Any]], settings: StudioSettings,
          created: List[str]) -> str:
    """The role's ARN; an existing one of ours gets today's trust policy."""
    if name in existing_roles:
        ctx.send(iam.update_trust(name, trust))
        return str(existing_roles[name]["Arn"])
    response = ctx.send(iam.create_role(name, trust, description, settings.tags))
    created.append(f"IAM role {name}")
    return str(response["Role"]["Arn"])


def _user_policy(ctx: AwsContext, settings: StudioSettings, account: str,
                 created: List[str]) -> str:
    document = user_policy(settings, account)
    found = {p["PolicyName"]: p for p in ctx.sender.paged(iam.list_our_policies(), "Policies")}
    mine = found.get(settings.user_policy_name)
    if mine is None:
        response = ctx.send(iam.create_policy(
            settings.user_policy_name, document, "EMR Studio users (bigfruits)", settings.tags))
        created.append(f"IAM policy {settings.user_policy_name}")
        return str(response["Policy"]["Arn"])
    arn = str(mine["Arn"])
    current = ctx.send(iam.get_policy_version(arn, mine["DefaultVersionId"]))
    if current.get("PolicyVersion", {}).get("Document") != document:
        versions = ctx.send(iam.list_policy_versions(arn)).get("Versions", [])
        for request in iam.delete_policy(
                arn, [v["VersionId"] for v in versions if not v["IsDefaultVersion"]])[:-1]:
            ctx.send(request)
        ctx.send(iam.new_policy_version(arn, document))
    return arn


def find_studio(ctx: AwsContext, settings: StudioSettings) -> Optional[Dict[str, Any]]:
    """Our Studio by name; one of that name without our tags means the name is taken."""
    for summary in ctx.sender.paged(studio_requests.list_studios(), "Studios"):
        if summary.get("Name") != settings.studio_name:
            continue
        studio = ctx.send(studio_requests.describe_studio(summary["StudioId"])).get("Studio", {})
        if not is_ours(studio.get("Tags", []), settings.project):
            raise AwsError(f"an EMR Studio named {settings.studio_name} exists and is not ours",
                           "pass --name to choose another name")
        return studio
    return None
