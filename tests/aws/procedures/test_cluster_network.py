"""A cluster under ``AmazonEMRServicePolicy_v2``: the network it uses carries the tag v2 needs,
what we tagged without owning it is remembered and untagged by ``destroy``, and a tag that was
already there stays.

moto server: its default VPC, default subnets and security groups are real moto resources
with tags, and its DescribeCluster reports the cluster's subnet and tags. moto does not enforce
v2's tag conditions (nothing there evaluates IAM), so what is checked is that the tags are
where v2's statements look for them (https://docs.aws.amazon.com/emr/latest/ManagementGuide/emr-iam-role.html).
"""
from __future__ import annotations

from typing import Dict, List

from bigfruits.aws.core.tags import EMR_MANAGED_POLICIES_TAG
from tests.support.aws.cli import run
from tests.support.aws.server import boto, nothing_of_ours_left


def _emr_tag(tags: List[Dict[str, str]]) -> str:
    return {t["Key"]: t["Value"] for t in tags or []}.get(EMR_MANAGED_POLICIES_TAG, "")


def _tags_of(vpc: str, subnet: str, group: str) -> Dict[str, str]:
    ec2 = boto("ec2")
    return {
        "vpc": _emr_tag(ec2.describe_vpcs(VpcIds=[vpc])["Vpcs"][0].get("Tags")),
        "subnet": _emr_tag(ec2.describe_subnets(SubnetIds=[subnet])["Subnets"][0].get("Tags")),
        "emr group": _emr_tag(ec2.describe_security_groups(GroupIds=[group])["SecurityGroups"][0].get("Tags")),
    }


def _default_vpc() -> str:
    return str(boto("ec2").describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"][0]["VpcId"])


def _emr_master_group(vpc: str) -> str:
    """EMR's own default group, as an earlier cluster (before v2) left it: untagged."""
    return str(boto("ec2").create_security_group(
        GroupName="ElasticMapReduce-master", Description="Master group for Elastic MapReduce",
        VpcId=vpc)["GroupId"])


def _the_cluster() -> Dict[str, object]:
    emr = boto("emr")
    cluster_id = emr.list_clusters()["Clusters"][0]["Id"]
    return emr.describe_cluster(ClusterId=cluster_id)["Cluster"]


def test_cluster_network_is_tagged_for_emr_v2_and_destroy_takes_the_tags_back(aws_env, built_wheel) -> None:
    vpc = _default_vpc()
    emr_group = _emr_master_group(vpc)
    run(["create-bucket"])
    out = run(["create-cluster", "--yes", "--wheel", str(built_wheel)]).output
    cluster = _the_cluster()
    subnet = cluster["Ec2InstanceAttributes"]["Ec2SubnetId"]  # type: ignore[index]
    default_subnets = {s["SubnetId"] for s in boto("ec2").describe_subnets(
        Filters=[{"Name": "vpc-id", "Values": [vpc]}, {"Name": "default-for-az", "Values": ["true"]}])["Subnets"]}
    assert subnet in default_subnets
    assert _emr_tag(cluster["Tags"]) == "true"  # type: ignore[arg-type]
    (ssh,) = boto("ec2").describe_security_groups(
        Filters=[{"Name": "group-name", "Values": ["bigfruits-ssh"]}])["SecurityGroups"]
    assert _emr_tag(ssh["Tags"]) == "true"
    assert _tags_of(vpc, subnet, emr_group) == {"vpc": "true", "subnet": "true", "emr group": "true"}
    assert "destroy` removes it" in out

    run(["terminate"])
    run(["destroy", "--yes"])
    assert _tags_of(vpc, subnet, emr_group) == {"vpc": "", "subnet": "", "emr group": ""}
    assert boto("ec2").describe_security_groups(GroupIds=[emr_group])["SecurityGroups"]  # not ours: kept
    left = nothing_of_ours_left()
    assert left == {k: [] for k in left}, left


def test_a_tag_that_was_already_there_stays_after_destroy(aws_env, built_wheel) -> None:
    ec2 = boto("ec2")
    vpc = _default_vpc()
    emr_group = _emr_master_group(vpc)
    subnets = [s["SubnetId"] for s in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]]
    ec2.create_tags(Resources=[vpc, emr_group, *subnets],
                    Tags=[{"Key": EMR_MANAGED_POLICIES_TAG, "Value": "true"}])
    run(["create-bucket"])
    out = run(["create-cluster", "--yes", "--wheel", str(built_wheel)]).output
    assert "for EMR's service policy" not in out  # nothing needed tagging
    subnet = _the_cluster()["Ec2InstanceAttributes"]["Ec2SubnetId"]  # type: ignore[index]
    run(["terminate"])
    run(["destroy", "--yes"])
    assert _tags_of(vpc, subnet, emr_group) == {"vpc": "true", "subnet": "true", "emr group": "true"}


def test_in_the_mixed_case_destroy_takes_back_only_the_tags_we_added(aws_env, built_wheel) -> None:
    """Protects tags other people put: the subnet already carried the EMR tag (someone's), the
    VPC and EMR's group did not. create-cluster tags the two (and remembers only those);
    destroy takes back exactly those two, and the subnet keeps its own tag."""
    ec2 = boto("ec2")
    vpc = _default_vpc()
    emr_group = _emr_master_group(vpc)
    subnets = [s["SubnetId"] for s in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]]
    ec2.create_tags(Resources=subnets, Tags=[{"Key": EMR_MANAGED_POLICIES_TAG, "Value": "true"}])
    run(["create-bucket"])
    out = run(["create-cluster", "--yes", "--wheel", str(built_wheel)]).output
    subnet = _the_cluster()["Ec2InstanceAttributes"]["Ec2SubnetId"]  # type: ignore[index]
    assert f"tagged {vpc}, {emr_group} for EMR's service policy" in out or \
        f"tagged {emr_group}, {vpc} for EMR's service policy" in out, out
    assert _tags_of(vpc, subnet, emr_group) == {"vpc": "true", "subnet": "true", "emr group": "true"}
    run(["destroy", "--yes"])
    assert _tags_of(vpc, subnet, emr_group) == {"vpc": "", "subnet": "true", "emr group": ""}


def test_a_tag_another_projects_active_cluster_needs_stays_until_it_ends(aws_env, built_wheel) -> None:
    """Project a tags the default VPC and subnet; project b's cluster then starts in the same
    subnet (the tags are there already: b records none). ``destroy --project a`` terminates a's
    cluster but keeps the tags b's cluster now relies on; once b's cluster is gone, the next
    ``destroy --project a`` takes them back."""
    vpc = _default_vpc()
    emr_group = _emr_master_group(vpc)
    run(["--project", "a", "create-bucket"])
    run(["--project", "a", "create-cluster", "--yes", "--wheel", str(built_wheel)])
    run(["--project", "b", "create-bucket"])
    out_b = run(["--project", "b", "create-cluster", "--yes", "--wheel", str(built_wheel)]).output
    assert "for EMR's service policy" not in out_b  # nothing left to tag
    emr = boto("emr")
    [b_cluster] = [c["Id"] for c in emr.list_clusters(ClusterStates=["WAITING", "RUNNING", "STARTING"])["Clusters"]
                   if c["Name"] == "b-jupyterhub"]
    subnet = emr.describe_cluster(ClusterId=b_cluster)["Cluster"]["Ec2InstanceAttributes"]["Ec2SubnetId"]
    out = run(["--project", "a", "destroy", "--yes"]).output
    assert f"kept the EMR tag on {subnet}: active cluster(s) {b_cluster} use it" in out, out
    assert _tags_of(vpc, subnet, emr_group) == {"vpc": "true", "subnet": "true", "emr group": ""}
    run(["--project", "b", "terminate"])
    run(["--project", "a", "destroy", "--yes"])
    assert _tags_of(vpc, subnet, emr_group) == {"vpc": "", "subnet": "", "emr group": ""}
