"""The EC2 key pair used to reach the master node over SSH, as requests."""
from __future__ import annotations

from bigfruits.aws.request import AwsRequest, managed_tags, tag_list
from bigfruits.aws.tags import ours_filters


def create_key_pair(name: str, project: str) -> AwsRequest:
    return AwsRequest(
        "ec2",
        "CreateKeyPair",
        {
            "KeyName": name,
            "KeyType": "rsa",
            "KeyFormat": "pem",
            "TagSpecifications": [
                {"ResourceType": "key-pair", "Tags": tag_list(managed_tags(project))}
            ],
        },
    )


def describe_key_pair(name: str) -> AwsRequest:
    return AwsRequest("ec2", "DescribeKeyPairs", {"Filters": [{"Name": "key-name", "Values": [name]}]})


def find_our_key_pairs(project: str) -> AwsRequest:
    return AwsRequest("ec2", "DescribeKeyPairs", {"Filters": ours_filters(project)})


def delete_key_pair(name: str) -> AwsRequest:
    return AwsRequest("ec2", "DeleteKeyPair", {"KeyName": name})
