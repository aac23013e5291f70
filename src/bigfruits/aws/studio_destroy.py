"""Tearing EMR Studio down: for each kind of resource, how to find ours (tags, names, our IAM
path; no state file needed) and how to remove one, tolerating "already gone".

The order AWS allows, and the one ``destroy`` follows: the Studio and its session mappings,
then (once the clusters are gone: Studio puts the engine group on their master) the security
groups, cross-references first, then the roles, then the user policy.
"""
from __future__ import annotations

import time
from typing import Any, Callable, Dict, List, Optional, Tuple

from bigfruits.aws import studio_iam as iam
from bigfruits.aws import studio_network as net
from bigfruits.aws import studio_requests as emr
from bigfruits.aws.request import AwsRequest
from bigfruits.aws.send import error_code
from bigfruits.aws.studio import Send, Sleep, is_ours, paged, retry
from bigfruits.aws.studio_settings import StudioSettings

#: Answers that mean "nothing to remove any more".
GONE_CODES = ("NoSuchEntity", "InvalidGroup.NotFound", "InvalidPermission.NotFound",
              "ResourceNotFoundException")
#: Studio's network interfaces outlive DeleteStudio for a while and keep the groups in use.
IN_USE_CODES = ("DependencyViolation",)


def _unless_gone(send: Send, request: AwsRequest) -> Optional[Dict[str, Any]]:
    try:
        return send(request)
    except Exception as exc:  # noqa: BLE001 - filtered by its AWS code
        if error_code(exc) in GONE_CODES:
            return None
        raise


# --- the Studio -----------------------------------------------------------------------------

def discover_studios(settings: StudioSettings, send: Send) -> List[str]:
    """Every Studio carrying our tags, whatever its name (``--name`` may have changed it).

    A Studio of ours is created after its service role and removed before it, so without that
    role there is none to look for (and accounts, or moto, without EMR Studio are not asked)."""
    if settings.service_role_name not in discover_roles(settings, send):
        return []
    ours = []
    for summary in paged(send, emr.list_studios_request(), "Studios"):
        studio = (send(emr.describe_studio_request(summary["StudioId"])) or {}).get("Studio", {})
        if is_ours(studio.get("Tags", []), settings):
            ours.append(str(summary["StudioId"]))
    return ours


def remove_studio(settings: StudioSettings, send: Send, studio_id: str,
                  sleep: Sleep = time.sleep) -> None:
    """Session mappings first, then the Studio (its workspaces' files stay in S3)."""
    try:
        found = send(emr.describe_studio_request(studio_id))
    except Exception as exc:  # noqa: BLE001 - EMR answers a missing Studio this way
        if error_code(exc) in ("InvalidRequestException",) + GONE_CODES:
            return
        raise
    if found is not None and not is_ours(found.get("Studio", {}).get("Tags", []), settings):
        return
    mappings = (send(emr.list_session_mappings_request(studio_id)) or {}).get("SessionMappings", [])
    for mapping in mappings:
        _unless_gone(send, emr.delete_session_mapping_request(studio_id, mapping))
    send(emr.delete_studio_request(studio_id))


# --- the security groups --------------------------------------------------------------------

def _our_groups(settings: StudioSettings, send: Send) -> List[Dict[str, Any]]:
    answer = send(net.find_tagged_security_groups_request(settings)) or {}
    return [g for g in answer.get("SecurityGroups", []) if is_ours(g.get("Tags", []), settings)]


def discover_security_groups(settings: StudioSettings, send: Send) -> List[str]:
    return [str(group["GroupId"]) for group in _our_groups(settings, send)]


def _references_to(group_id: str, permissions: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """The parts of ``permissions`` whose peer is ``group_id``."""
    found = []
    for perm in permissions:
        pairs = [p for p in perm.get("UserIdGroupPairs", []) if p.get("GroupId") == group_id]
        if pairs:
            kept = {k: perm[k] for k in ("IpProtocol", "FromPort", "ToPort") if k in perm}
            found.append({**kept, "UserIdGroupPairs": [{"GroupId": group_id}]})
    return found


def remove_security_group(settings: StudioSettings, send: Send, group_id: str,
                          sleep: Sleep = time.sleep, attempts: int = 40,
                          wait_s: float = 15.0) -> None:
    """Revoke the rules of our other groups that name this one (EC2 refuses to delete a group
    still referenced), then delete it, waiting while Studio's network interfaces let go."""
    for other in _our_groups(settings, send):
        if other["GroupId"] == group_id:
            continue
        ingress = _references_to(group_id, other.get("IpPermissions", []))
        if ingress:
            _unless_gone(send, AwsRequest("ec2", "RevokeSecurityGroupIngress",
                                          {"GroupId": other["GroupId"], "IpPermissions": ingress}))
        egress = _references_to(group_id, other.get("IpPermissionsEgress", []))
        if egress:
            _unless_gone(send, AwsRequest("ec2", "RevokeSecurityGroupEgress",
                                          {"GroupId": other["GroupId"], "IpPermissions": egress}))
    try:
        retry(send, net.delete_security_group_request(group_id), IN_USE_CODES, sleep,
              attempts, wait_s)
    except Exception as exc:  # noqa: BLE001 - filtered by its AWS code
        if error_code(exc) not in GONE_CODES:
            raise


# --- IAM ------------------------------------------------------------------------------------

def discover_roles(settings: StudioSettings, send: Send) -> List[str]:
    present = {r["RoleName"] for r in paged(send, iam.list_our_roles_request(), "Roles")}
    return [name for name in (settings.user_role_name, settings.service_role_name) if name in present]


def remove_role(settings: StudioSettings, send: Send, role: str,
                sleep: Sleep = time.sleep) -> None:
    """Detach managed policies, delete inline ones, leave instance profiles, delete the role."""
    attached, inline, profiles = (_unless_gone(send, request) or {}
                                  for request in iam.role_dependents_requests(role))
    for request in iam.role_teardown_requests(
            role, [p["PolicyArn"] for p in attached.get("AttachedPolicies", [])],
            list(inline.get("PolicyNames", [])),
            [p["InstanceProfileName"] for p in profiles.get("InstanceProfiles", [])]):
        _unless_gone(send, request)


def discover_policies(settings: StudioSettings, send: Send) -> List[str]:
    return [str(p["Arn"]) for p in paged(send, iam.list_our_policies_request(), "Policies")
            if p["PolicyName"] == settings.user_policy_name]


def remove_policy(settings: StudioSettings, send: Send, arn: str,
                  sleep: Sleep = time.sleep) -> None:
    """Non-default versions first: IAM refuses to delete a policy that still has them."""
    answer = _unless_gone(send, iam.list_policy_versions_request(arn))
    versions = (answer or {}).get("Versions", [])
    for request in iam.policy_teardown_requests(
            arn, [v["VersionId"] for v in versions if not v["IsDefaultVersion"]]):
        _unless_gone(send, request)


#: (kind name in the state file, destroy order, discover, remove). The orders slot between the
#: AWS layer's kinds: Studio before the clusters (10), our groups after the clusters but before
#: the generic security-group kind (30), our roles and policy before the generic roles (60).
Discover = Callable[[StudioSettings, Send], List[str]]
Remove = Callable[[StudioSettings, Send, str, Sleep], None]
STUDIO_KINDS: List[Tuple[str, int, Discover, Remove]] = [
    ("studio", 5, discover_studios, remove_studio),
    ("studio-security-group", 25, discover_security_groups, remove_security_group),
    ("studio-role", 55, discover_roles, remove_role),
    ("studio-policy", 56, discover_policies, remove_policy),
]


def destroy_studio(settings: StudioSettings, send: Send, sleep: Sleep = time.sleep) -> List[str]:
    """Everything above, in order, without the CLI (what ``destroy`` does for these kinds)."""
    removed: List[str] = []
    for name, _order, discover, remove in STUDIO_KINDS:
        for resource_id in discover(settings, send):
            remove(settings, send, resource_id, sleep)
            removed.append(f"{name} {resource_id}")
    return removed
