"""EC2 requests: the VPC and subnets, security groups and their rules, the key pair.

Two kinds of security groups are ours. The SSH group: EMR creates and owns its managed groups
(ElasticMapReduce-master/-slave); we add one group of ours as an *additional* master group, so
opening and closing port 22 never touches EMR's. EMR Studio's pair: the engine group (put on the
cluster's master by Studio) lets TCP 18888 in from the workspace group and nothing out; the
workspace group lets TCP 18888 out to the engine group and HTTPS 443 out for Git. A new group
allows all egress by default, so that default rule is revoked on both.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, FrozenSet, Iterable, List, Sequence, Set, Tuple

from bigfruits.aws.core.request import AwsRequest
from bigfruits.aws.core.resource_names import ssh_group_name
from bigfruits.aws.core.settings import MAX_STUDIO_SUBNETS, StudioSettings
from bigfruits.aws.core.tags import EMR_MANAGED_POLICIES_TAG, managed_tags, ours_filters, tag_dict, tag_list

Permission = Dict[str, Any]
#: One rule as comparable data: (protocol, from port, to port, peer group or CIDR).
RuleKey = Tuple[str, int, int, str]

SSH_PORT = 22
#: The port the workspace talks to the cluster's Jupyter Enterprise Gateway on.
ENGINE_PORT = 18888
_ALLOW_ALL_EGRESS: Permission = {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}


# --- VPC and subnets ------------------------------------------------------------------------

def find_default_vpc() -> AwsRequest:
    return AwsRequest("ec2", "DescribeVpcs", {"Filters": [{"Name": "isDefault", "Values": ["true"]}]})


def describe_subnet(subnet_id: str) -> AwsRequest:
    return AwsRequest("ec2", "DescribeSubnets", {"SubnetIds": [subnet_id]})


def find_subnets(vpc_id: str) -> AwsRequest:
    return AwsRequest("ec2", "DescribeSubnets", {"Filters": [{"Name": "vpc-id", "Values": [vpc_id]}]})


def pick_subnets(subnets: Sequence[Dict[str, Any]],
                 through_nat: FrozenSet[str] = frozenset()) -> List[str]:
    """Up to five subnets for a Studio, one per availability zone, in a stable order (same
    input, same Studio): private subnets routing through a NAT gateway first, since only from
    those can a Workspace reach public Git repositories
    (https://docs.aws.amazon.com/emr/latest/ManagementGuide/emr-studio-considerations.html);
    then public ones (all of the default VPC's are); other private subnets last."""
    def rank(subnet: Dict[str, Any]) -> int:
        if subnet["SubnetId"] in through_nat and not subnet.get("MapPublicIpOnLaunch", False):
            return 0
        return 1 if subnet.get("MapPublicIpOnLaunch", False) else 2

    by_zone: Dict[str, str] = {}
    for subnet in sorted(subnets, key=lambda s: (rank(s), s.get("AvailabilityZone", ""), s["SubnetId"])):
        by_zone.setdefault(subnet.get("AvailabilityZone", subnet["SubnetId"]), subnet["SubnetId"])
    return list(by_zone.values())[:MAX_STUDIO_SUBNETS]  # the preferred kind stays first


def cluster_subnet(subnets: Sequence[Dict[str, Any]]) -> str:
    """The subnet a cluster starts in when none is given: the default VPC's default subnet of
    the first zone by name (EMR would pick one itself, but the subnet it uses must carry the
    tag ``AmazonEMRServicePolicy_v2`` asks for, so we must know which)."""
    ranked = sorted(subnets, key=lambda s: (not s.get("DefaultForAz", False),
                                            s.get("AvailabilityZone", ""), s["SubnetId"]))
    return str(ranked[0]["SubnetId"])


def route_tables_of_subnet(subnet_id: str) -> AwsRequest:
    """The route table explicitly associated with the subnet (none: the VPC's main one applies)."""
    return AwsRequest("ec2", "DescribeRouteTables",
                      {"Filters": [{"Name": "association.subnet-id", "Values": [subnet_id]}]})


def main_route_table(vpc_id: str) -> AwsRequest:
    return AwsRequest("ec2", "DescribeRouteTables", {"Filters": [
        {"Name": "vpc-id", "Values": [vpc_id]}, {"Name": "association.main", "Values": ["true"]}]})


def reaches_internet(route_tables: Sequence[Dict[str, Any]]) -> bool:
    """A default route (0.0.0.0/0) to an internet gateway (public subnet) or a NAT gateway
    (private subnet with outbound access): what the bootstrap needs to install packages."""
    for table in route_tables:
        for route in table.get("Routes", []):
            if route.get("DestinationCidrBlock") != "0.0.0.0/0" or route.get("State") == "blackhole":
                continue
            if str(route.get("GatewayId", "")).startswith("igw-") or \
                    str(route.get("NatGatewayId", "")).startswith("nat-"):
                return True
    return False


def routes_through_nat(route_tables: Sequence[Dict[str, Any]]) -> bool:
    """A default route (0.0.0.0/0) to a NAT gateway: a private subnet with outbound access."""
    return any(route.get("DestinationCidrBlock") == "0.0.0.0/0" and route.get("State") != "blackhole"
               and str(route.get("NatGatewayId", "")).startswith("nat-")
               for table in route_tables for route in table.get("Routes", []))


# --- the tag AmazonEMRServicePolicy_v2 needs on what EMR uses but we did not create ----------

#: The security groups EMR creates itself in a VPC (public and private subnets), which v2 may
#: use only once tagged (https://docs.aws.amazon.com/emr/latest/ManagementGuide/emr-managed-iam-policies.html).
EMR_DEFAULT_GROUP_NAMES = ("ElasticMapReduce-master", "ElasticMapReduce-slave",
                           "ElasticMapReduce-Master-Private", "ElasticMapReduce-Slave-Private",
                           "ElasticMapReduce-ServiceAccess")
_EMR_TAG = {EMR_MANAGED_POLICIES_TAG: "true"}


def describe_vpc(vpc_id: str) -> AwsRequest:
    return AwsRequest("ec2", "DescribeVpcs", {"VpcIds": [vpc_id]})


def find_emr_default_groups(vpc_id: str) -> AwsRequest:
    return AwsRequest("ec2", "DescribeSecurityGroups", {"Filters": [
        {"Name": "vpc-id", "Values": [vpc_id]},
        {"Name": "group-name", "Values": list(EMR_DEFAULT_GROUP_NAMES)},
    ]})


def lacks_emr_tag(resource: Dict[str, Any]) -> bool:
    """A described VPC, subnet or group without ``for-use-with-amazon-emr-managed-policies=true``."""
    return tag_dict(resource.get("Tags", [])).get(EMR_MANAGED_POLICIES_TAG) != "true"


def add_emr_tag(resource_ids: Sequence[str]) -> AwsRequest:
    return AwsRequest("ec2", "CreateTags", {"Resources": list(resource_ids), "Tags": tag_list(_EMR_TAG)})


def remove_emr_tag(resource_ids: Sequence[str]) -> AwsRequest:
    """Only the tag we added, and only with our value (DeleteTags matches Key and Value)."""
    return AwsRequest("ec2", "DeleteTags", {"Resources": list(resource_ids), "Tags": tag_list(_EMR_TAG)})


# --- security groups ------------------------------------------------------------------------

def create_security_group(name: str, description: str, vpc_id: str,
                          tags: Dict[str, str]) -> AwsRequest:
    return AwsRequest("ec2", "CreateSecurityGroup", {
        "GroupName": name, "Description": description, "VpcId": vpc_id,
        "TagSpecifications": [{"ResourceType": "security-group", "Tags": tag_list(tags)}],
    })


def find_our_groups(project: str) -> AwsRequest:
    return AwsRequest("ec2", "DescribeSecurityGroups", {"Filters": ours_filters(project)})


def delete_security_group(group_id: str) -> AwsRequest:
    return AwsRequest("ec2", "DeleteSecurityGroup", {"GroupId": group_id})


def security_group_rules(operation: str) -> Callable[[str, List[Permission]], AwsRequest]:
    """The four rule operations take the same shape: a group and its permissions."""
    def build(group_id: str, permissions: List[Permission]) -> AwsRequest:
        return AwsRequest("ec2", operation, {"GroupId": group_id, "IpPermissions": permissions})
    return build


authorize_ingress = security_group_rules("AuthorizeSecurityGroupIngress")
revoke_ingress = security_group_rules("RevokeSecurityGroupIngress")
authorize_egress = security_group_rules("AuthorizeSecurityGroupEgress")
revoke_egress = security_group_rules("RevokeSecurityGroupEgress")


# --- the SSH group and its port-22 rule -----------------------------------------------------

def ssh_group_description(project: str) -> str:
    """EC2 takes only a-zA-Z0-9, spaces and ._-:/()#,@[]+=&;{}!$* here (no apostrophe):
    https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateSecurityGroup.html"""
    return f"{project}: SSH to the EMR master from the operator IP only"


def create_ssh_group(project: str, vpc_id: str) -> AwsRequest:
    """Ours, and tagged for ``AmazonEMRServicePolicy_v2`` (an additional master group EMR uses)."""
    return create_security_group(ssh_group_name(project), ssh_group_description(project),
                                 vpc_id, {**managed_tags(project), **_EMR_TAG})


def ssh_permission(cidr: str) -> List[Permission]:
    return [{"IpProtocol": "tcp", "FromPort": SSH_PORT, "ToPort": SSH_PORT,
             "IpRanges": [{"CidrIp": cidr, "Description": "bigfruits connect"}]}]


def caller_cidr(ip: str) -> str:
    """One address only: never open SSH to a range."""
    return f"{ip}/32"


def open_ssh(group_id: str, ip: str) -> AwsRequest:
    return authorize_ingress(group_id, ssh_permission(caller_cidr(ip)))


def close_ssh(group_id: str, cidr: str) -> AwsRequest:
    return revoke_ingress(group_id, ssh_permission(cidr))


def ssh_cidrs(group: Dict[str, Any]) -> List[str]:
    """The CIDRs a described group lets in on port 22 (to close them all at terminate)."""
    cidrs: List[str] = []
    for perm in group.get("IpPermissions", []) or []:
        if perm.get("FromPort") == SSH_PORT and perm.get("ToPort") == SSH_PORT:
            cidrs += [r["CidrIp"] for r in perm.get("IpRanges", [])]
    return cidrs


# --- EMR Studio's two groups ----------------------------------------------------------------

def find_studio_groups(settings: StudioSettings, vpc_id: str) -> AwsRequest:
    """Our two groups by name in this VPC; ownership is checked on their tags."""
    return AwsRequest("ec2", "DescribeSecurityGroups", {"Filters": [
        {"Name": "vpc-id", "Values": [vpc_id]},
        {"Name": "group-name", "Values": [settings.workspace_sg_name, settings.engine_sg_name]},
    ]})


def find_tagged_studio_groups(settings: StudioSettings) -> AwsRequest:
    """For ``destroy``: ours in any VPC, found by the tags alone (no state file needed)."""
    return AwsRequest("ec2", "DescribeSecurityGroups", {"Filters": [
        {"Name": f"tag:{key}", "Values": [value]} for key, value in sorted(settings.tags.items())
    ] + [{"Name": "group-name", "Values": [settings.workspace_sg_name, settings.engine_sg_name]}]})


def create_studio_group(settings: StudioSettings, name: str, description: str,
                        vpc_id: str) -> AwsRequest:
    return create_security_group(name, description, vpc_id,
                                 {**settings.security_group_tags, "Name": name})


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


def default_egress() -> List[Permission]:
    """The allow-all egress rule EC2 gives every new group."""
    return [dict(_ALLOW_ALL_EGRESS)]


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


def revoke_default_egress(group_id: str) -> AwsRequest:
    return revoke_egress(group_id, [_ALLOW_ALL_EGRESS])


def has_default_egress(existing_egress: Iterable[Permission]) -> bool:
    return bool(rule_keys([_ALLOW_ALL_EGRESS]) <= rule_keys(existing_egress))


# --- the key pair used to reach the master over SSH -----------------------------------------

def create_key_pair(name: str, project: str) -> AwsRequest:
    return AwsRequest("ec2", "CreateKeyPair", {
        "KeyName": name, "KeyType": "rsa", "KeyFormat": "pem",
        "TagSpecifications": [{"ResourceType": "key-pair", "Tags": tag_list(managed_tags(project))}],
    })


def describe_key_pair(name: str) -> AwsRequest:
    return AwsRequest("ec2", "DescribeKeyPairs", {"Filters": [{"Name": "key-name", "Values": [name]}]})


def find_our_key_pairs(project: str) -> AwsRequest:
    return AwsRequest("ec2", "DescribeKeyPairs", {"Filters": ours_filters(project)})


def delete_key_pair(name: str) -> AwsRequest:
    return AwsRequest("ec2", "DeleteKeyPair", {"KeyName": name})
