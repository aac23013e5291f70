"""Pure request builders: shapes, and validity against botocore's service models."""
from __future__ import annotations

import json

import botocore.session
import pytest
from botocore.stub import Stubber

from bigfruits.aws.core.settings import AwsSettings
from bigfruits.aws.requests import ec2, iam, s3
from bigfruits.aws.requests.emr import clusters, steps
from bigfruits.aws.requests.emr.flavors import FLAVORS, get_flavor
from bigfruits.errors import InputError
from tests.support.aws.model import assert_valid as _valid

#: pure: no Spark, no moto, no network (run per mutant by mutmut, docs/mutation-testing.md)
pytestmark = pytest.mark.pure

SETTINGS = AwsSettings(region="eu-west-1", bucket="bkt", core_count=3)


def test_us_east_1_bucket_has_no_location_constraint() -> None:
    assert s3.create_bucket("b", "us-east-1").params == {"Bucket": "b"}
    assert s3.create_bucket("b", "eu-west-1").params["CreateBucketConfiguration"] == {
        "LocationConstraint": "eu-west-1"}


#: All four switches of S3 Block Public Access, on: ACLs and policies can neither be set public
#: nor take effect, whatever is attempted later (a missing key means "false" to S3).
ALL_PUBLIC_ACCESS_BLOCKED = {"BlockPublicAcls": True, "IgnorePublicAcls": True,
                             "BlockPublicPolicy": True, "RestrictPublicBuckets": True}

#: The TLS-only bucket policy, written out: any S3 action on the bucket or its objects over
#: plain HTTP (aws:SecureTransport "false") is denied to everyone.
TLS_ONLY_STATEMENT = {
    "Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
    "Resource": ["arn:aws:s3:::bkt", "arn:aws:s3:::bkt/*"],
    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
}


def _one(requests, operation):  # type: ignore[no-untyped-def]
    [request] = [r for r in requests if r.operation == operation]
    return request


def test_bucket_public_access_block_sets_all_four_flags() -> None:
    """Protects the bucket's privacy: the PutPublicAccessBlock request carries exactly the four
    flags, all True (dropping one, e.g. RestrictPublicBuckets, or setting one False fails)."""
    request = _one(s3.secure_bucket("bkt", "proj"), "PutPublicAccessBlock")
    assert request.params == {"Bucket": "bkt",
                              "PublicAccessBlockConfiguration": ALL_PUBLIC_ACCESS_BLOCKED}


def test_tls_only_policy_denies_exactly_plain_http() -> None:
    """Protects TLS-only access: the whole policy document, so flipping SecureTransport to
    "true" (which would deny HTTPS and allow HTTP), widening Principal/Action/Resource or
    turning Deny into Allow fails."""
    request = _one(s3.secure_bucket("bkt", "proj"), "PutBucketPolicy")
    assert request.params["Bucket"] == "bkt"
    assert json.loads(request.params["Policy"]) == {"Version": "2012-10-17",
                                                    "Statement": [TLS_ONLY_STATEMENT]}


def test_bucket_is_encrypted_tagged_and_laid_out() -> None:
    """Protects the rest of securing a bucket: AES256 default encryption, our tags, the layout
    markers, and that every request is valid for S3's model."""
    requests = s3.secure_bucket("bkt", "proj")
    encryption = _one(requests, "PutBucketEncryption").params["ServerSideEncryptionConfiguration"]
    assert encryption == {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}
    tags = _one(requests, "PutBucketTagging").params["Tagging"]["TagSet"]
    assert {"Key": "bigfruits:project", "Value": "proj"} in tags
    assert {"Key": "bigfruits:managed", "Value": "true"} in tags
    # nothing under output/: a marker there made the first submit's output "already exist"
    assert [r.params["Key"] for r in requests if r.operation == "PutObject"] == [
        "raw/", "logs/", "notebooks/", "bootstrap/"]
    assert [r.operation for r in requests[:5]] == [
        "PutPublicAccessBlock", "PutBucketEncryption", "PutBucketPolicy", "PutBucketTagging",
        "PutBucketLifecycleConfiguration"]
    for request in requests:
        _valid(request)


def test_what_the_bucket_lets_expire() -> None:
    """Protects the account from what only grows: EMR's logs after 30 days, wheelhouses after
    60, a JupyterHub password whose step never ran after 1, the parts of failed multipart
    uploads (billed, never listed) after 7; nothing else (raw/, output/, models/, studio/ stay)."""
    rules = _one(s3.secure_bucket("bkt", "p"), "PutBucketLifecycleConfiguration")
    assert rules.params["Bucket"] == "bkt"
    assert rules.params["LifecycleConfiguration"] == {"Rules": [
        {"ID": "expire-emr-logs", "Status": "Enabled", "Filter": {"Prefix": "logs/"}, "Expiration": {"Days": 30}},
        {"ID": "expire-old-wheelhouses", "Status": "Enabled", "Filter": {"Prefix": "wheelhouse/"},
         "Expiration": {"Days": 60}},
        {"ID": "expire-unused-secrets", "Status": "Enabled", "Filter": {"Prefix": "secrets/"},
         "Expiration": {"Days": 1}},
        {"ID": "abort-failed-multipart-uploads", "Status": "Enabled", "Filter": {"Prefix": ""},
         "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7}}]}
    _valid(rules)


def test_bucket_policy_request_is_what_s3_receives() -> None:
    """Protects what reaches S3 as a client sends it: through botocore's Stubber the request
    passes S3's model, and the parameters the client sends are compared with a literal
    expectation (not with the request itself). That the moto server then holds it:
    tests/aws/commands/test_create_bucket.py."""
    client = botocore.session.get_session().create_client(
        "s3", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x")
    request = _one(s3.secure_bucket("bkt", "p"), "PutBucketPolicy")
    expected_policy = json.dumps({"Statement": [TLS_ONLY_STATEMENT], "Version": "2012-10-17"},
                                 sort_keys=True)
    with Stubber(client) as stub:
        stub.add_response("put_bucket_policy", {}, {"Bucket": "bkt", "Policy": expected_policy})
        # The Stubber raises StubAssertionError if the sent parameters differ from the expected.
        assert client.put_bucket_policy(**request.params) == {}
        stub.assert_no_pending_responses()


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
        "s3://bkt/wheelhouse/wheelhouse.tar", "node", "s3://bkt/bootstrap/constraints-emr7.txt"]
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
    # a notebook left open holds a Livy session (a YARN application: the cluster is not idle)
    # for 2 h after its last cell, not Livy's 8 h; a cell still running is never ended for it
    livy = {c["Classification"]: c for c in params["Configurations"]}["livy-conf"]["Properties"]
    assert livy == {"livy.server.session.timeout": "2h", "livy.server.session.timeout-check.skip-busy": "true"}
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
    # AWS's EMR Studio recommendations: a long Livy session timeout, Spark sessions in cluster
    # mode; a running cell never timed out
    assert livy == {"livy.server.session.timeout": "8h", "livy.spark.deploy-mode": "cluster",
                    "livy.server.session.timeout-check.skip-busy": "true"}
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
    for request in iam.create_service_role("p", "123456789012") + iam.create_ec2_role("p") + [ec2.create_key_pair("k", "p")]:
        _valid(request)
    assert iam.create_service_role("p", "123456789012")[0].params["Path"] == "/bigfruits/"
    assert iam.delete_role("r", ["arn:a"])[-1].operation == "DeleteRole"


def test_price_list_requests_are_valid_and_go_to_the_price_list_endpoint() -> None:
    from bigfruits.aws.requests import pricing

    for request in (pricing.ec2_instance("eu-west-1", "m5.xlarge"), pricing.emr_instance("eu-west-1", "m5.xlarge"),
                    pricing.gp3_storage("eu-west-1")):
        _valid(request)
        assert request.region == "us-east-1" and request.operation == "GetProducts"
        assert {"Type": "TERM_MATCH", "Field": "regionCode", "Value": "eu-west-1"} in request.params["Filters"]
        assert json.loads(request.to_json())["region"] == "us-east-1"  # shown when printed
