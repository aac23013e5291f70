"""``cluster_network``: the EC2 and EMR requests *sent* to choose a cluster's network, tag it
for EMR's service policy and take the tag back, with their exact parameters, and nothing more
(the subnet is described once; the VPC alone needs no subnet).

Tool: real boto3 clients under botocore's ``Stubber`` (tests/support/aws/stubbed.py), each
answer given only for the expected parameters. Why not moto: these are pure (mutmut runs them
per mutant); the same on the moto server is in ``test_cluster_network.py``."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List

import pytest

from bigfruits.aws.core.context import AwsContext, Injected
from bigfruits.aws.core.settings import AwsSettings
from bigfruits.aws.core.state import State
from bigfruits.aws.procedures import cluster_network
from bigfruits.aws.requests.emr.flavors import get_flavor
from bigfruits.errors import AwsError, InputError
from tests.support.aws.stubbed import StubbedAws

pytestmark = pytest.mark.pure

EMR_TAG = {"Key": "for-use-with-amazon-emr-managed-policies", "Value": "true"}
OTHER_TAG = {"Key": "team", "Value": "data"}
#: EMR's own default groups, public and private subnets (emr-man-sec-groups.html)
EMR_GROUPS = {"Filters": [{"Name": "vpc-id", "Values": ["vpc-1"]}, {"Name": "group-name", "Values": [
    "ElasticMapReduce-master", "ElasticMapReduce-slave", "ElasticMapReduce-Master-Private",
    "ElasticMapReduce-Slave-Private", "ElasticMapReduce-ServiceAccess"]}]}


@pytest.fixture
def echoed(monkeypatch: pytest.MonkeyPatch) -> List[str]:
    """What the procedures say to the user."""
    said: List[str] = []
    monkeypatch.setattr(AwsContext, "echo", lambda self, message: said.append(message))
    return said


def context(aws: StubbedAws, tmp_path: Path, **settings: Any) -> AwsContext:
    made = AwsSettings(project="p", region="eu-west-3", bucket="p-bucket", state_file=tmp_path / "state.json",
                       **settings)
    return AwsContext(made, aws, State(made.state_path()), Injected(sleep=lambda s: None))


def subnet(subnet_id: str, zone: str, default: bool = True, tags: Any = ()) -> Dict[str, Any]:
    return {"SubnetId": subnet_id, "VpcId": "vpc-1", "AvailabilityZone": zone, "DefaultForAz": default,
            "Tags": list(tags)}


def test_the_default_network_is_chosen_and_only_what_lacks_the_tag_is_tagged_and_remembered(
        aws: StubbedAws, tmp_path: Path, echoed: List[str]) -> None:
    """The default VPC's default subnet of the first zone; the VPC, that subnet and EMR's
    groups there that lack the tag get it in one CreateTags; the one that had it (someone
    else's tag) is neither tagged nor remembered; the subnet is described once."""
    aws.answer("ec2", "DescribeVpcs", {"Vpcs": [{"VpcId": "vpc-1"}]},
               {"Filters": [{"Name": "isDefault", "Values": ["true"]}]})
    aws.answer("ec2", "DescribeSubnets", {"Subnets": [
        subnet("subnet-c", "eu-west-3c"), subnet("subnet-a", "eu-west-3a", tags=[OTHER_TAG]),
        subnet("subnet-0", "eu-west-3a", default=False)]}, {"Filters": [{"Name": "vpc-id", "Values": ["vpc-1"]}]})
    aws.answer("ec2", "DescribeVpcs", {"Vpcs": [{"VpcId": "vpc-1", "Tags": [OTHER_TAG]}]}, {"VpcIds": ["vpc-1"]})
    aws.answer("ec2", "DescribeSecurityGroups", {"SecurityGroups": [
        {"GroupId": "sg-master", "GroupName": "ElasticMapReduce-master", "Tags": [EMR_TAG]},
        {"GroupId": "sg-slave", "GroupName": "ElasticMapReduce-slave"}]}, EMR_GROUPS)
    aws.answer("ec2", "CreateTags", {}, {"Resources": ["vpc-1", "subnet-a", "sg-slave"], "Tags": [EMR_TAG]})
    ctx, vpc = cluster_network.in_cluster_network(context(aws, tmp_path))
    assert (vpc, ctx.settings.subnet_id) == ("vpc-1", "subnet-a")
    assert State(tmp_path / "state.json").ids("emr-policy-tag") == ["sg-slave", "subnet-a", "vpc-1"]
    assert echoed == ["tagged vpc-1, subnet-a, sg-slave for EMR's service policy "
                      "(for-use-with-amazon-emr-managed-policies=true; `destroy` removes it)"]
    assert aws.operations().count("DescribeSubnets") == 1


def test_a_given_subnet_already_tagged_with_its_vpc_needs_nothing(aws: StubbedAws, tmp_path: Path,
                                                                  echoed: List[str]) -> None:
    aws.answer("ec2", "DescribeSubnets", {"Subnets": [subnet("subnet-x", "eu-west-3b", tags=[EMR_TAG])]},
               {"SubnetIds": ["subnet-x"]})
    aws.answer("ec2", "DescribeVpcs", {"Vpcs": [{"VpcId": "vpc-1", "Tags": [EMR_TAG]}]}, {"VpcIds": ["vpc-1"]})
    aws.answer("ec2", "DescribeSecurityGroups", {"SecurityGroups": []}, EMR_GROUPS)
    ctx, vpc = cluster_network.in_cluster_network(context(aws, tmp_path, subnet_id="subnet-x"))
    assert (vpc, ctx.settings.subnet_id) == ("vpc-1", "subnet-x")
    assert echoed == [] and State(tmp_path / "state.json").ids("emr-policy-tag") == []


@pytest.mark.parametrize("code", ["InvalidSubnetID.NotFound", "InvalidSubnetID.Malformed"])
def test_an_unknown_subnet_is_one_line_and_nothing_else_is_asked(aws: StubbedAws, tmp_path: Path, code: str) -> None:
    aws.fail("ec2", "DescribeSubnets", code, {"SubnetIds": ["subnet-0nothere"]})
    with pytest.raises(InputError) as refused:
        cluster_network.in_cluster_network(context(aws, tmp_path, subnet_id="subnet-0nothere"))
    assert str(refused.value) == ("subnet subnet-0nothere not found in eu-west-3: "
                                  "pass a subnet id listed by `aws ec2 describe-subnets`")


def test_no_default_vpc_or_no_subnet_in_it_says_what_to_do(aws: StubbedAws, tmp_path: Path) -> None:
    aws.answer("ec2", "DescribeVpcs", {"Vpcs": []})
    with pytest.raises(AwsError, match="this region has no default VPC: pass --subnet-id, or create one"):
        cluster_network.cluster_network(context(aws, tmp_path))
    aws.answer("ec2", "DescribeVpcs", {"Vpcs": [{"VpcId": "vpc-1"}]})
    aws.answer("ec2", "DescribeSubnets", {"Subnets": []})
    with pytest.raises(AwsError, match="the default VPC vpc-1 has no subnet: pass --subnet-id, or add one"):
        cluster_network.cluster_network(context(aws, tmp_path))


def test_the_clusters_vpc_alone_needs_no_subnet(aws: StubbedAws, tmp_path: Path) -> None:
    """Only the VPC is asked for (an SSH group is made per VPC): no subnet listing, no choice."""
    aws.answer("ec2", "DescribeVpcs", {"Vpcs": [{"VpcId": "vpc-1"}]},
               {"Filters": [{"Name": "isDefault", "Values": ["true"]}]})
    assert cluster_network.cluster_vpc(context(aws, tmp_path)) == "vpc-1"
    aws.answer("ec2", "DescribeSubnets", {"Subnets": [subnet("subnet-x", "eu-west-3b")]}, {"SubnetIds": ["subnet-x"]})
    assert cluster_network.cluster_vpc(context(aws, tmp_path, subnet_id="subnet-x")) == "vpc-1"
    assert aws.operations() == ["DescribeVpcs", "DescribeSubnets"]


def cluster(cluster_id: str, **attrs: Any) -> Dict[str, Any]:
    return {"Cluster": {"Id": cluster_id, "Name": "n", "Status": {"State": "WAITING"},
                        "Ec2InstanceAttributes": attrs}}


def test_a_tag_is_taken_back_unless_an_active_cluster_uses_it(aws: StubbedAws, tmp_path: Path) -> None:
    """Which active clusters use a subnet, a VPC (through their subnets) or an EMR group; a
    tag nobody uses is removed, with exactly the tag we add."""
    active = {"ClusterStates": ["STARTING", "BOOTSTRAPPING", "RUNNING", "WAITING", "TERMINATING"]}
    listing = {"Clusters": [{"Id": "j-1"}, {"Id": "j-2"}]}
    used = {"j-1": dict(Ec2SubnetId="subnet-a", EmrManagedMasterSecurityGroup="sg-m",
                        EmrManagedSlaveSecurityGroup="sg-s"),
            "j-2": dict(RequestedEc2SubnetIds=["subnet-b"], ServiceAccessSecurityGroup="sg-sa")}
    for resource, users in (("subnet-a", ["j-1"]), ("subnet-b", ["j-2"]), ("sg-s", ["j-1"]), ("sg-sa", ["j-2"]),
                            ("sg-other", []), ("vpc-1", ["j-1", "j-2"]), ("vpc-9", [])):
        aws.answer("emr", "ListClusters", listing, active)
        for cluster_id in ("j-1", "j-2"):
            aws.answer("emr", "DescribeCluster", cluster(cluster_id, **used[cluster_id]), {"ClusterId": cluster_id})
            if resource.startswith("vpc-"):
                subnet_id = "subnet-a" if cluster_id == "j-1" else "subnet-b"
                aws.answer("ec2", "DescribeSubnets", {"Subnets": [subnet(subnet_id, "z")]}, {"SubnetIds": [subnet_id]})
        assert cluster_network.clusters_relying_on(context(aws, tmp_path), resource) == users, resource
    aws.answer("emr", "ListClusters", {"Clusters": []}, active)
    aws.answer("ec2", "DeleteTags", {}, {"Resources": ["vpc-9"], "Tags": [EMR_TAG]})
    assert cluster_network.remove_emr_tag(context(aws, tmp_path), "vpc-9") is True
    aws.answer("emr", "ListClusters", {"Clusters": []}, active)
    aws.fail("ec2", "DeleteTags", "InvalidVpcID.NotFound")
    assert cluster_network.remove_emr_tag(context(aws, tmp_path), "vpc-gone") is True


def test_a_studio_cluster_starts_in_a_studio_subnet_that_reaches_the_internet(aws: StubbedAws, tmp_path: Path,
                                                                            echoed: List[str]) -> None:
    """--flavor studio without --subnet-id: the first of the Studio's subnets whose routes
    reach an internet or NAT gateway (its own table, else the VPC's main one)."""
    ctx = context(aws, tmp_path)
    ctx.state.add("studio", "es-1", vpc="vpc-1", subnets=["subnet-priv", "subnet-pub"])
    aws.answer("ec2", "DescribeRouteTables", {"RouteTables": []},
               {"Filters": [{"Name": "association.subnet-id", "Values": ["subnet-priv"]}]})
    aws.answer("ec2", "DescribeRouteTables", {"RouteTables": [{"Routes": [
        {"DestinationCidrBlock": "10.0.0.0/16", "GatewayId": "local"}]}]},
        {"Filters": [{"Name": "vpc-id", "Values": ["vpc-1"]}, {"Name": "association.main", "Values": ["true"]}]})
    aws.answer("ec2", "DescribeRouteTables", {"RouteTables": [{"Routes": [
        {"DestinationCidrBlock": "0.0.0.0/0", "GatewayId": "igw-1"}]}]},
        {"Filters": [{"Name": "association.subnet-id", "Values": ["subnet-pub"]}]})
    chosen = cluster_network.in_studio_subnet(ctx, get_flavor("studio"))
    assert chosen.settings.subnet_id == "subnet-pub"
    assert echoed == ["  in subnet subnet-pub, in the VPC of Studio es-1"]
    assert cluster_network.in_studio_subnet(ctx, get_flavor("jupyterhub")) is ctx  # not a Studio cluster
    given = context(aws, tmp_path, subnet_id="subnet-mine")
    assert cluster_network.in_studio_subnet(given, get_flavor("studio")) is given  # --subnet-id wins


def routes(to: str) -> Dict[str, Any]:
    key = "NatGatewayId" if to.startswith("nat-") else "GatewayId"
    return {"RouteTables": [{"Routes": [{"DestinationCidrBlock": "0.0.0.0/0", key: to}]}]}


def own_tables(subnet_id: str) -> Dict[str, Any]:
    return {"Filters": [{"Name": "association.subnet-id", "Values": [subnet_id]}]}


MAIN_TABLE = {"Filters": [{"Name": "vpc-id", "Values": ["vpc-1"]}, {"Name": "association.main", "Values": ["true"]}]}


def test_a_studio_recorded_without_subnets_is_passed_over_and_the_vpcs_main_table_counts(
        aws: StubbedAws, tmp_path: Path, echoed: List[str]) -> None:
    """Protects a Studio cluster's subnet when the state holds an older Studio without subnets,
    and a subnet with no table of its own (the VPC's main table routes it out, through NAT)."""
    ctx = context(aws, tmp_path)
    ctx.state.add("studio", "es-0", vpc="vpc-0", subnets=[])
    ctx.state.add("studio", "es-1", vpc="vpc-1", subnets=["subnet-nat"])
    aws.answer("ec2", "DescribeRouteTables", {"RouteTables": []}, own_tables("subnet-nat"))
    aws.answer("ec2", "DescribeRouteTables", routes("nat-1"), MAIN_TABLE)
    assert cluster_network.in_studio_subnet(ctx, get_flavor("studio")).settings.subnet_id == "subnet-nat"
    assert echoed == ["  in subnet subnet-nat, in the VPC of Studio es-1"]


def test_studio_subnets_that_reach_nothing_are_refused_in_one_line(aws: StubbedAws, tmp_path: Path) -> None:
    ctx = context(aws, tmp_path)
    ctx.state.add("studio", "es-1", vpc="vpc-1", subnets=["subnet-a", "subnet-b"])
    aws.answer("ec2", "DescribeRouteTables", routes("local"), own_tables("subnet-a"))
    aws.answer("ec2", "DescribeRouteTables", routes("vgw-1"), own_tables("subnet-b"))
    with pytest.raises(InputError) as refused:
        cluster_network.in_studio_subnet(ctx, get_flavor("studio"))
    assert str(refused.value) == (
        "none of Studio es-1's subnets (subnet-a, subnet-b) reaches the internet, so the bootstrap could not "
        "install anything: pass --subnet-id of a subnet routing 0.0.0.0/0 to an internet or NAT gateway")


@pytest.mark.parametrize("code", ["InvalidSubnetID.NotFound", "InvalidGroup.NotFound", "InvalidVpcID.NotFound"])
def test_a_tag_on_something_already_gone_counts_as_taken_back(aws: StubbedAws, tmp_path: Path, code: str) -> None:
    """A subnet, group or VPC deleted since we tagged it: nothing left to take back, destroy goes on."""
    aws.answer("emr", "ListClusters", {"Clusters": []})
    aws.fail("ec2", "DeleteTags", code)
    assert cluster_network.remove_emr_tag(context(aws, tmp_path), "subnet-gone") is True


def test_a_kept_tag_names_every_cluster_using_it(aws: StubbedAws, tmp_path: Path, echoed: List[str]) -> None:
    aws.answer("emr", "ListClusters", {"Clusters": [{"Id": "j-1"}, {"Id": "j-2"}]})
    for cluster_id in ("j-1", "j-2"):
        aws.answer("emr", "DescribeCluster", cluster(cluster_id, Ec2SubnetId="subnet-a"), {"ClusterId": cluster_id})
    assert cluster_network.remove_emr_tag(context(aws, tmp_path), "subnet-a") is False
    assert echoed == ["kept the EMR tag on subnet-a: active cluster(s) j-1, j-2 use it "
                      "(run `destroy` again once they have ended)"]
