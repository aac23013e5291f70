"""Where a cluster runs: its VPC and subnet chosen and checked, and the tag EMR's service
policy needs on the network pieces we use but did not create.

``AmazonEMRServicePolicy_v2`` lets EMR launch instances only into subnets and security groups
tagged ``for-use-with-amazon-emr-managed-policies=true``, and create its default security
groups only in a VPC so tagged (its ``CreateInTaggedNetwork`` and
``CreateDefaultSecurityGroupInVPCWithEMRTags`` statements; "Tagging resources to use managed
policies" in https://docs.aws.amazon.com/emr/latest/ManagementGuide/emr-managed-iam-policies.html).
A default VPC, its subnets and EMR's own groups are not ours: the tag we add to them is
recorded in the state (kind ``kinds.EMR_TAG``) and ``destroy`` removes it again; a tag that was
already there is left alone, then and at ``destroy``.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any, Dict, List, Set, Tuple

from bigfruits.aws.core import kinds
from bigfruits.aws.core.botocore_errors import GONE_CODES
from bigfruits.aws.core.context import AwsContext
from bigfruits.aws.requests import ec2
from bigfruits.aws.requests.emr import clusters
from bigfruits.aws.requests.emr.flavors import Flavor
from bigfruits.errors import AwsError, InputError


def in_studio_subnet(ctx: AwsContext, flavor: Flavor) -> AwsContext:
    """The context with the cluster's subnet chosen: --subnet-id (or config) wins; a Studio
    cluster without one starts in the subnet of the Studio we created, whose Workspaces can
    attach only clusters of their own VPC; otherwise EMR picks one in the default VPC."""
    if ctx.settings.subnet_id or not flavor.joins_studio_network:
        return ctx
    for studio_id in ctx.state.ids(kinds.STUDIO):
        attrs = ctx.state.attrs(kinds.STUDIO, studio_id)
        subnets = attrs.get("subnets") or []
        if not subnets:
            continue
        # The bootstrap installs Python packages: the subnet must reach the internet.
        for subnet in subnets:
            if subnet_reaches_internet(ctx, subnet, str(attrs.get("vpc", ""))):
                ctx.echo(f"  in subnet {subnet}, in the VPC of Studio {studio_id}")
                return replace(ctx, settings=replace(ctx.settings, subnet_id=subnet))
        raise InputError(
            f"none of Studio {studio_id}'s subnets ({', '.join(subnets)}) reaches the internet, "
            "so the bootstrap could not install anything",
            "pass --subnet-id of a subnet routing 0.0.0.0/0 to an internet or NAT gateway")
    return ctx


def in_cluster_network(ctx: AwsContext) -> Tuple[AwsContext, str]:
    """The cluster's subnet chosen (and checked) into the context, and its network tagged for
    EMR's service policy; (that context, the VPC)."""
    vpc_id, subnet = cluster_network(ctx)
    ctx = replace(ctx, settings=replace(ctx.settings, subnet_id=str(subnet["SubnetId"])))
    tag_for_emr(ctx, vpc_id, subnet)
    return ctx, vpc_id


def cluster_vpc(ctx: AwsContext) -> str:
    """The VPC the cluster will run in: its subnet's, else the region's default VPC (no subnet
    is chosen for that)."""
    if ctx.settings.subnet_id:
        return str(given_subnet(ctx)["VpcId"])
    return default_vpc(ctx)


def cluster_network(ctx: AwsContext) -> Tuple[str, Dict[str, Any]]:
    """(VPC id, the subnet as EC2 describes it, tags included) of the cluster: ``--subnet-id``
    (a wrong one stops here, before anything is created), else one of the default VPC's
    default subnets."""
    if ctx.settings.subnet_id:
        subnet = given_subnet(ctx)
        return str(subnet["VpcId"]), subnet
    vpc_id = default_vpc(ctx)
    subnets = ctx.send(ec2.find_subnets(vpc_id)).get("Subnets", [])
    if not subnets:
        raise AwsError(f"the default VPC {vpc_id} has no subnet",
                       "pass --subnet-id, or add one: `aws ec2 create-default-subnet`")
    chosen = ec2.cluster_subnet(subnets)
    return vpc_id, next(s for s in subnets if s["SubnetId"] == chosen)


def given_subnet(ctx: AwsContext) -> Dict[str, Any]:
    """``--subnet-id`` as EC2 describes it; one line when this region has no such subnet."""
    subnet = str(ctx.settings.subnet_id)
    found = ctx.sender.attempt(ec2.describe_subnet(subnet), "InvalidSubnetID.NotFound",
                               "InvalidSubnetID.Malformed") or {}
    if not found.get("Subnets"):
        raise InputError(f"subnet {subnet} not found in {ctx.region}",
                         "pass a subnet id listed by `aws ec2 describe-subnets`")
    return dict(found["Subnets"][0])


def default_vpc(ctx: AwsContext) -> str:
    vpcs = ctx.send(ec2.find_default_vpc()).get("Vpcs", [])
    if not vpcs:
        raise AwsError("this region has no default VPC",
                       "pass --subnet-id, or create one: `aws ec2 create-default-vpc`")
    return str(vpcs[0]["VpcId"])


def subnet_reaches_internet(ctx: AwsContext, subnet_id: str, vpc_id: str) -> bool:
    """Its own route table, else the VPC's main one, has a default route to an igw-/nat-."""
    return ec2.reaches_internet(route_tables(ctx, subnet_id, vpc_id))


def route_tables(ctx: AwsContext, subnet_id: str, vpc_id: str) -> List[Dict[str, Any]]:
    """The subnet's own route table, else its VPC's main one (what applies to it)."""
    tables = ctx.send(ec2.route_tables_of_subnet(subnet_id)).get("RouteTables", [])
    return tables or ctx.send(ec2.main_route_table(vpc_id)).get("RouteTables", [])


def tag_for_emr(ctx: AwsContext, vpc_id: str, subnet: Dict[str, Any]) -> List[str]:
    """Add the EMR tag where it is missing on the cluster's VPC, subnet (as ``cluster_network``
    described it) and EMR's own default security groups there; each id we tag is remembered
    for ``destroy``. The ids tagged now."""
    resources = (ctx.send(ec2.describe_vpc(vpc_id)).get("Vpcs", []) + [subnet]
                 + ctx.send(ec2.find_emr_default_groups(vpc_id)).get("SecurityGroups", []))
    untagged = [_resource_id(r) for r in resources if ec2.lacks_emr_tag(r)]
    if not untagged:
        return []
    ctx.send(ec2.add_emr_tag(untagged))
    for resource_id in untagged:
        ctx.state.add(kinds.EMR_TAG, resource_id)
    ctx.echo(f"tagged {', '.join(untagged)} for EMR's service policy "
             "(for-use-with-amazon-emr-managed-policies=true; `destroy` removes it)")
    return untagged


def _resource_id(resource: dict) -> str:
    return str(resource.get("GroupId") or resource.get("SubnetId") or resource.get("VpcId"))


def remove_emr_tag(ctx: AwsContext, resource_id: str) -> bool:
    """``destroy``: take back the tag we added (the resource itself is not ours), unless an
    active cluster runs there: under ``AmazonEMRServicePolicy_v2`` EMR needs the tag on its
    subnet, VPC and groups for as long as it launches instances (a resize, a replaced node),
    and a cluster started after ours may rely on the tag we added. False: kept (``destroy``
    remembers it, and takes it back in a later run, once those clusters have ended)."""
    users = clusters_relying_on(ctx, resource_id)
    if users:
        ctx.echo(f"kept the EMR tag on {resource_id}: active cluster(s) {', '.join(users)} use it "
                 "(run `destroy` again once they have ended)")
        return False
    ctx.sender.attempt(ec2.remove_emr_tag([resource_id]), *GONE_CODES,
                       "InvalidVpcID.NotFound", "InvalidSubnetID.NotFound")
    return True


def clusters_relying_on(ctx: AwsContext, resource_id: str) -> List[str]:
    """The active clusters of the account (anyone's) whose subnet, VPC or EMR-managed security
    group is ``resource_id``, as DescribeCluster reports them."""
    found = []
    for summary in ctx.sender.paged(clusters.list_active_clusters(), "Clusters"):
        cluster = ctx.send(clusters.describe_cluster(summary["Id"])).get("Cluster", {})
        used = network_of(cluster)
        if resource_id.startswith("vpc-") and used:
            used |= {str(s.get("VpcId")) for subnet in sorted(used) if subnet.startswith("subnet-")
                     for s in ctx.send(ec2.describe_subnet(subnet)).get("Subnets", [])}
        if resource_id in used:
            found.append(str(summary["Id"]))
    return found


def network_of(cluster: Dict[str, Any]) -> Set[str]:
    """A DescribeCluster's subnets and EMR-managed security groups."""
    attrs = cluster.get("Ec2InstanceAttributes", {})
    return {str(x) for x in (attrs.get("Ec2SubnetId"), *attrs.get("RequestedEc2SubnetIds", []),
                             attrs.get("EmrManagedMasterSecurityGroup"), attrs.get("EmrManagedSlaveSecurityGroup"),
                             attrs.get("ServiceAccessSecurityGroup")) if x}
