"""EMR Studio and what it needs: find what exists, create only what is missing (the teardown
is in ``studio_destroy``).

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
from bigfruits.aws.send import error_code
from bigfruits.aws.studio_policies import (policy_arn, role_arn, service_role_policy,
                                           service_trust_policy, user_policy, user_trust_policy)
from bigfruits.aws.studio_settings import StudioSettings
from bigfruits.errors import AwsError, InputError

Send = Callable[[AwsRequest], Optional[Dict[str, Any]]]
Sleep = Callable[[float], None]

#: New IAM roles take a few seconds to be visible to EMR; CreateStudio says so with these codes.
_PROPAGATION_CODES = ("ValidationException", "InvalidRequestException")


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


def retry(send: Send, request: AwsRequest, codes: Tuple[str, ...], sleep: Sleep,
           attempts: int, wait_s: float) -> Optional[Dict[str, Any]]:
    """Send, retrying only on errors that time cures (eventual consistency), a bounded number
    of times; everything else goes straight up."""
    for attempt in range(attempts):
        try:
            return send(request)
        except Exception as exc:  # noqa: BLE001 - filtered by its AWS code just below
            if error_code(exc) not in codes or attempt == attempts - 1:
                raise
            sleep(wait_s)
    return None


def paged(send: Send, request: AwsRequest, key: str) -> Iterator[Dict[str, Any]]:
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


def is_ours(tags: List[Dict[str, str]], settings: StudioSettings) -> bool:
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
            if not is_ours(existing[name].get("Tags", []), settings):
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
    found = {p["PolicyName"]: p for p in paged(send, iam.list_our_policies_request(), "Policies")}
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


def find_studio(settings: StudioSettings, send: Send) -> Optional[Dict[str, Any]]:
    """Our Studio by name; one of that name without our tags means the name is taken."""
    for summary in paged(send, emr.list_studios_request(), "Studios"):
        if summary.get("Name") != settings.studio_name:
            continue
        studio = (send(emr.describe_studio_request(summary["StudioId"])) or {}).get("Studio", {})
        if not is_ours(studio.get("Tags", []), settings):
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

    roles = {r["RoleName"]: r for r in paged(send, iam.list_our_roles_request(), "Roles")}
    service_arn = _role(send, settings.service_role_name,
                        service_trust_policy(account, settings.region),
                        "EMR Studio service role (bigfruits)", roles, settings, account, created)
    send(iam.put_inline_policy_request(settings.service_role_name, settings.service_policy_name,
                                       service_role_policy(settings, vpc_id, subnets)))
    user_arn = _role(send, settings.user_role_name, user_trust_policy(settings, account),
                     "EMR Studio users (bigfruits)", roles, settings, account, created)
    session_policy = _user_policy(settings, send, account, created)
    send(iam.attach_policy_request(settings.user_role_name, session_policy))

    studio = find_studio(settings, send)
    studio_is_new = studio is None
    if studio is None:
        request = emr.create_studio_request(settings, vpc_id, subnets, ws_sg, engine_sg,
                                            service_arn, user_arn)
        # Only freshly created roles can be "not yet valid"; otherwise fail at once.
        attempts = propagation_attempts if any("IAM role" in c for c in created) else 1
        response = retry(send, request, _PROPAGATION_CODES, sleep, attempts,
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
