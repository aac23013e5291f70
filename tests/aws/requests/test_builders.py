"""Pure request builders: shapes, and validity against botocore's service models."""
from __future__ import annotations

import json

import botocore.session
import pytest
from botocore.stub import Stubber

from bigfruits.aws.commands.pricing import describe_cost, hourly_cost
from bigfruits.aws.core.settings import AwsSettings
from bigfruits.aws.requests import ec2, iam, s3
from bigfruits.aws.requests.emr import clusters, steps
from bigfruits.aws.requests.emr.flavors import FLAVORS, get_flavor
from bigfruits.errors import InputError
from tests.support.aws_model import assert_valid as _valid

SETTINGS = AwsSettings(region="eu-west-1", bucket="bkt", core_count=3)


def test_us_east_1_bucket_has_no_location_constraint() -> None:
    assert s3.create_bucket("b", "us-east-1").params == {"Bucket": "b"}
    assert s3.create_bucket("b", "eu-west-1").params["CreateBucketConfiguration"] == {
        "LocationConstraint": "eu-west-1"}


def test_bucket_is_private_encrypted_tls_only_and_tagged() -> None:
    requests = s3.secure_bucket("bkt", "proj")
    by_op = {r.operation: r for r in requests}
    assert all(by_op["PutPublicAccessBlock"].params["PublicAccessBlockConfiguration"].values())
    policy = json.loads(by_op["PutBucketPolicy"].params["Policy"])["Statement"][0]
    assert policy["Effect"] == "Deny" and policy["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert {"Key": "bigfruits:project", "Value": "proj"} in by_op["PutBucketTagging"].params["Tagging"]["TagSet"]
    for request in requests:
        _valid(request)


def test_bucket_policy_request_is_accepted_by_s3_model() -> None:
    # Stubber: moto ignores policy Conditions (it would deny everything), so the TLS-only
    # policy is checked here against S3's model instead of being sent to moto.
    client = botocore.session.get_session().create_client(
        "s3", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x")
    request = [r for r in s3.secure_bucket("bkt", "p") if r.operation == "PutBucketPolicy"][0]
    with Stubber(client) as stub:
        stub.add_response("put_bucket_policy", {}, request.params)
        client.put_bucket_policy(**request.params)


@pytest.mark.parametrize("name", sorted(FLAVORS))
def test_each_flavor_is_one_valid_run_job_flow(name: str) -> None:
    request = clusters.run_job_flow(SETTINGS, get_flavor(name), "sg-1", "pw", account_id="123456789012")
    _valid(request)
    params = request.params
    tags = {t["Key"]: t["Value"] for t in params["Tags"]}
    assert tags["bigfruits:managed"] == "true" and tags["bigfruits:flavor"] == name
    assert params["Instances"]["AdditionalMasterSecurityGroups"] == ["sg-1"]
    assert params["Instances"]["InstanceGroups"][1]["InstanceCount"] == 3
    assert params["BootstrapActions"][0]["ScriptBootstrapAction"]["Args"] == [
        "s3://bkt/bootstrap/bigfruits-0.1.0-py3-none-any.whl", "tf,onnx",
        "s3://bkt/bootstrap/constraints-emr7.txt"]
    classifications = {c["Classification"]: c for c in params["Configurations"]}
    export = classifications["spark-env"]["Configurations"][0]["Properties"]
    assert export["PYSPARK_PYTHON"] == "/usr/bin/python3.11"


def test_jupyterhub_flavor_persists_to_the_bucket_and_sets_a_password() -> None:
    uri = "s3://bkt/" + s3.jupyterhub_password_key("0123abcd")
    params = clusters.run_job_flow(SETTINGS, get_flavor("jupyterhub"), "sg-1", uri, account_id="123456789012").params
    # the notebook's PySpark kernel (sparkmagic) needs Livy on the cluster
    assert [a["Name"] for a in params["Applications"]] == ["Hadoop", "Spark", "Livy", "JupyterHub"]
    conf = {c["Classification"]: c for c in params["Configurations"]}["jupyter-s3-conf"]["Properties"]
    assert conf == {"s3.persistence.enabled": "true", "s3.persistence.bucket": "bkt"}
    command = params["Steps"][0]["HadoopJarStep"]["Args"][2]
    # The step reads the password from S3 and deletes it on exit; the password is not in it.
    assert f"aws s3 cp --quiet {uri} - | sudo docker exec -i jupyterhub chpasswd" in command
    assert f"trap 'aws s3 rm --quiet {uri}' EXIT" in command


def test_jupyterhub_password_object_is_private_and_encrypted() -> None:
    request = s3.put_jupyterhub_password("bkt", s3.jupyterhub_password_key("ab"), "s3cret")
    assert request.params == {"Bucket": "bkt", "Key": "secrets/jupyterhub-password-ab",
                              "Body": "jovyan:s3cret\n", "ServerSideEncryption": "AES256"}
    _valid(request)


def test_studio_flavor_has_livy_gateway_and_managed_policy_tag() -> None:
    params = clusters.run_job_flow(SETTINGS, get_flavor("studio"), "sg-1", "ignored", account_id="123456789012").params
    assert [a["Name"] for a in params["Applications"]] == ["Spark", "Livy", "JupyterEnterpriseGateway"]
    assert {"Key": "for-use-with-amazon-emr-managed-policies", "Value": "true"} in params["Tags"]
    livy = {c["Classification"]: c for c in params["Configurations"]}["livy-conf"]["Properties"]
    # AWS's EMR Studio recommendations: a long Livy session timeout, Spark in cluster mode.
    assert livy == {"livy.server.session.timeout": "8h", "livy.spark.deploy-mode": "cluster"}
    assert params["Steps"] == []


def test_unknown_flavor_is_an_input_error() -> None:
    with pytest.raises(InputError, match="choose one of: jupyterhub, studio"):
        get_flavor("zeppelin")


def test_pipeline_step_runs_our_cli_under_spark_submit() -> None:
    step = steps.pipeline_step("s3://b/raw/", "s3://b/output/", ["--k", "10"])
    assert step["HadoopJarStep"]["Args"] == [
        "spark-submit", "--deploy-mode", "client", steps.DRIVER_PATH, "run",
        "--input", "s3://b/raw/", "--output", "s3://b/output/", "--k", "10"]
    _valid(steps.add_steps("j-1", [step]))


def test_ssh_rule_is_only_the_callers_address() -> None:
    request = ec2.open_ssh("sg-1", "198.51.100.4")
    assert request.params["IpPermissions"][0]["IpRanges"][0]["CidrIp"] == "198.51.100.4/32"
    _valid(request)
    _valid(ec2.close_ssh("sg-1", "198.51.100.4/32"))
    _valid(ec2.create_ssh_group("p", "vpc-1"))


def test_roles_and_key_pair_requests_are_valid_and_tagged() -> None:
    for request in iam.create_service_role("p") + iam.create_ec2_role("p") + [ec2.create_key_pair("k", "p")]:
        _valid(request)
    assert iam.create_service_role("p")[0].params["Path"] == "/bigfruits/"
    assert iam.delete_role("r", ["arn:a"])[-1].operation == "DeleteRole"


def test_price_list_requests_are_valid_and_go_to_the_price_list_endpoint() -> None:
    from bigfruits.aws.requests import pricing

    for request in (pricing.ec2_instance("eu-west-1", "m5.xlarge"), pricing.emr_instance("eu-west-1", "m5.xlarge"),
                    pricing.gp3_storage("eu-west-1")):
        _valid(request)
        assert request.region == "us-east-1" and request.operation == "GetProducts"
        assert {"Type": "TERM_MATCH", "Field": "regionCode", "Value": "eu-west-1"} in request.params["Filters"]
        assert json.loads(request.to_json())["region"] == "us-east-1"  # shown when printed


def test_cost_estimate_says_it_is_an_estimate() -> None:
    # 3 x (EC2 0.192 + EMR 0.048) + 3 x 79 GB gp3 at $0.08/GB-month over 730 h (us-east-1)
    assert hourly_cost({"m5.xlarge": 3}) == pytest.approx(0.72 + 3 * 79 * 0.08 / 730)
    assert "estimate" in describe_cost({"m5.xlarge": 3})
    assert "$1.49 so far" in describe_cost({"m5.xlarge": 3}, hours=2.0)
    assert "unavailable" in describe_cost({"x9.huge": 1})
