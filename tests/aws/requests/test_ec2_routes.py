"""Does a subnet reach the internet? (the Studio subnet a cluster starts in: its bootstrap
installs Python packages). The two DescribeRouteTables lookups, and ``reaches_internet`` on
route tables shaped as EC2 describes them: a subnet uses the route table explicitly associated
with it, else its VPC's main route table; every table has the ``local`` route of the VPC's
CIDR; a route is ``active`` or ``blackhole`` (its target is gone, e.g. a detached internet
gateway); an IPv4 default route is ``DestinationCidrBlock`` 0.0.0.0/0, an IPv6 one
``DestinationIpv6CidrBlock`` ::/0 ("Route tables for your VPC", Amazon VPC user guide)."""
from __future__ import annotations

from typing import Any, Dict, List

import pytest

from bigfruits.aws.requests import ec2
from tests.support.aws.model import assert_valid

#: pure: no Spark, no moto, no network (run per mutant by mutmut, docs/mutation-testing.md)
pytestmark = pytest.mark.pure

LOCAL = {"DestinationCidrBlock": "172.31.0.0/16", "GatewayId": "local", "Origin": "CreateRouteTable",
         "State": "active"}


def _default(state: str = "active", **target: str) -> Dict[str, Any]:
    return {"DestinationCidrBlock": "0.0.0.0/0", "Origin": "CreateRoute", "State": state, **target}


def _table(*routes: Dict[str, Any]) -> Dict[str, Any]:
    return {"RouteTableId": "rtb-1", "VpcId": "vpc-1", "Routes": [LOCAL, *routes]}


def test_route_table_lookups_ask_for_the_subnets_own_table_then_the_vpcs_main_one() -> None:
    """Protects which tables are read: the one explicitly associated with the subnet, and the
    VPC's main table (what a subnet without an explicit association uses), by EC2's filter
    names; both valid DescribeRouteTables requests."""
    own = ec2.route_tables_of_subnet("subnet-0a")
    main = ec2.main_route_table("vpc-0b")
    for request in (own, main):
        assert (request.service, request.operation) == ("ec2", "DescribeRouteTables")
        assert_valid(request)
    assert own.params == {"Filters": [{"Name": "association.subnet-id", "Values": ["subnet-0a"]}]}
    assert main.params == {"Filters": [{"Name": "vpc-id", "Values": ["vpc-0b"]},
                                       {"Name": "association.main", "Values": ["true"]}]}


@pytest.mark.parametrize("target", [{"GatewayId": "igw-0123"}, {"NatGatewayId": "nat-0456"}],
                         ids=["internet-gateway", "nat-gateway"])
def test_a_default_route_to_an_internet_or_nat_gateway_reaches_the_internet(target: Dict[str, str]) -> None:
    """Protects public subnets (default route to an internet gateway) and private ones with
    outbound access (default route to a NAT gateway), listed after the local route."""
    assert ec2.reaches_internet([_table(_default(**target))]) is True


@pytest.mark.parametrize("routes", [
    [],
    [_default("blackhole", GatewayId="igw-0123")],
    [_default("blackhole", NatGatewayId="nat-0456")],
    [_default(GatewayId="vgw-0789")],
    [_default(VpcPeeringConnectionId="pcx-1")],
    [{**_default(GatewayId="igw-0123"), "DestinationCidrBlock": "203.0.113.0/24"}],
    [{"DestinationIpv6CidrBlock": "::/0", "GatewayId": "igw-0123", "State": "active"}],
    [{"DestinationIpv6CidrBlock": "::/0", "EgressOnlyInternetGatewayId": "eigw-1", "State": "active"}],
], ids=["local-only", "igw-blackhole", "nat-blackhole", "vpn-gateway", "peering", "not-default",
        "ipv6-igw-only", "ipv6-egress-only"])
def test_other_routes_do_not_reach_the_internet(routes: List[Dict[str, Any]]) -> None:
    """Protects the refusal (start the cluster elsewhere rather than fail its bootstrap): the
    VPC's local route alone, a default route whose gateway is gone (blackhole), a default
    route to a VPN gateway or a peering, a route to an internet gateway for one range only,
    and an IPv6-only default route (package indexes are reached over IPv4) do not count."""
    assert ec2.reaches_internet([_table(*routes)]) is False


def test_any_of_the_tables_may_hold_the_default_route() -> None:
    """Protects reading every table given (and every route of each): the default route may
    be in the second table, after routes that do not count; a table without routes and no
    table at all reach nothing."""
    without = _table(_default("blackhole", GatewayId="igw-0"))
    vpn = {"DestinationCidrBlock": "10.8.0.0/16", "GatewayId": "vgw-1", "State": "active"}
    with_nat = _table(vpn, _default(NatGatewayId="nat-2"))
    assert ec2.reaches_internet([without, with_nat]) is True
    assert ec2.reaches_internet([{"RouteTableId": "rtb-2"}, with_nat]) is True
    assert ec2.reaches_internet([{"RouteTableId": "rtb-2"}]) is False
    assert ec2.reaches_internet([]) is False


def test_a_route_without_a_state_counts_as_active() -> None:
    """Protects answers that leave the state out (only ``blackhole`` disqualifies a route)."""
    route = {"DestinationCidrBlock": "0.0.0.0/0", "GatewayId": "igw-0123"}
    assert ec2.reaches_internet([{"Routes": [route]}]) is True
