"""The small request builders and helpers, each against a literal expectation (what AWS gets
is exactly this) and botocore's service model; the helpers that read AWS's answers
(``ssh_cidrs``, ``rule_keys``, ``pick_subnets``) on answers shaped like AWS's."""
from __future__ import annotations

import json
from typing import Any, Callable, Dict, List, Optional, Tuple

import pytest

from bigfruits.aws.core import resource_names
from bigfruits.aws.core.request import AwsRequest
from bigfruits.aws.core.settings import AwsSettings
from bigfruits.aws.requests import ec2, iam, s3
from bigfruits.aws.requests.emr import clusters, flavors, steps
from bigfruits.errors import InputError
from tests.support.aws.model import assert_valid as _valid

#: pure: no Spark, no moto, no network (run per mutant by mutmut, docs/mutation-testing.md)
pytestmark = pytest.mark.pure

#: (builder, its arguments, service, operation, params). Built inside the test, not at import:
#: mutmut activates a mutant only while tests run.
SMALL = [
    (s3.list_objects, ("b", "raw/"), "s3", "ListObjectsV2", {"Bucket": "b", "Prefix": "raw/"}),
    (s3.delete_objects, ("b", ["k1", "k2"]), "s3", "DeleteObjects",
     {"Bucket": "b", "Delete": {"Objects": [{"Key": "k1"}, {"Key": "k2"}], "Quiet": True}}),
    (s3.delete_bucket, ("b",), "s3", "DeleteBucket", {"Bucket": "b"}),
    (s3.get_object, ("b", "k"), "s3", "GetObject", {"Bucket": "b", "Key": "k"}),
    (s3.get_bucket_tagging, ("b",), "s3", "GetBucketTagging", {"Bucket": "b"}),
    (s3.list_buckets, (), "s3", "ListBuckets", {}),
    (iam.get_instance_profile, ("p",), "iam", "GetInstanceProfile", {"InstanceProfileName": "p"}),
    (iam.list_role_tags, ("r",), "iam", "ListRoleTags", {"RoleName": "r"}),
    (ec2.describe_subnet, ("subnet-1",), "ec2", "DescribeSubnets", {"SubnetIds": ["subnet-1"]}),
    (ec2.delete_key_pair, ("k",), "ec2", "DeleteKeyPair", {"KeyName": "k"}),
    (steps.describe_step, ("j-1", "s-1"), "emr", "DescribeStep", {"ClusterId": "j-1", "StepId": "s-1"}),
]


@pytest.mark.parametrize("build, args, service, operation, params", SMALL,
                         ids=[f"{r[3]}-{i}" for i, r in enumerate(SMALL)])
def test_small_request_is_exactly_this(build: Callable[..., AwsRequest], args: Tuple[Any, ...],
                                       service: str, operation: str, params: Dict[str, Any]) -> None:
    """Protects each small request: service, operation and parameters exactly, and valid."""
    request = build(*args)
    assert (request.service, request.operation, request.params) == (service, operation, params)
    _valid(request)


ACCOUNT = "123456789012"


def test_instance_profile_lets_go_of_its_roles_before_it_is_deleted() -> None:
    """Protects destroy: IAM refuses to delete an instance profile that still holds roles."""
    requests = iam.delete_instance_profile("p", ["r1", "r2"])
    assert [(r.service, r.operation, r.params) for r in requests] == [
        ("iam", "RemoveRoleFromInstanceProfile", {"InstanceProfileName": "p", "RoleName": "r1"}),
        ("iam", "RemoveRoleFromInstanceProfile", {"InstanceProfileName": "p", "RoleName": "r2"}),
        ("iam", "DeleteInstanceProfile", {"InstanceProfileName": "p"}),
    ]
    for request in requests:
        _valid(request)
    assert [r.operation for r in iam.delete_instance_profile("p", [])] == ["DeleteInstanceProfile"]


def test_ssh_cidrs_are_the_port_22_rules_only() -> None:
    """Protects terminate/destroy closing every port-22 opening, and only those."""
    group = {"IpPermissions": [
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
         "IpRanges": [{"CidrIp": "203.0.113.7/32"}, {"CidrIp": "198.51.100.0/24"}]},
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 23, "IpRanges": [{"CidrIp": "10.0.0.1/32"}]},
        {"IpProtocol": "tcp", "FromPort": 21, "ToPort": 22, "IpRanges": [{"CidrIp": "10.0.0.2/32"}]},
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
        {"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": "sg-x"}]},
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22},
    ]}
    assert ec2.ssh_cidrs(group) == ["203.0.113.7/32", "198.51.100.0/24"]
    assert ec2.ssh_cidrs({}) == [] and ec2.ssh_cidrs({"IpPermissions": None}) == []


def test_rule_keys_default_missing_ports_to_all() -> None:
    """Protects comparing rules with AWS's answer: a rule without ports (all traffic) is
    keyed with -1, as EC2 describes it, so an existing all-traffic rule is not added twice."""
    wanted = [{"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": "sg-e"}]}]
    described = [{"IpProtocol": "-1", "FromPort": -1, "ToPort": -1, "UserIdGroupPairs": [{"GroupId": "sg-e"}]}]
    assert ec2.rule_keys(wanted) == {("-1", -1, -1, "sg-e")}
    assert ec2.missing_permissions(wanted, described) == []
    six = [{"IpProtocol": "tcp", "FromPort": 18888, "ToPort": 18888, "Ipv6Ranges": [{"CidrIpv6": "::/0"}]}]
    assert ec2.rule_keys(six) == {("tcp", 18888, 18888, "::/0")}


def test_rule_builders_name_the_group_and_its_permissions() -> None:
    """Protects the four rule operations (built by one factory at import)."""
    perms = [{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "203.0.113.7/32"}]}]
    for build, operation in ((ec2.authorize_ingress, "AuthorizeSecurityGroupIngress"),
                             (ec2.revoke_ingress, "RevokeSecurityGroupIngress"),
                             (ec2.authorize_egress, "AuthorizeSecurityGroupEgress"),
                             (ec2.revoke_egress, "RevokeSecurityGroupEgress"),
                             (ec2.security_group_rules("AuthorizeSecurityGroupIngress"), "AuthorizeSecurityGroupIngress")):
        request = build("sg-1", perms)
        assert (request.service, request.operation, request.params) == (
            "ec2", operation, {"GroupId": "sg-1", "IpPermissions": perms})
        _valid(request)


def _subnet(subnet_id: str, zone: str, public: bool) -> Dict[str, Any]:
    return {"SubnetId": subnet_id, "AvailabilityZone": zone, "MapPublicIpOnLaunch": public}


def test_pick_subnets_one_per_zone_public_first_at_most_five() -> None:
    """Protects where a Studio lives: one subnet per zone, a public one when the zone has
    one, the same choice for the same subnets in any order, at most five; public ones first
    (a Studio cluster starts in the first that reaches the internet)."""
    subnets: List[Dict[str, Any]] = [
        _subnet("subnet-b-private", "eu-west-1a", False), _subnet("subnet-z-public", "eu-west-1a", True),
        _subnet("subnet-c", "eu-west-1b", False),
    ]
    assert ec2.pick_subnets(subnets) == ["subnet-z-public", "subnet-c"]
    assert ec2.pick_subnets(list(reversed(subnets))) == ["subnet-z-public", "subnet-c"]
    many = [_subnet(f"subnet-{i}", f"zone-{i}", True) for i in range(7)]
    assert ec2.pick_subnets(many) == [f"subnet-{i}" for i in range(5)]
    # Without zone or public flag (a minimal answer): each subnet is its own zone, private.
    assert ec2.pick_subnets([{"SubnetId": "subnet-2"}, {"SubnetId": "subnet-1"}]) == ["subnet-1", "subnet-2"]
    mixed = [{"SubnetId": "subnet-a"}, _subnet("subnet-b", "zone-1", True)]
    assert ec2.pick_subnets(mixed) == ["subnet-b", "subnet-a"]


def test_pick_subnets_puts_private_subnets_behind_a_nat_first() -> None:
    """Protects a Studio's Git access: a Workspace reaches public Git repositories only from a
    private subnet with a NAT gateway (emr-studio-considerations), so those come first, then
    public ones, then private ones without NAT; still one per zone."""
    subnets = [_subnet("subnet-pub-a", "zone-a", True), _subnet("subnet-nat-a", "zone-a", False),
               _subnet("subnet-pub-b", "zone-b", True), _subnet("subnet-closed-c", "zone-c", False),
               _subnet("subnet-nat-d", "zone-d", False)]
    through_nat = frozenset({"subnet-nat-a", "subnet-nat-d"})
    assert ec2.pick_subnets(subnets, through_nat) == ["subnet-nat-a", "subnet-nat-d", "subnet-pub-b",
                                                      "subnet-closed-c"]
    # a public subnet whose table also names a NAT is still public (its instances go out directly)
    assert ec2.pick_subnets([_subnet("subnet-pub-a", "zone-a", True), _subnet("subnet-x", "zone-a", False)],
                            frozenset({"subnet-pub-a"})) == ["subnet-pub-a"]
    assert ec2.pick_subnets(subnets) == ["subnet-pub-a", "subnet-pub-b", "subnet-closed-c", "subnet-nat-d"]


def test_routes_through_nat_only_for_a_live_default_route_to_a_nat_gateway() -> None:
    nat = {"DestinationCidrBlock": "0.0.0.0/0", "NatGatewayId": "nat-1"}
    assert ec2.routes_through_nat([{"Routes": [nat]}])
    assert not ec2.routes_through_nat([{"Routes": [{**nat, "State": "blackhole"}]}])
    assert not ec2.routes_through_nat([{"Routes": [{**nat, "DestinationCidrBlock": "10.0.0.0/8"}]}])
    assert not ec2.routes_through_nat([{"Routes": [{"DestinationCidrBlock": "0.0.0.0/0", "GatewayId": "igw-1"}]}])


def test_cluster_subnet_is_a_default_subnet_of_the_first_zone() -> None:
    """Protects which subnet gets EMR's tag when none is given: a default subnet, stably chosen."""
    subnets = [{**_subnet("subnet-9", "eu-west-1b", True), "DefaultForAz": True},
               {**_subnet("subnet-2", "eu-west-1a", True), "DefaultForAz": False},
               {**_subnet("subnet-5", "eu-west-1c", True), "DefaultForAz": True}]
    assert ec2.cluster_subnet(subnets) == "subnet-9"
    assert ec2.cluster_subnet(list(reversed(subnets))) == "subnet-9"
    assert ec2.cluster_subnet([{"SubnetId": "subnet-1"}]) == "subnet-1"


def test_pick_subnets_ranks_by_zone_then_id_and_reads_a_missing_public_flag_as_private() -> None:
    """A NAT subnet whose answer lacks MapPublicIpOnLaunch is private (first); within a rank,
    zones in order whatever the ids."""
    subnets = [_subnet("subnet-a", "zone-b", True), _subnet("subnet-b", "zone-a", True),
               {"SubnetId": "subnet-n", "AvailabilityZone": "zone-c"}]
    assert ec2.pick_subnets(subnets, frozenset({"subnet-n"})) == ["subnet-n", "subnet-b", "subnet-a"]
    # A public subnet is public even when its table also names a NAT: behind the private one.
    both = [_subnet("subnet-pub-nat", "zone-a", True), _subnet("subnet-priv-nat", "zone-b", False)]
    assert ec2.pick_subnets(both, frozenset({"subnet-pub-nat", "subnet-priv-nat"})) == [
        "subnet-priv-nat", "subnet-pub-nat"]


def test_cluster_subnet_prefers_a_default_subnet_over_one_without_the_flag() -> None:
    subnets = [{"SubnetId": "subnet-1", "AvailabilityZone": "zone-a"},
               {"SubnetId": "subnet-2", "AvailabilityZone": "zone-b", "DefaultForAz": True}]
    assert ec2.cluster_subnet(subnets) == "subnet-2"


def test_a_route_table_without_routes_routes_nowhere() -> None:
    assert not ec2.routes_through_nat([{}]) and not ec2.reaches_internet([{}])


def test_the_network_lookups_for_emr_tags_ask_for_exactly_that() -> None:
    assert ec2.describe_vpc("vpc-1").params == {"VpcIds": ["vpc-1"]}
    assert ec2.find_emr_default_groups("vpc-1").params == {"Filters": [
        {"Name": "vpc-id", "Values": ["vpc-1"]},
        {"Name": "group-name", "Values": ["ElasticMapReduce-master", "ElasticMapReduce-slave",
                                          "ElasticMapReduce-Master-Private", "ElasticMapReduce-Slave-Private",
                                          "ElasticMapReduce-ServiceAccess"]}]}
    for request in (ec2.describe_vpc("vpc-1"), ec2.find_emr_default_groups("vpc-1")):
        _valid(request)


def test_ssh_group_is_described_with_its_project_in_characters_ec2_takes() -> None:
    request = ec2.create_ssh_group("team-7", "vpc-1")
    assert request.params["Description"] == "team-7: SSH to the EMR master from the operator IP only"
    assert request.params["GroupName"] == "team-7-ssh"


def test_emr_tag_requests_add_and_remove_only_that_tag() -> None:
    """Protects resources that are not ours: only the EMR tag with value true is added or taken."""
    tag = [{"Key": "for-use-with-amazon-emr-managed-policies", "Value": "true"}]
    assert ec2.add_emr_tag(["subnet-1", "vpc-1"]).params == {"Resources": ["subnet-1", "vpc-1"], "Tags": tag}
    assert ec2.remove_emr_tag(["subnet-1"]).params == {"Resources": ["subnet-1"], "Tags": tag}
    assert ec2.remove_emr_tag(["subnet-1"]).operation == "DeleteTags"
    assert ec2.lacks_emr_tag({"Tags": [{"Key": tag[0]["Key"], "Value": "false"}]})
    assert not ec2.lacks_emr_tag({"Tags": tag})
    assert ec2.lacks_emr_tag({})
    for request in (ec2.add_emr_tag(["subnet-1"]), ec2.remove_emr_tag(["subnet-1"])):
        _valid(request)


def test_pipeline_step_is_named_and_keeps_the_cluster_on_failure() -> None:
    """Protects the step users find in the console, and that a failed run leaves the cluster
    up (ActionOnFailure CONTINUE) for its logs and a re-run."""
    step = steps.pipeline_step("s3://b/raw/", "s3://b/output/")
    assert step["Name"] == "bigfruits run" and step["ActionOnFailure"] == "CONTINUE"
    assert steps.step_log_key("j-1", "s-1") == "logs/j-1/steps/s-1/stderr.gz"
    assert steps.step_log_key("j-1", "s-1", "stdout") == "logs/j-1/steps/s-1/stdout.gz"


def test_every_flavor_runs_pyspark_on_the_bootstrapped_python() -> None:
    """Protects the Python the cluster's Spark uses (the one our bootstrap installed into)."""
    expected = {"Classification": "spark-env", "Properties": {}, "Configurations": [
        {"Classification": "export",
         "Properties": {"PYSPARK_PYTHON": flavors.NODE_PYTHON, "PYSPARK_DRIVER_PYTHON": flavors.NODE_PYTHON}}]}
    assert flavors.spark_env() == expected
    for flavor in flavors.FLAVORS.values():
        assert flavor.configurations[0] == expected


def test_run_job_flow_instances_roles_and_lifetime_exactly() -> None:
    """Protects what a cluster is made of and how long it lives: one on-demand master, the
    core group only when asked for, kept alive between steps (auto-terminated when idle by
    its policy), not termination-protected (so terminate/destroy work), visible to the
    account, logs in our bucket, our two roles."""
    settings = AwsSettings(region="eu-west-1", bucket="bkt", core_count=3, subnet_id="subnet-9",
                           master_type="m5.2xlarge", core_type="r5.xlarge", project="fr")
    params = clusters.run_job_flow(settings, flavors.get_flavor("studio"), "sg-1", "x", account_id=ACCOUNT).params
    data_volume = {"EbsBlockDeviceConfigs": [{"VolumeSpecification": {"VolumeType": "gp3", "SizeInGB": 64},
                                              "VolumesPerInstance": 1}]}  # what the estimate prices
    assert params["Instances"] == {
        "AdditionalMasterSecurityGroups": ["sg-1"], "Ec2KeyName": "fr-key",
        "InstanceGroups": [
            {"Name": "master", "InstanceRole": "MASTER", "Market": "ON_DEMAND",
             "InstanceType": "m5.2xlarge", "InstanceCount": 1, "EbsConfiguration": data_volume},
            {"Name": "core", "InstanceRole": "CORE", "Market": "ON_DEMAND",
             "InstanceType": "r5.xlarge", "InstanceCount": 3, "EbsConfiguration": data_volume}],
        "KeepJobFlowAliveWhenNoSteps": True, "TerminationProtected": False, "Ec2SubnetId": "subnet-9"}
    assert (params["LogUri"], params["ServiceRole"], params["JobFlowRole"], params["VisibleToAllUsers"]) == (
        # by ARN with their /bigfruits/ path: RunJobFlow resolves a bare name to role/<name>
        "s3://bkt/logs/", f"arn:aws:iam::{ACCOUNT}:role/bigfruits/fr-emr-service-role",
        f"arn:aws:iam::{ACCOUNT}:instance-profile/bigfruits/fr-emr-ec2-role", True)
    assert params["BootstrapActions"] == [{
        "Name": "install bigfruits",
        "ScriptBootstrapAction": {"Path": "s3://bkt/bootstrap/bootstrap.sh", "Args": [
            "s3://bkt/wheelhouse/wheelhouse.tar", "node", "s3://bkt/bootstrap/constraints-emr7.txt"]}}]
    _valid(clusters.run_job_flow(settings, flavors.get_flavor("studio"), "sg-1", "x", account_id=ACCOUNT))
    alone = clusters.run_job_flow(AwsSettings(bucket="bkt", core_count=0), flavors.get_flavor("studio"), "sg-1",
                                  account_id=ACCOUNT)
    assert [g["Name"] for g in alone.params["Instances"]["InstanceGroups"]] == ["master"]
    no_bucket = clusters.run_job_flow(AwsSettings(bucket=None), flavors.get_flavor("studio"), "sg-1",
                                      account_id=ACCOUNT)
    assert no_bucket.params["LogUri"] == "s3:///logs/"  # a dry run without a bucket: visibly empty


def test_instance_counts_for_the_cost_estimate() -> None:
    """Protects the cost estimate's inputs: one master plus the core nodes, per type."""
    assert clusters.instance_counts(AwsSettings(core_count=2, master_type="a", core_type="b")) == {"a": 1, "b": 2}
    assert clusters.instance_counts(AwsSettings(core_count=2, master_type="a", core_type="a")) == {"a": 3}
    assert clusters.instance_counts(AwsSettings(core_count=0, master_type="a", core_type="b")) == {"a": 1}


def test_listings_and_lookups_name_exactly_what_they_look_for() -> None:
    """Protects finding our resources (and only ours): filters, paths, markers, exactly."""
    from bigfruits.aws.core.tags import ours_filters

    expected = [
        (clusters.describe_cluster("j-1"), "emr", "DescribeCluster", {"ClusterId": "j-1"}),
        (clusters.list_active_clusters(), "emr", "ListClusters",
         {"ClusterStates": list(clusters.ACTIVE_STATES)}),
        (ec2.find_our_groups("fr"), "ec2", "DescribeSecurityGroups", {"Filters": ours_filters("fr")}),
        (ec2.find_our_key_pairs("fr"), "ec2", "DescribeKeyPairs", {"Filters": ours_filters("fr")}),
        (ec2.describe_key_pair("k"), "ec2", "DescribeKeyPairs",
         {"Filters": [{"Name": "key-name", "Values": ["k"]}]}),
        (iam.list_our_instance_profiles(), "iam", "ListInstanceProfiles", {"PathPrefix": "/bigfruits/"}),
    ]
    for request, service, operation, params in expected:
        assert (request.service, request.operation, request.params) == (service, operation, params)
        _valid(request)
    assert set(clusters.ACTIVE_STATES) == {"STARTING", "BOOTSTRAPPING", "RUNNING", "WAITING", "TERMINATING"}


def test_jupyterhub_password_step_runs_bash_and_terminates_on_failure() -> None:
    """Protects the password step: named for the console, run by bash -c (pipefail, trap),
    and a failure terminates the cluster (never one left with the default password)."""
    step = steps.jupyterhub_password_step("s3://b/secrets/p")
    assert step["Name"] == "set JupyterHub password" and step["ActionOnFailure"] == "TERMINATE_CLUSTER"
    assert step["HadoopJarStep"]["Args"][:2] == ["bash", "-c"]
    assert step["HadoopJarStep"]["Jar"] == "command-runner.jar"


def _trust(service: str) -> Dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]}


#: EMR's service role trusts EMR acting for this account only, in any region (AWS's trust
#: policy for the service role, with the confused-deputy conditions: iam_policies.service_trust_policy)
SERVICE_TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "elasticmapreduce.amazonaws.com"}, "Action": "sts:AssumeRole",
     "Condition": {"StringEquals": {"aws:SourceAccount": "123456789012"},
                   "ArnLike": {"aws:SourceArn": "arn:aws:elasticmapreduce:*:123456789012:*"}}}]}


def test_service_role_gets_the_v2_policy_and_may_pass_only_our_node_role_to_ec2() -> None:
    """Protects the cluster's start under AmazonEMRServicePolicy_v2: v2 attached, the v1 policy
    (being deprecated) detached, and PassRole on exactly our nodes' role, to EC2 only (v2's own
    PassRole names EMR_EC2_DefaultRole alone); and who may assume the role: today's trust put
    again on a role an older version made (its trust named EMR for any account)."""
    trust, attach, pass_role, detach = iam.service_role_policies("p", "123456789012")
    assert (trust.operation, trust.params["RoleName"]) == ("UpdateAssumeRolePolicy", "p-emr-service-role")
    assert json.loads(trust.params["PolicyDocument"]) == SERVICE_TRUST
    assert (attach.operation, attach.params) == ("AttachRolePolicy", {
        "RoleName": "p-emr-service-role",
        "PolicyArn": "arn:aws:iam::aws:policy/service-role/AmazonEMRServicePolicy_v2"})
    assert (detach.operation, detach.params) == ("DetachRolePolicy", {
        "RoleName": "p-emr-service-role",
        "PolicyArn": "arn:aws:iam::aws:policy/service-role/AmazonElasticMapReduceRole"})
    assert pass_role.operation == "PutRolePolicy" and pass_role.params["RoleName"] == "p-emr-service-role"
    (statement,) = json.loads(pass_role.params["PolicyDocument"])["Statement"]
    assert statement["Action"] == "iam:PassRole"
    assert statement["Resource"] == "arn:aws:iam::123456789012:role/bigfruits/p-emr-ec2-role"
    assert statement["Condition"] == {"StringLike": {"iam:PassedToService": "ec2.amazonaws.com*"}}
    for request in (trust, attach, pass_role, detach):
        _valid(request)


@pytest.mark.parametrize("build, role, trust, policy", [
    (lambda project: iam.create_service_role(project, "123456789012"), "p-emr-service-role", SERVICE_TRUST,
     None),  # its policies: service_role_policies (v2 + PassRole), tested above
    (iam.create_ec2_role, "p-emr-ec2-role", _trust("ec2.amazonaws.com"),
     None),  # the nodes' role: our own inline policy (put_node_policy), no managed one
], ids=["service-role", "ec2-role"])
def test_cluster_roles_trust_exactly_their_aws_service(build: Callable[[str], List[AwsRequest]], role: str,
                                                       trust: Dict[str, Any], policy: Optional[str]) -> None:
    """Protects who may act as our cluster roles: each role's trust policy lets exactly one
    AWS service assume it (EMR, for this account only, for the service role; EC2 for the
    instances' role), and the role is ours (path, tags, description)."""
    requests = build("p")
    create = requests[0]
    assert create.operation == "CreateRole"
    assert {k: v for k, v in create.params.items() if k != "AssumeRolePolicyDocument"} == {
        "RoleName": role, "Path": "/bigfruits/", "Description": "p: created by bigfruits aws",
        "Tags": [{"Key": "bigfruits:managed", "Value": "true"}, {"Key": "bigfruits:project", "Value": "p"}]}
    assert json.loads(create.params["AssumeRolePolicyDocument"]) == trust
    attached = [r.params for r in requests if r.operation == "AttachRolePolicy"]
    assert attached == ([{"RoleName": role, "PolicyArn": policy}] if policy else [])
    for request in requests:
        _valid(request)


def test_ec2_role_is_reached_through_its_instance_profile() -> None:
    """Protects what the cluster's instances run as: an instance profile of the same name,
    ours, holding the EC2 role."""
    requests = iam.create_ec2_role("p")
    assert [(r.operation, r.params) for r in requests[-2:]] == [
        ("CreateInstanceProfile", {"InstanceProfileName": "p-emr-ec2-role", "Path": "/bigfruits/", "Tags": [
            {"Key": "bigfruits:managed", "Value": "true"}, {"Key": "bigfruits:project", "Value": "p"}]}),
        ("AddRoleToInstanceProfile", {"InstanceProfileName": "p-emr-ec2-role", "RoleName": "p-emr-ec2-role"}),
    ]
    assert resource_names.instance_profile_name("q") == "q-emr-ec2-role"


def test_policy_updates_replace_the_document_and_become_default() -> None:
    """Protects re-runs: a changed trust or user policy is sent whole and takes effect."""
    trust = _trust("elasticmapreduce.amazonaws.com")
    update = iam.update_trust("r", trust)
    assert update.operation == "UpdateAssumeRolePolicy" and update.params["RoleName"] == "r"
    assert json.loads(update.params["PolicyDocument"]) == trust
    version = iam.new_policy_version("arn:aws:iam::1:policy/x", trust)
    assert version.operation == "CreatePolicyVersion"
    assert version.params["PolicyArn"] == "arn:aws:iam::1:policy/x" and version.params["SetAsDefault"] is True
    assert json.loads(version.params["PolicyDocument"]) == trust
    for request in (update, version):
        _valid(request)


def test_key_pair_ssh_rule_and_group_exactly() -> None:
    """Protects SSH access: an RSA key in PEM (what ssh reads), tagged ours; the rule is TCP
    22 from one CIDR, described; the group is named for the project."""
    key = ec2.create_key_pair("k", "p")
    assert key.params == {"KeyName": "k", "KeyType": "rsa", "KeyFormat": "pem", "TagSpecifications": [
        {"ResourceType": "key-pair", "Tags": [{"Key": "bigfruits:managed", "Value": "true"},
                                              {"Key": "bigfruits:project", "Value": "p"}]}]}
    assert ec2.ssh_permission("203.0.113.7/32") == [{
        "IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
        "IpRanges": [{"CidrIp": "203.0.113.7/32", "Description": "bigfruits connect"}]}]
    assert ec2.create_ssh_group("p", "vpc-1").params["GroupName"] == "p-ssh"


def test_unknown_flavor_names_it_and_lists_the_choices() -> None:
    with pytest.raises(InputError) as raised:
        flavors.get_flavor("zeppelin")
    assert (raised.value.what, raised.value.todo) == ("unknown cluster flavor 'zeppelin'",
                                                      "choose one of: jupyterhub, studio")


def test_finders_filter_exactly_on_what_identifies_ours() -> None:
    """Protects lookups that decide what is ours or where things go: the default VPC, a
    VPC's subnets, Studio's groups (by VPC and name, or by tags and name), our roles and
    customer-managed policies under our path, Studio listings."""
    from bigfruits.aws.core.settings import StudioSettings
    from bigfruits.aws.requests.emr import studio

    s = StudioSettings(project="bigfruits", bucket="bf", region="eu-west-3")
    names = [s.workspace_sg_name, s.engine_sg_name]
    expected = [
        (ec2.find_default_vpc(), {"Filters": [{"Name": "isDefault", "Values": ["true"]}]}),
        (ec2.find_subnets("vpc-1"), {"Filters": [{"Name": "vpc-id", "Values": ["vpc-1"]}]}),
        (ec2.find_studio_groups(s, "vpc-1"), {"Filters": [{"Name": "vpc-id", "Values": ["vpc-1"]},
                                                          {"Name": "group-name", "Values": names}]}),
        (ec2.find_tagged_studio_groups(s), {"Filters": [
            {"Name": f"tag:{k}", "Values": [v]} for k, v in sorted(s.tags.items())]
            + [{"Name": "group-name", "Values": names}]}),
        (iam.list_our_roles(), {"PathPrefix": "/bigfruits/"}),
        (iam.list_our_policies(), {"Scope": "Local", "PathPrefix": "/bigfruits/"}),
        (studio.list_studios(), {}),
        (studio.list_session_mappings("es-1"), {"StudioId": "es-1"}),
    ]
    for request, params in expected:
        assert request.params == params, request.operation
        _valid(request)
    assert s3.s3_uri("b") == "s3://b/" and s3.s3_uri("b", "k") == "s3://b/k"


def test_studio_groups_are_tagged_and_named_at_creation() -> None:
    """Protects finding Studio's groups again: tags (and the Name tag) set at creation."""
    from bigfruits.aws.core.settings import StudioSettings

    s = StudioSettings(project="bigfruits", bucket="bf", region="eu-west-3")
    params = ec2.create_studio_group(s, "g", "d", "vpc-1").params
    assert params["TagSpecifications"] == [{"ResourceType": "security-group", "Tags": sorted(
        [{"Key": k, "Value": v} for k, v in {**s.security_group_tags, "Name": "g"}.items()],
        key=lambda t: t["Key"])}]
    assert (params["GroupName"], params["Description"], params["VpcId"]) == ("g", "d", "vpc-1")


def test_policy_documents_are_sent_whole_as_sorted_json() -> None:
    """Protects inline and managed policies: the document itself, as stable (sorted) JSON, so
    a re-run sends byte-identical documents."""
    document = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject",
                                                        "Resource": "*"}]}
    text = ('{"Statement": [{"Action": "s3:GetObject", "Effect": "Allow", "Resource": "*"}], '
            '"Version": "2012-10-17"}')
    inline = iam.put_inline_policy("r", "p", document)
    managed = iam.create_policy("p", document, "d", {"bigfruits:project": "x"})
    assert inline.params == {"RoleName": "r", "PolicyName": "p", "PolicyDocument": text}
    assert managed.params["PolicyDocument"] == text and managed.params["Path"] == "/bigfruits/"
    for request in (inline, managed):
        _valid(request)


def test_pick_subnets_treats_a_missing_public_flag_as_private() -> None:
    """Protects the public-first choice when EC2's answer lacks the flag or the zone."""
    zone = [{"SubnetId": "subnet-a", "AvailabilityZone": "z1"},
            {"SubnetId": "subnet-b", "AvailabilityZone": "z1", "MapPublicIpOnLaunch": True}]
    assert ec2.pick_subnets(zone) == ["subnet-b"]
    assert ec2.pick_subnets([{"SubnetId": "subnet-a"}, {"SubnetId": "subnet-b", "AvailabilityZone": "z1"}]) == [
        "subnet-a", "subnet-b"]


def test_run_output_folders_and_s3_uris_split_into_bucket_and_key() -> None:
    """Protects `download` finding a run's output: each run's folder is under the bucket's
    output/ prefix and ends with '/' (so a prefix listing stays inside it), and an s3:// URI
    splits into its bucket and the key after the first '/' (nothing after a bare bucket)."""
    assert s3.run_output_key("20261127-abc") == s3.OUTPUT_PREFIX + "20261127-abc/"
    assert s3.OUTPUT_PREFIX == "output/"
    assert s3.split_s3_uri("s3://my-bucket/output/run 1/part-0.parquet") == (
        "my-bucket", "output/run 1/part-0.parquet")
    assert s3.split_s3_uri("s3://my-bucket/output/") == ("my-bucket", "output/")
    assert s3.split_s3_uri("s3://my-bucket") == ("my-bucket", "")
    assert s3.split_s3_uri(s3.s3_uri("b", s3.run_output_key("r"))) == ("b", "output/r/")


def test_a_step_uses_s3_uris_in_the_project_bucket_only() -> None:
    """Protects `submit` and `run` from starting work that must fail on the cluster: the nodes'
    role reads and writes the project's bucket only, and EMR's scheme is s3://. Each refusal is
    one line naming the option and giving the URI to pass instead."""
    assert s3.cluster_location("s3://b/raw/", "b", "--input") == "s3://b/raw/"
    assert s3.cluster_location("s3://b", "b", "--output") == "s3://b"
    assert s3.cluster_location("s3://b/odd://name/", "b", "--output") == "s3://b/odd://name/"
    cases = {
        ("s3a://b/out/", "--output"): "pass --output s3://b/out/",
        ("s3n://b/out/", "--output"): "pass --output s3://b/out/",
        ("/home/me/out", "--output"): "pass --output s3://b/…",
        ("S3://b/out/", "--output"): "pass --output s3://b/…",
        ("s3://other/raw/x/", "--input"): "pass --input s3://b/raw/x/ (upload the images there",
        ("s3://other", "--output"): "pass --output s3://b/…",
        ("s3://b-2/out/", "--output"): "pass --output s3://b/out/",
    }
    for (uri, option), todo in cases.items():
        with pytest.raises(InputError) as refused:
            s3.cluster_location(uri, "b", option)
        message = str(refused.value)
        assert message.startswith(f"{option} {uri}: ") and todo in message and "\n" not in message
        assert ("upload" in message) == (option == "--input" and "s3://other/" in uri)
    with pytest.raises(InputError) as refused:
        s3.cluster_location("s3://other/out/", "b", "--output")
    assert str(refused.value).endswith("pass --output s3://b/out/")
    with pytest.raises(ValueError, match="not an s3:// URI: 's3a://b/key'"):
        s3.split_s3_uri("s3a://b/key")
