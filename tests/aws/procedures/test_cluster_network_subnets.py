"""create-cluster in a chosen subnet: --subnet-id, and a Studio cluster in its Studio's subnet.

moto server: a non-default VPC and subnet are real moto resources, and moto's DescribeCluster
reports the cluster's subnet, so placement is checked as AWS would report it.
"""
from __future__ import annotations

from pathlib import Path

from bigfruits.aws.requests.emr import clusters
from bigfruits.aws.requests.emr.flavors import get_flavor
from bigfruits.aws.core.settings import AwsSettings
from bigfruits.aws.core.state import State
from bigfruits.errors import InputError
from tests.support.aws.cli import run
from tests.support.aws.server import BUCKET, CALLER_IP, boto, nothing_of_ours_left
from tests.support.aws.model import assert_valid as _valid

__all__ = ["BUCKET"]


def _private_subnet() -> tuple:
    ec2 = boto("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.42.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.42.1.0/24")["Subnet"]["SubnetId"]
    return vpc, subnet


def _cluster_subnet_and_groups() -> tuple:
    emr, ec2 = boto("emr"), boto("ec2")
    cluster_id = emr.list_clusters()["Clusters"][0]["Id"]
    subnet = emr.describe_cluster(ClusterId=cluster_id)["Cluster"]["Ec2InstanceAttributes"]["Ec2SubnetId"]
    groups = ec2.describe_security_groups(
        Filters=[{"Name": "group-name", "Values": ["bigfruits-ssh"]}])["SecurityGroups"]
    return subnet, {g["VpcId"] for g in groups}


def test_run_job_flow_names_the_subnet_only_when_chosen() -> None:
    flavor = get_flavor("jupyterhub")
    chosen = clusters.run_job_flow(AwsSettings(bucket="b", subnet_id="subnet-1"), flavor, "sg-1", account_id="123456789012")
    assert chosen.params["Instances"]["Ec2SubnetId"] == "subnet-1"
    _valid(chosen)
    default = clusters.run_job_flow(AwsSettings(bucket="b"), flavor, "sg-1", account_id="123456789012")
    assert "Ec2SubnetId" not in default.params["Instances"]


def test_subnet_id_places_cluster_and_ssh_group_in_that_vpc(aws_env, built_wheel) -> None:
    vpc, subnet = _private_subnet()
    run(["create-bucket"])
    run(["create-cluster", "--yes", "--subnet-id", subnet, "--wheel", str(built_wheel)])
    placed, group_vpcs = _cluster_subnet_and_groups()
    assert placed == subnet and group_vpcs == {vpc}

    run(["terminate"])
    run(["destroy", "--yes"])
    left = nothing_of_ours_left()
    assert left == {k: [] for k in left}, left


def test_unknown_subnet_is_one_line_and_creates_no_cluster(aws_env, built_wheel) -> None:
    run(["create-bucket"])
    result = run(["create-cluster", "--yes", "--subnet-id", "subnet-0nothere", "--wheel",
                  str(built_wheel)], expect_ok=False)
    # An InputError: the CLI's main() prints it as one line and exits 2 (tests/aws/core/test_errors.py).
    assert isinstance(result.exception, InputError)
    assert str(result.exception).startswith("subnet subnet-0nothere not found in eu-west-1: pass")
    assert boto("emr").list_clusters()["Clusters"] == []
    assert boto("iam").list_roles()["Roles"] == []  # checked before anything is created


def _public_subnet(vpc: str, cidr: str) -> str:
    """A subnet whose own route table sends 0.0.0.0/0 to an internet gateway (moto keeps both)."""
    ec2 = boto("ec2")
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock=cidr)["Subnet"]["SubnetId"]
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    ec2.create_route(RouteTableId=table, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
    ec2.associate_route_table(RouteTableId=table, SubnetId=subnet)
    return subnet


def test_studio_cluster_starts_in_a_studio_subnet_that_reaches_the_internet(
        aws_env, built_wheel, tmp_path: Path) -> None:
    # moto server: VPC, subnets, internet gateway and route tables are real moto resources.
    # The private subnet (no route out: the bootstrap could install nothing) comes first.
    vpc, private = _private_subnet()
    public = _public_subnet(vpc, "10.42.2.0/24")
    state_file = tmp_path / "state.json"
    State(state_file).add("studio", "es-TEST", name="bigfruits-studio", vpc=vpc, subnets=[private, public])
    run(["--state-file", str(state_file), "create-bucket"])
    out = run(["--state-file", str(state_file), "create-cluster", "--flavor", "studio", "--yes",
               "--wheel", str(built_wheel)]).output
    assert f"in subnet {public}, in the VPC of Studio es-TEST" in out
    placed, _ = _cluster_subnet_and_groups()
    assert placed == public
    run(["--state-file", str(state_file), "terminate"])


def test_studio_cluster_without_a_way_out_stops_before_creating_anything(
        aws_env, built_wheel, tmp_path: Path) -> None:
    vpc, private = _private_subnet()
    state_file = tmp_path / "state.json"
    State(state_file).add("studio", "es-TEST", name="bigfruits-studio", vpc=vpc, subnets=[private])
    run(["--state-file", str(state_file), "create-bucket"])
    result = run(["--state-file", str(state_file), "create-cluster", "--flavor", "studio", "--yes",
                  "--wheel", str(built_wheel)], expect_ok=False)
    assert isinstance(result.exception, InputError)
    assert "reaches the internet" in str(result.exception) and "\n" not in str(result.exception)
    assert boto("emr").list_clusters()["Clusters"] == []
    assert boto("iam").list_roles()["Roles"] == []


def test_studio_cluster_starts_in_the_studios_subnet(aws_env, built_wheel, tmp_path: Path) -> None:
    # The Studio itself is not in moto (see tests/aws/commands/test_create_studio.py, Stubber); what create-studio
    # records in the state file is written here, the rest is moto. The subnet has no table of
    # its own: the VPC's main route table, given a route to an internet gateway, applies.
    vpc, subnet = _private_subnet()
    ec2 = boto("ec2")
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    main = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc]},
                                              {"Name": "association.main", "Values": ["true"]}])
    ec2.create_route(RouteTableId=main["RouteTables"][0]["RouteTableId"],
                     DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
    state_file = tmp_path / "state.json"
    State(state_file).add("studio", "es-TEST", name="bigfruits-studio", vpc=vpc, subnets=[subnet])
    run(["--state-file", str(state_file), "create-bucket"])
    out = run(["--state-file", str(state_file), "create-cluster", "--flavor", "studio", "--yes",
               "--wheel", str(built_wheel)]).output
    assert f"in subnet {subnet}, in the VPC of Studio es-TEST" in out
    placed, group_vpcs = _cluster_subnet_and_groups()
    assert placed == subnet and group_vpcs == {vpc}
    run(["--state-file", str(state_file), "terminate"])


def test_connect_opens_ssh_on_the_group_attached_to_the_cluster(aws_env, built_wheel) -> None:
    """Protects SSH exposure: connect opens port 22 on the cluster's own group (in its VPC),
    to exactly the caller's /32 (a /24, or any other rule, fails)."""
    # The cluster is in a non-default VPC; connect must open port 22 on *that* VPC's group
    # (read from the cluster), not create one in the default VPC.
    vpc, subnet = _private_subnet()
    run(["create-bucket"])
    run(["create-cluster", "--yes", "--subnet-id", subnet, "--wheel", str(built_wheel)])
    result = run(["connect", "--host", "127.0.0.1", "--ssh-port", "1"], expect_ok=False)
    groups = boto("ec2").describe_security_groups(
        Filters=[{"Name": "group-name", "Values": ["bigfruits-ssh"]}])["SecurityGroups"]
    assert [g["VpcId"] for g in groups] == [vpc]
    # Exactly one rule: TCP 22 from the caller's own address (/32), nothing wider.
    rules = [(p["IpProtocol"], p.get("FromPort"), p.get("ToPort"), [r["CidrIp"] for r in p.get("IpRanges", [])])
             for p in groups[0].get("IpPermissions", [])]
    assert rules == [("tcp", 22, 22, [f"{CALLER_IP}/32"])], result.output
    run(["terminate"])
