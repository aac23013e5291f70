"""botocore's exceptions (and boto3's transfer errors around them) -> one-line ``AwsError``s that
say what happened and what to do, keeping AWS's operation, error code and message on the error."""
from __future__ import annotations

from typing import Optional

from botocore import exceptions as bce

from bigfruits.errors import AwsError, BigfruitsError

_ACCESS_CODES = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthFailure"}
_THROTTLE_CODES = {"Throttling", "ThrottlingException", "RequestLimitExceeded", "SlowDown",
                   "TooManyRequestsException"}
_QUOTA_CODES = {"LimitExceeded", "LimitExceededException", "InstanceLimitExceeded",
                "VcpuLimitExceeded", "TooManyBuckets", "RulesPerSecurityGroupLimitExceeded"}
#: Answers that mean "nothing to remove any more" (destroy and terminate tolerate them).
GONE_CODES = ("NoSuchEntity", "InvalidKeyPair.NotFound", "InvalidGroup.NotFound", "NoSuchBucket",
              "InvalidPermission.NotFound", "ResourceNotFoundException")

_CREDENTIAL_CODES = {"InvalidClientTokenId", "SignatureDoesNotMatch", "UnrecognizedClientException",
                     "ExpiredToken", "ExpiredTokenException", "InvalidAccessKeyId"}


def translate(exc: BaseException, service: str, operation: str,
              endpoint: Optional[str] = None) -> BaseException:
    """Return the error to raise instead of ``exc`` (``exc`` itself when it is already ours
    or not an AWS problem we can explain). ``endpoint``: the URL the client talked to."""
    where = f"{service} {operation}"
    if isinstance(exc, BigfruitsError):
        return exc
    if isinstance(exc, (bce.NoCredentialsError, bce.PartialCredentialsError)):
        return AwsError(
            "no AWS credentials found",
            "run `aws configure` (or `aws sso login`), or pass --profile / set AWS_PROFILE",
        )
    if isinstance(exc, bce.ProfileNotFound):
        return AwsError(str(exc), "check --profile against ~/.aws/config")
    if isinstance(exc, bce.NoRegionError):
        from bigfruits.aws.core.settings import config_path

        return AwsError("no AWS region set", "pass --region, set AWS_REGION, or set `region` in "
                        f"~/.aws/config (`aws configure`) or under [aws] in {config_path()}")
    if isinstance(exc, bce.EndpointConnectionError):
        return AwsError(
            f"cannot reach AWS for {where} ({exc})",
            "check the network and that --region is a real region (e.g. eu-west-1)",
        )
    if isinstance(exc, bce.ClientError):
        return _client_error(exc, where, endpoint)
    if _is_boto3_transfer_error(exc):
        # boto3's transfer manager (upload_file, download_file) wraps AWS's answer in its own
        # exception: the answer is what the user needs to read.
        inner = exc.__cause__ or exc.__context__
        if isinstance(inner, (bce.BotoCoreError, bce.ClientError)):
            return translate(inner, service, operation, endpoint)
        return AwsError(f"{where}: {exc}", "check the network and re-run (unchanged files are skipped)",
                        operation=where)
    return exc


def _is_boto3_transfer_error(exc: BaseException) -> bool:
    from boto3.exceptions import Boto3Error

    return isinstance(exc, Boto3Error)


def _client_error(exc: "bce.ClientError", where: str, endpoint: Optional[str] = None) -> BaseException:
    error = exc.response.get("Error", {})
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    code = str(error.get("Code", "") or status or "")
    message = str(error.get("Message", "")).strip()
    said = f"{where}: {code}" + (f" ({message})" if message else "")
    denied = code in _ACCESS_CODES or code.endswith("AccessDenied")
    if code == "403":  # refused without an AWS error body: not AWS's answer, or no S3 error
        todo = ("the endpoint refused the request (HTTP 403)" +
                (f": check AWS_ENDPOINT_URL ({endpoint})" if endpoint else "") +
                ", and that your IAM identity has this permission")
    elif denied and where.startswith("s3 ") and str(endpoint or "").startswith("http://"):
        # Our buckets deny any request not made over TLS (aws:SecureTransport), whatever the
        # credentials: a plain-HTTP endpoint is refused exactly like missing permissions.
        todo = (f"AWS_ENDPOINT_URL is plain HTTP ({endpoint}) and our bucket policy accepts "
                "only TLS: use an https:// endpoint")
    elif code in _CREDENTIAL_CODES:
        todo = "your credentials are invalid or expired: refresh them (aws configure / aws sso login)"
    elif denied:
        todo = "your IAM user/role lacks this permission: ask an admin or use another --profile"
    elif code in _THROTTLE_CODES:
        todo = "AWS kept throttling after retries with backoff: wait a minute and re-run"
    elif code in _QUOTA_CODES or "LimitExceeded" in code:
        todo = "a service quota is reached: free resources or request a quota increase (Service Quotas console)"
    elif code in ("InvalidParameterValue", "ValidationException") and "region" in message.lower():
        todo = "check --region"
    else:
        todo = ("fix what AWS's message names; `--dry-run` prints the exact request "
                "(and check AWS_ENDPOINT_URL if you set one)")
    return AwsError(said, todo, operation=where, code=code, message=message)
