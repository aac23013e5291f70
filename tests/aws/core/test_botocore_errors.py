"""Faults become one line saying what to do, through the real ``bigfruits`` entry point."""
from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from botocore import exceptions as bce

from bigfruits.aws.core.botocore_errors import translate
from bigfruits.cli import main
from bigfruits.errors import AwsError
from tests.support.aws.cli import run
from tests.support.aws.server import BUCKET, boto


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


class _Refusing(BaseHTTPRequestHandler):
    """An endpoint that refuses everything with 403: an empty body (a proxy, a wrong endpoint)
    or S3's AccessDenied (what our TLS-only bucket policy answers a plain-HTTP request)."""

    body = b""

    def _refuse(self) -> None:
        self.send_response(403)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(self.body)

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _refuse

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def refusing_endpoint(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    """A local plain-HTTP server standing in for an endpoint that answers 403 (moto cannot be
    made to refuse a request with an empty body)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Refusing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    for name, value in {"AWS_ENDPOINT_URL": url, "AWS_ACCESS_KEY_ID": "testing",
                        "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "eu-west-1",
                        "AWS_EC2_METADATA_DISABLED": "true", "AWS_MAX_ATTEMPTS": "1",
                        "BIGFRUITS_STATE_DIR": str(tmp_path / "state"),
                        "BIGFRUITS_CONFIG": str(tmp_path / "none.toml"),
                        "XDG_CONFIG_HOME": str(tmp_path)}.items():
        monkeypatch.setenv(name, value)
    yield url
    server.shutdown()


def test_a_403_without_body_says_operation_code_and_what_to_do(refusing_endpoint, monkeypatch, capsys) -> None:
    monkeypatch.setattr(_Refusing, "body", b"")
    assert main(["aws", "--bucket", "b-1", "create-bucket"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "s3 ListBuckets: 403 (Forbidden)" in err
    assert "see the message above" not in err and "permission" in err and refusing_endpoint in err


def test_tls_only_bucket_and_plain_http_endpoint_says_so(refusing_endpoint, monkeypatch, capsys) -> None:
    monkeypatch.setattr(_Refusing, "body", b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied'
                                           b'</Code><Message>Access Denied</Message></Error>')
    assert main(["aws", "--bucket", "b-1", "create-bucket"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "s3 ListBuckets: AccessDenied (Access Denied)" in err
    assert f"AWS_ENDPOINT_URL is plain HTTP ({refusing_endpoint})" in err and "https://" in err
