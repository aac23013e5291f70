"""EC2 requests for EMR Studio's network: the VPC and subnets, and the two security groups.

Engine group (put on the cluster's master by Studio): TCP 18888 in from the workspace group,
nothing out. Workspace group: TCP 18888 out to the engine group, HTTPS 443 out for Git.
A new group allows all egress by default, so that default rule is revoked on both.
"""
from __future__ import annotations

from typing import Any, Dict, FrozenSet, Iterable, List, Sequence, Set, Tuple

from bigfruits.aws.request import AwsRequest, tag_list
from bigfruits.aws.studio_settings import ENGINE_PORT, MAX_STUDIO_SUBNETS, StudioSettings

Permission = Dict[str, Any]
#: One rule as comparable data: (protocol, from port, to port, peer group or CIDR).
RuleKey = Tuple[str, int, int, str]

_ALLOW_ALL_EGRESS: Permission = {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}


def find_default_vpc_request() -> AwsRequest:
    return AwsRequest("ec2", "DescribeVpcs", {"Filters": [{"Name": "isDefault", "Values": ["true"]}]})


def find_subnets_request(vpc_id: str) -> AwsRequest:
    return AwsRequest("ec2", "DescribeSubnets", {"Filters": [{"Name": "vpc-id", "Values": [vpc_id]}]})


def pick_subnets(subnets: Sequence[Dict[str, Any]]) -> List[str]:
    """Up to five subnets, one per availability zone, in a stable order (same input, same
    Studio): public ones first, since the default VPC's subnets all are."""
    by_zone: Dict[str, str] = {}
    for subnet in sorted(subnets, key=lambda s: (not s.get("MapPublicIpOnLaunch", False),
                                                 s.get("AvailabilityZone", ""), s["SubnetId"])):
        by_zone.setdefault(subnet.get("AvailabilityZone", subnet["SubnetId"]), subnet["SubnetId"])
    return sorted(by_zone.values())[:MAX_STUDIO_SUBNETS]


def find_security_groups_request(settings: StudioSettings, vpc_id: str) -> AwsRequest:
    """Our two groups by name in this VPC; ownership is checked on their tags."""
    return AwsRequest("ec2", "DescribeSecurityGroups", {"Filters": [
        {"Name": "vpc-id", "Values": [vpc_id]},
        {"Name": "group-name", "Values": [settings.workspace_sg_name, settings.engine_sg_name]},
    ]})


def find_tagged_security_groups_request(settings: StudioSettings) -> AwsRequest:
    """For ``destroy``: ours in any VPC, found by the tags alone (no state file needed)."""
    return AwsRequest("ec2", "DescribeSecurityGroups", {"Filters": [
        {"Name": f"tag:{key}", "Values": [value]} for key, value in sorted(settings.tags.items())
    ] + [{"Name": "group-name", "Values": [settings.workspace_sg_name, settings.engine_sg_name]}]})


def create_security_group_request(settings: StudioSettings, name: str, description: str,
                                  vpc_id: str) -> AwsRequest:
    return AwsRequest("ec2", "CreateSecurityGroup", {
        "GroupName": name, "Description": description, "VpcId": vpc_id,
        "TagSpecifications": [{"ResourceType": "security-group",
                               "Tags": tag_list({**settings.security_group_tags, "Name": name})}],
    })


def engine_ingress(workspace_sg: str) -> List[Permission]:
    return [{"IpProtocol": "tcp", "FromPort": ENGINE_PORT, "ToPort": ENGINE_PORT,
             "UserIdGroupPairs": [{"GroupId": workspace_sg,
                                   "Description": "EMR Studio workspaces to the Jupyter gateway"}]}]


def workspace_egress(engine_sg: str) -> List[Permission]:
    return [
        {"IpProtocol": "tcp", "FromPort": ENGINE_PORT, "ToPort": ENGINE_PORT,
         "UserIdGroupPairs": [{"GroupId": engine_sg,
                               "Description": "Jupyter gateway on the cluster (engine group)"}]},
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
         "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "HTTPS to Git repositories"}],
         "Ipv6Ranges": [{"CidrIpv6": "::/0", "Description": "HTTPS to Git repositories"}]},
    ]


def rule_keys(permissions: Iterable[Permission]) -> Set[RuleKey]:
    """Flatten permissions into one key per peer, to compare what exists with what we want."""
    keys: Set[RuleKey] = set()
    for perm in permissions:
        head = (str(perm.get("IpProtocol")), int(perm.get("FromPort", -1)), int(perm.get("ToPort", -1)))
        peers = ([p["GroupId"] for p in perm.get("UserIdGroupPairs", [])]
                 + [r["CidrIp"] for r in perm.get("IpRanges", [])]
                 + [r["CidrIpv6"] for r in perm.get("Ipv6Ranges", [])])
        keys.update(head + (peer,) for peer in peers)
    return keys


def missing_permissions(wanted: List[Permission], existing: Iterable[Permission]) -> List[Permission]:
    """The wanted permissions not yet fully present, so a re-run adds nothing twice
    (EC2 answers a duplicate rule with an error)."""
    have: FrozenSet[RuleKey] = frozenset(rule_keys(existing))
    return [perm for perm in wanted if not rule_keys([perm]) <= have]


def authorize_ingress_request(group_id: str, permissions: List[Permission]) -> AwsRequest:
    return AwsRequest("ec2", "AuthorizeSecurityGroupIngress",
                      {"GroupId": group_id, "IpPermissions": permissions})


def authorize_egress_request(group_id: str, permissions: List[Permission]) -> AwsRequest:
    return AwsRequest("ec2", "AuthorizeSecurityGroupEgress",
                      {"GroupId": group_id, "IpPermissions": permissions})


def revoke_default_egress_request(group_id: str) -> AwsRequest:
    return AwsRequest("ec2", "RevokeSecurityGroupEgress",
                      {"GroupId": group_id, "IpPermissions": [_ALLOW_ALL_EGRESS]})


def has_default_egress(existing_egress: Iterable[Permission]) -> bool:
    return bool(rule_keys([_ALLOW_ALL_EGRESS]) <= rule_keys(existing_egress))


def revoke_cross_references_requests(engine_sg: str, workspace_sg: str) -> List[AwsRequest]:
    """Each group names the other; EC2 refuses to delete a group still referenced, so these
    rules go first."""
    return [
        AwsRequest("ec2", "RevokeSecurityGroupIngress",
                   {"GroupId": engine_sg, "IpPermissions": engine_ingress(workspace_sg)}),
        AwsRequest("ec2", "RevokeSecurityGroupEgress",
                   {"GroupId": workspace_sg, "IpPermissions": workspace_egress(engine_sg)[:1]}),
    ]


def delete_security_group_request(group_id: str) -> AwsRequest:
    return AwsRequest("ec2", "DeleteSecurityGroup", {"GroupId": group_id})
