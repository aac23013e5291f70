"""Faults become one line saying what to do, through the real ``bigfruits`` entry point."""
from __future__ import annotations

import pytest
from botocore import exceptions as bce

from bigfruits.aws.core.errors import translate
from bigfruits.cli import main
from bigfruits.errors import AwsError
from tests.support.aws_cli import run
from tests.support.moto_server import BUCKET, boto


def _client_error(code: str, message: str = "msg") -> bce.ClientError:
    return bce.ClientError({"Error": {"Code": code, "Message": message}}, "RunJobFlow")


@pytest.mark.parametrize("exc, hint", [
    (bce.NoCredentialsError(), "aws configure"),
    (bce.EndpointConnectionError(endpoint_url="https://emr.nowhere-1.amazonaws.com"), "--region"),
    (bce.NoRegionError(), "--region"),
    (_client_error("AccessDenied"), "permission"),
    (_client_error("ThrottlingException"), "throttling after retries"),
    (_client_error("LimitExceededException"), "quota"),
    (_client_error("InvalidClientTokenId"), "credentials are invalid"),
])
def test_botocore_errors_become_one_actionable_line(exc, hint) -> None:
    error = translate(exc, "emr", "RunJobFlow")
    assert isinstance(error, AwsError)
    assert hint in str(error) and "\n" not in str(error)


def test_aws_error_keeps_aws_operation_code_and_message() -> None:
    error = translate(_client_error("NoSuchEntity", "role x not found"), "iam", "GetRole")
    assert (error.operation, error.code, error.message) == ("iam GetRole", "NoSuchEntity", "role x not found")
    assert str(error).startswith("iam GetRole: NoSuchEntity (role x not found): ")


def test_no_credentials_is_one_line_without_traceback(aws_env, monkeypatch, capsys) -> None:
    # moto server: reachable, but botocore finds no credentials before sending anything.
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    assert main(["aws", "create-bucket"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("bigfruits: error: no AWS credentials found") and err.count("\n") == 1


def test_someone_elses_bucket_is_a_clear_error(aws_env) -> None:
    # moto server: a bucket in "our" account without our tags stands for someone else's.
    boto("s3").create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    result = run(["create-bucket"], expect_ok=False)
    assert "was not created by bigfruits" in str(result.exception)


def test_key_pair_without_local_private_key_is_a_clear_error(aws_env) -> None:
    # moto server: the pair exists on AWS, its private key is not on this machine.
    boto("ec2").create_key_pair(KeyName="bigfruits-key")
    result = run(["create-keypair"], expect_ok=False)
    assert "private key" in str(result.exception) and "delete-key-pair" in str(result.exception)
