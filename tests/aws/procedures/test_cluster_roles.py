"""The cluster's IAM roles as RunJobFlow receives them, and the nodes' own policy.

moto server: the roles, the instance profile and the cluster are real moto resources; moto does
not resolve role names, so what matters is what we send, read back from DescribeCluster."""
from __future__ import annotations

from tests.support.aws.cli import run
from tests.support.aws.server import ACCOUNT, BUCKET, boto


def test_run_job_flow_names_both_roles_by_arn_with_our_path(aws_env, built_wheel) -> None:
    # A bare name resolves to role/<name> (no path): EMR would refuse our /bigfruits/ roles.
    run(["create-bucket"])
    run(["create-cluster", "--yes", "--wheel", str(built_wheel)])
    emr = boto("emr")
    cluster = emr.describe_cluster(ClusterId=emr.list_clusters()["Clusters"][0]["Id"])["Cluster"]
    iam = boto("iam")
    assert cluster["ServiceRole"] == iam.get_role(RoleName="bigfruits-emr-service-role")["Role"]["Arn"]
    assert cluster["ServiceRole"] == f"arn:aws:iam::{ACCOUNT}:role/bigfruits/bigfruits-emr-service-role"
    profile = iam.get_instance_profile(InstanceProfileName="bigfruits-emr-ec2-role")["InstanceProfile"]
    assert profile["Arn"] == f"arn:aws:iam::{ACCOUNT}:instance-profile/bigfruits/bigfruits-emr-ec2-role"
    assert cluster["Ec2InstanceAttributes"]["IamInstanceProfile"] == profile["Arn"]


def assert_well_formed_iam_policy(document: dict) -> None:
    """The grammar IAM checks (Version, a Statement list, Effect/Action/Resource in each), and
    our own rule: no statement grants all of S3 on every resource."""
    assert document["Version"] == "2012-10-17"
    assert isinstance(document["Statement"], list) and document["Statement"]
    for statement in document["Statement"]:
        assert statement["Effect"] in ("Allow", "Deny")
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        assert actions and resources and all(":" in a or a == "*" for a in actions)
        wide_s3 = [a for a in actions if a in ("*", "s3:*")]
        assert not (wide_s3 and "*" in resources), statement
        for action in actions:
            if action.startswith("s3:"):
                assert all(r.startswith("arn:aws:s3:::bkt") for r in resources), statement


def test_node_policy_is_well_formed_and_limited_to_our_bucket() -> None:
    from bigfruits.aws.requests.iam_policies import node_policy

    document = node_policy("bkt")
    assert_well_formed_iam_policy(document)
    actions = {a for s in document["Statement"] for a in s["Action"]}
    # what the pipeline, the bootstrap, EMR's log upload and the password step do
    assert {"s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:ListBucket"} <= actions
    assert "elasticmapreduce:DescribeCluster" in actions or "elasticmapreduce:Describe*" in actions


def test_nodes_role_has_our_policy_not_the_account_wide_one(aws_env, built_wheel) -> None:
    # moto server: the role and its policies as IAM stores them.
    run(["create-bucket"])
    run(["create-cluster", "--yes", "--wheel", str(built_wheel)])
    iam = boto("iam")
    role = "bigfruits-emr-ec2-role"
    attached = [p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]]
    assert not any("AmazonElasticMapReduceforEC2Role" in arn for arn in attached)
    [name] = iam.list_role_policies(RoleName=role)["PolicyNames"]
    document = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
    resources = {r for s in document["Statement"] for r in ([s["Resource"]] if isinstance(s["Resource"], str) else s["Resource"])}
    assert f"arn:aws:s3:::{BUCKET}/*" in resources


def test_the_service_role_may_pass_our_node_role_as_iam_stores_it(aws_env, built_wheel) -> None:
    """Protects the cluster's start under AmazonEMRServicePolicy_v2 (which passes only a role
    named EMR_EC2_DefaultRole): the PassRole policy is in IAM, on the service role, naming our
    nodes' role, and v2 is attached. moto server: the role's policies as IAM keeps them."""
    from bigfruits.aws.requests.iam import PASS_ROLE_POLICY_NAME
    from bigfruits.aws.requests.iam_policies import pass_node_role_policy

    run(["create-bucket"])
    run(["create-cluster", "--yes", "--wheel", str(built_wheel)])
    iam = boto("iam")
    kept = iam.get_role_policy(RoleName="bigfruits-emr-service-role", PolicyName=PASS_ROLE_POLICY_NAME)
    assert kept["PolicyDocument"] == pass_node_role_policy(
        f"arn:aws:iam::{ACCOUNT}:role/bigfruits/bigfruits-emr-ec2-role")
    attached = [p["PolicyArn"] for p in iam.list_attached_role_policies(
        RoleName="bigfruits-emr-service-role")["AttachedPolicies"]]
    assert attached == ["arn:aws:iam::aws:policy/service-role/AmazonEMRServicePolicy_v2"]


def test_a_service_role_an_older_version_made_gets_todays_trust_and_policies(aws_env, built_wheel) -> None:
    """A role made before the trust named this account (any account's EMR could assume it) and
    with the v1 policy attached: create-cluster updates its trust, detaches v1, attaches v2."""
    import json

    from bigfruits.aws.core.tags import managed_tags, tag_list
    from bigfruits.aws.requests.iam_policies import service_trust_policy, trust_policy

    iam = boto("iam")
    iam.create_role(RoleName="bigfruits-emr-service-role", Path="/bigfruits/", Tags=tag_list(managed_tags("bigfruits")),
                    AssumeRolePolicyDocument=json.dumps(trust_policy("elasticmapreduce.amazonaws.com")))
    iam.attach_role_policy(RoleName="bigfruits-emr-service-role",
                           PolicyArn="arn:aws:iam::aws:policy/service-role/AmazonElasticMapReduceRole")
    run(["create-bucket"])
    run(["create-cluster", "--yes", "--wheel", str(built_wheel)])
    stored = iam.get_role(RoleName="bigfruits-emr-service-role")["Role"]["AssumeRolePolicyDocument"]
    assert stored == service_trust_policy(ACCOUNT)
    attached = [p["PolicyArn"] for p in iam.list_attached_role_policies(
        RoleName="bigfruits-emr-service-role")["AttachedPolicies"]]
    assert attached == ["arn:aws:iam::aws:policy/service-role/AmazonEMRServicePolicy_v2"]
