"""EMR Studio and what it needs: find what exists, create only what is missing, tear down in
dependency order.

The builders (``studio_iam``, ``studio_network``, ``studio_requests``) say *what* to ask; this
module decides *whether* to ask it, from the answers. ``send`` performs one request and returns
botocore's response, or ``None`` when nothing was sent (``--dry-run``): then lookups find
nothing and placeholders stand for the ids AWS would return, so the whole plan is printed.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

from bigfruits.aws import studio_iam as iam
from bigfruits.aws import studio_network as net
from bigfruits.aws import studio_requests as emr
from bigfruits.aws.request import AwsRequest
from bigfruits.aws.studio_policies import (policy_arn, role_arn, service_role_policy,
                                           service_trust_policy, user_policy, user_trust_policy)
from bigfruits.aws.studio_settings import StudioSettings
from bigfruits.errors import AwsError, InputError

Send = Callable[[AwsRequest], Optional[Dict[str, Any]]]
Sleep = Callable[[float], None]

#: New IAM roles take a few seconds to be visible to EMR; CreateStudio says so with these codes.
_PROPAGATION_CODES = ("ValidationException", "InvalidRequestException")
#: Studio's network interfaces outlive DeleteStudio for a while and keep the groups in use.
_IN_USE_CODES = ("DependencyViolation",)


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


def aws_error_code(exc: BaseException) -> Optional[str]:
    """The AWS error code behind ``exc``, looking through ``raise ... from`` chains (the
    sender may wrap botocore's ClientError in our AwsError)."""
    seen = 0
    current: Optional[BaseException] = exc
    while current is not None and seen < 5:
        response = getattr(current, "response", None)
        if isinstance(response, dict) and response.get("Error", {}).get("Code"):
            return str(response["Error"]["Code"])
        code = getattr(current, "code", None)
        if isinstance(code, str):
            return code
        current = current.__cause__ or current.__context__
        seen += 1
    return None


def _retry(send: Send, request: AwsRequest, codes: Tuple[str, ...], sleep: Sleep,
           attempts: int, wait_s: float) -> Optional[Dict[str, Any]]:
    """Send, retrying only on errors that time cures (eventual consistency), a bounded number
    of times; everything else goes straight up."""
    for attempt in range(attempts):
        try:
            return send(request)
        except Exception as exc:  # noqa: BLE001 - filtered by its AWS code just below
            if aws_error_code(exc) not in codes or attempt == attempts - 1:
                raise
            sleep(wait_s)
    return None


def _paged(send: Send, request: AwsRequest, key: str) -> Iterator[Dict[str, Any]]:
    """All items of a Marker-paginated IAM/EMR listing."""
    params = dict(request.params)
    while True:
        response = send(AwsRequest(request.service, request.operation, params))
        if response is None:
            return
        yield from response.get(key, [])
        if not response.get("Marker") or not response.get("IsTruncated", True):
            return
        params = {**params, "Marker": response["Marker"]}


def _is_ours(tags: List[Dict[str, str]], settings: StudioSettings) -> bool:
    present = {tag["Key"]: tag["Value"] for tag in tags}
    return all(present.get(key) == value for key, value in settings.tags.items())


# --- create ---------------------------------------------------------------------------------

def _network(settings: StudioSettings, send: Send) -> Tuple[str, List[str]]:
    if settings.vpc_id:
        vpc_id = settings.vpc_id
    else:
        answer = send(net.find_default_vpc_request())
        if answer is None:
            vpc_id = "<default-vpc-id>"
        elif not answer.get("Vpcs"):
            raise InputError(f"no default VPC in {settings.region}",
                             "pass --vpc-id and --subnet-id, or create one with "
                             "'aws ec2 create-default-vpc'")
        else:
            vpc_id = answer["Vpcs"][0]["VpcId"]
    if settings.subnet_ids:
        return vpc_id, list(settings.subnet_ids)
    answer = send(net.find_subnets_request(vpc_id))
    if answer is None:
        return vpc_id, ["<subnet-ids-of-the-vpc>"]
    subnets = net.pick_subnets(answer.get("Subnets", []))
    if not subnets:
        raise InputError(f"VPC {vpc_id} has no subnets", "pass --subnet-id (up to 5)")
    return vpc_id, subnets


def _security_groups(settings: StudioSettings, send: Send, vpc_id: str,
                     created: List[str]) -> Tuple[str, str]:
    answer = send(net.find_security_groups_request(settings, vpc_id)) or {}
    existing = {group["GroupName"]: group for group in answer.get("SecurityGroups", [])}
    groups: Dict[str, Dict[str, Any]] = {}
    purposes = {settings.workspace_sg_name: "EMR Studio workspaces (bigfruits)",
                settings.engine_sg_name: "EMR Studio engine on the cluster master (bigfruits)"}
    for name, description in purposes.items():
        if name in existing:
            if not _is_ours(existing[name].get("Tags", []), settings):
                raise AwsError(f"security group {name} in {vpc_id} exists and is not ours",
                               "delete or rename it, or use another --project")
            groups[name] = existing[name]
            continue
        response = send(net.create_security_group_request(settings, name, description, vpc_id))
        group_id = (response or {}).get("GroupId", f"<sg-id of {name}>")
        created.append(f"security group {name} ({group_id})")
        groups[name] = {"GroupId": group_id, "IpPermissions": [],
                        "IpPermissionsEgress": [{"IpProtocol": "-1",
                                                 "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]}
    workspace, engine = groups[settings.workspace_sg_name], groups[settings.engine_sg_name]
    ws_id, engine_id = workspace["GroupId"], engine["GroupId"]
    ingress = net.missing_permissions(net.engine_ingress(ws_id), engine.get("IpPermissions", []))
    if ingress:
        send(net.authorize_ingress_request(engine_id, ingress))
    egress = net.missing_permissions(net.workspace_egress(engine_id),
                                     workspace.get("IpPermissionsEgress", []))
    if egress:
        send(net.authorize_egress_request(ws_id, egress))
    for group in (workspace, engine):
        if net.has_default_egress(group.get("IpPermissionsEgress", [])):
            send(net.revoke_default_egress_request(group["GroupId"]))
    return ws_id, engine_id


def _role(send: Send, name: str, trust: Dict[str, Any], description: str,
          existing_roles: Dict[str, Dict[str, Any]], settings: StudioSettings, account: str,
          created: List[str]) -> str:
    """The role's ARN; an existing one of ours gets today's trust policy."""
    if name in existing_roles:
        send(iam.update_trust_request(name, trust))
        return str(existing_roles[name]["Arn"])
    response = send(iam.create_role_request(name, trust, description, settings.tags))
    created.append(f"IAM role {name}")
    return str((response or {}).get("Role", {}).get("Arn") or role_arn(account, name))


def _user_policy(settings: StudioSettings, send: Send, account: str,
                 created: List[str]) -> str:
    document = user_policy(settings, account)
    found = {p["PolicyName"]: p for p in _paged(send, iam.list_our_policies_request(), "Policies")}
    mine = found.get(settings.user_policy_name)
    if mine is None:
        response = send(iam.create_policy_request(
            settings.user_policy_name, document, "EMR Studio users (bigfruits)", settings.tags))
        created.append(f"IAM policy {settings.user_policy_name}")
        return str((response or {}).get("Policy", {}).get("Arn")
                   or policy_arn(account, settings.user_policy_name))
    arn = str(mine["Arn"])
    current = send(AwsRequest("iam", "GetPolicyVersion",
                              {"PolicyArn": arn, "VersionId": mine["DefaultVersionId"]})) or {}
    if current.get("PolicyVersion", {}).get("Document") != document:
        versions = (send(iam.list_policy_versions_request(arn)) or {}).get("Versions", [])
        for request in iam.policy_teardown_requests(
                arn, [v["VersionId"] for v in versions if not v["IsDefaultVersion"]])[:-1]:
            send(request)
        send(iam.new_policy_version_request(arn, document))
    return arn


def _find_studio(settings: StudioSettings, send: Send,
                 foreign_is_error: bool = True) -> Optional[Dict[str, Any]]:
    """Our Studio by name. One of that name without our tags is never a match: an error when
    creating (the name is taken), left alone when destroying."""
    for summary in _paged(send, emr.list_studios_request(), "Studios"):
        if summary.get("Name") != settings.studio_name:
            continue
        studio = (send(emr.describe_studio_request(summary["StudioId"])) or {}).get("Studio", {})
        if not _is_ours(studio.get("Tags", []), settings):
            if not foreign_is_error:
                continue
            raise AwsError(f"an EMR Studio named {settings.studio_name} exists and is not ours",
                           "pass --name to choose another name")
        return studio
    return None


def ensure_studio(settings: StudioSettings, send: Send, sleep: Sleep = time.sleep,
                  propagation_attempts: int = 8, propagation_wait_s: float = 5.0) -> StudioResult:
    """Create (or find) the roles, security groups and Studio; safe to run again."""
    created: List[str] = []
    identity = send(iam.caller_identity_request())
    account = str(identity["Account"]) if identity else "<account-id>"
    vpc_id, subnets = _network(settings, send)
    ws_sg, engine_sg = _security_groups(settings, send, vpc_id, created)

    roles = {r["RoleName"]: r for r in _paged(send, iam.list_our_roles_request(), "Roles")}
    service_arn = _role(send, settings.service_role_name,
                        service_trust_policy(account, settings.region),
                        "EMR Studio service role (bigfruits)", roles, settings, account, created)
    send(iam.put_inline_policy_request(settings.service_role_name, settings.service_policy_name,
                                       service_role_policy(settings, vpc_id, subnets)))
    user_arn = _role(send, settings.user_role_name, user_trust_policy(settings, account),
                     "EMR Studio users (bigfruits)", roles, settings, account, created)
    session_policy = _user_policy(settings, send, account, created)
    send(iam.attach_policy_request(settings.user_role_name, session_policy))

    studio = _find_studio(settings, send)
    studio_is_new = studio is None
    if studio is None:
        request = emr.create_studio_request(settings, vpc_id, subnets, ws_sg, engine_sg,
                                            service_arn, user_arn)
        # Only freshly created roles can be "not yet valid"; otherwise fail at once.
        attempts = propagation_attempts if any("IAM role" in c for c in created) else 1
        response = _retry(send, request, _PROPAGATION_CODES, sleep, attempts,
                          propagation_wait_s) or {}
        studio = {"StudioId": response.get("StudioId", "<studio-id>"),
                  "Url": response.get("Url", "<studio-url>")}
        created.append(f"EMR Studio {settings.studio_name} ({studio['StudioId']})")
    studio_id = str(studio["StudioId"])

    if settings.auth_mode == "SSO":
        mapped = set()
        if not studio_is_new:
            answer = send(emr.list_session_mappings_request(studio_id)) or {}
            mapped = {(m["IdentityType"], m.get("IdentityName"))
                      for m in answer.get("SessionMappings", [])}
        for request in emr.session_mapping_requests(settings, studio_id, session_policy):
            if (request.params["IdentityType"], request.params["IdentityName"]) not in mapped:
                send(request)
                created.append(f"session mapping {request.params['IdentityType'].lower()} "
                               f"{request.params['IdentityName']}")
    return StudioResult(studio_id=studio_id, url=str(studio.get("Url", "")), vpc_id=vpc_id,
                        subnet_ids=subnets, workspace_sg=ws_sg, engine_sg=engine_sg,
                        service_role_arn=service_arn, user_role_arn=user_arn,
                        user_policy_arn=session_policy, created=created)


# --- destroy --------------------------------------------------------------------------------

def _destroy_studio_itself(settings: StudioSettings, send: Send, removed: List[str]) -> None:
    studio = _find_studio(settings, send, foreign_is_error=False)
    if studio is None:
        return
    studio_id = studio["StudioId"]
    mappings = (send(emr.list_session_mappings_request(studio_id)) or {}).get("SessionMappings", [])
    for mapping in mappings:
        send(emr.delete_session_mapping_request(studio_id, mapping))
        removed.append(f"session mapping {mapping.get('IdentityName', mapping['IdentityId'])}")
    send(emr.delete_studio_request(studio_id))
    removed.append(f"EMR Studio {settings.studio_name} ({studio_id})")


def _destroy_security_groups(settings: StudioSettings, send: Send, sleep: Sleep,
                             removed: List[str], attempts: int, wait_s: float) -> None:
    answer = send(net.find_tagged_security_groups_request(settings)) or {}
    by_vpc: Dict[str, Dict[str, Dict[str, Any]]] = {}
    for group in answer.get("SecurityGroups", []):
        if _is_ours(group.get("Tags", []), settings):
            by_vpc.setdefault(group.get("VpcId", ""), {})[group["GroupName"]] = group
    for groups in by_vpc.values():
        workspace = groups.get(settings.workspace_sg_name)
        engine = groups.get(settings.engine_sg_name)
        if workspace and engine:
            revoke_ingress, revoke_egress = net.revoke_cross_references_requests(
                engine["GroupId"], workspace["GroupId"])
            if net.rule_keys(engine.get("IpPermissions", [])) & net.rule_keys(
                    revoke_ingress.params["IpPermissions"]):
                send(revoke_ingress)
            if net.rule_keys(workspace.get("IpPermissionsEgress", [])) & net.rule_keys(
                    revoke_egress.params["IpPermissions"]):
                send(revoke_egress)
        for group in (workspace, engine):
            if group:
                _retry(send, net.delete_security_group_request(group["GroupId"]), _IN_USE_CODES,
                       sleep, attempts, wait_s)
                removed.append(f"security group {group['GroupName']} ({group['GroupId']})")


def _destroy_iam(settings: StudioSettings, send: Send, removed: List[str]) -> None:
    roles = {r["RoleName"] for r in _paged(send, iam.list_our_roles_request(), "Roles")}
    for role in (settings.user_role_name, settings.service_role_name):
        if role not in roles:
            continue
        attached, inline, profiles = (send(r) or {} for r in iam.role_dependents_requests(role))
        for request in iam.role_teardown_requests(
                role, [p["PolicyArn"] for p in attached.get("AttachedPolicies", [])],
                list(inline.get("PolicyNames", [])),
                [p["InstanceProfileName"] for p in profiles.get("InstanceProfiles", [])]):
            send(request)
        removed.append(f"IAM role {role}")
    for policy in _paged(send, iam.list_our_policies_request(), "Policies"):
        if policy["PolicyName"] != settings.user_policy_name:
            continue
        versions = (send(iam.list_policy_versions_request(policy["Arn"])) or {}).get("Versions", [])
        for request in iam.policy_teardown_requests(
                policy["Arn"], [v["VersionId"] for v in versions if not v["IsDefaultVersion"]]):
            send(request)
        removed.append(f"IAM policy {policy['PolicyName']}")


def destroy_studio(settings: StudioSettings, send: Send, sleep: Sleep = time.sleep,
                   in_use_attempts: int = 40, in_use_wait_s: float = 15.0) -> List[str]:
    """Remove our Studio resources, found by name and tags (no state file needed), in the order
    AWS allows: Studio (and its mappings), then security groups, then roles and the policy.
    Run it after the clusters are terminated: Studio puts the engine group on their master."""
    removed: List[str] = []
    _destroy_studio_itself(settings, send, removed)
    _destroy_security_groups(settings, send, sleep, removed, in_use_attempts, in_use_wait_s)
    _destroy_iam(settings, send, removed)
    return removed
