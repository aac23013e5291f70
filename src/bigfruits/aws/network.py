"""Our own security group for SSH to the master node, and its port-22 rule, as requests.

EMR creates and owns its managed groups (ElasticMapReduce-master/-slave); we only add one
group of ours as an *additional* master group, so opening and closing SSH never touches EMR's.
"""
from __future__ import annotations

from typing import Dict, List

from bigfruits.aws.request import AwsRequest, managed_tags, tag_list
from bigfruits.aws.tags import ours_filters

SSH_PORT = 22


def ssh_group_name(project: str) -> str:
    return f"{project}-ssh"


def find_default_vpc() -> AwsRequest:
    return AwsRequest("ec2", "DescribeVpcs", {"Filters": [{"Name": "isDefault", "Values": ["true"]}]})


def describe_subnet(subnet_id: str) -> AwsRequest:
    return AwsRequest("ec2", "DescribeSubnets", {"SubnetIds": [subnet_id]})


def create_ssh_group(project: str, vpc_id: str) -> AwsRequest:
    return AwsRequest(
        "ec2",
        "CreateSecurityGroup",
        {
            "GroupName": ssh_group_name(project),
            "Description": f"{project}: SSH to the EMR master from the operator's IP only",
            "VpcId": vpc_id,
            "TagSpecifications": [
                {"ResourceType": "security-group", "Tags": tag_list(managed_tags(project))}
            ],
        },
    )


def find_our_groups(project: str) -> AwsRequest:
    return AwsRequest("ec2", "DescribeSecurityGroups", {"Filters": ours_filters(project)})


def ssh_permission(cidr: str) -> List[Dict[str, object]]:
    return [
        {
            "IpProtocol": "tcp",
            "FromPort": SSH_PORT,
            "ToPort": SSH_PORT,
            "IpRanges": [{"CidrIp": cidr, "Description": "bigfruits connect"}],
        }
    ]


def caller_cidr(ip: str) -> str:
    """One address only: never open SSH to a range."""
    return f"{ip}/32"


def open_ssh(group_id: str, ip: str) -> AwsRequest:
    return AwsRequest(
        "ec2",
        "AuthorizeSecurityGroupIngress",
        {"GroupId": group_id, "IpPermissions": ssh_permission(caller_cidr(ip))},
    )


def close_ssh(group_id: str, cidr: str) -> AwsRequest:
    return AwsRequest(
        "ec2",
        "RevokeSecurityGroupIngress",
        {"GroupId": group_id, "IpPermissions": ssh_permission(cidr)},
    )


def delete_group(group_id: str) -> AwsRequest:
    return AwsRequest("ec2", "DeleteSecurityGroup", {"GroupId": group_id})


def ssh_cidrs(group: Dict[str, object]) -> List[str]:
    """The CIDRs a described group lets in on port 22 (to close them all at terminate)."""
    cidrs: List[str] = []
    for perm in group.get("IpPermissions", []) or []:  # type: ignore[union-attr]
        if perm.get("FromPort") == SSH_PORT and perm.get("ToPort") == SSH_PORT:
            cidrs += [r["CidrIp"] for r in perm.get("IpRanges", [])]
    return cidrs
