"""The one place that talks to AWS: performs an ``AwsRequest`` with an injected boto3
session, or (``--dry-run``) prints it as one JSON line and sends nothing.

Clients are made on first use, with botocore's adaptive retries (throttling backs off), and
every botocore error is translated into a one-line ``AwsError`` saying what to do.
"""
from __future__ import annotations

import sys
from typing import Any, Callable, Dict, Optional, TextIO

from boto3.s3.transfer import TransferConfig
from botocore.config import Config

from bigfruits.aws.errors import translate
from bigfruits.aws.request import AwsRequest

RETRY_CONFIG = Config(retries={"mode": "adaptive", "max_attempts": 8})
#: Images are small: keep each in one PUT so its ETag is its MD5 (how re-runs skip it).
TRANSFER_CONFIG = TransferConfig(multipart_threshold=256 * 1024 * 1024)

#: What a dry run pretends AWS answered: placeholders for values only known after sending,
#: and "nothing exists yet" for lookups, so the printed sequence is the one a fresh account gets.
DRY_RUN_RESPONSES: Dict[str, Dict[str, Any]] = {
    "GetCallerIdentity": {"Account": "<account-id>", "Arn": "<caller-arn>"},
    "RunJobFlow": {"JobFlowId": "<cluster-id>"},
    "AddJobFlowSteps": {"StepIds": ["<step-id>"]},
    "CreateKeyPair": {"KeyName": "<key-name>", "KeyMaterial": "", "KeyPairId": "<key-pair-id>"},
    "CreateSecurityGroup": {"GroupId": "<security-group-id>"},
    "DescribeVpcs": {"Vpcs": [{"VpcId": "<default-vpc-id>"}]},
    "DescribeSubnets": {"Subnets": [{"SubnetId": "<subnet-id>", "VpcId": "<vpc-of-the-subnet>"}]},
    "DescribeCluster": {
        "Cluster": {
            "Id": "<cluster-id>",
            "Status": {"State": "<state>"},
            "MasterPublicDnsName": "<master-dns>",
        }
    },
}


class Sender:
    """Sends requests through one boto3 session (injected: tests pass a moto-backed one)."""

    dry_run = False

    def __init__(self, session: Any, endpoint_url: Optional[str] = None) -> None:
        self._session = session
        self._endpoint_url = endpoint_url
        self._clients: Dict[str, Any] = {}

    def client(self, service: str) -> Any:
        """A cached client; boto3 reads ``AWS_ENDPOINT_URL`` itself when no URL is given."""
        if service not in self._clients:
            kwargs: Dict[str, Any] = {"config": RETRY_CONFIG}
            if self._endpoint_url:
                kwargs["endpoint_url"] = self._endpoint_url
            try:
                self._clients[service] = self._session.client(service, **kwargs)
            except Exception as exc:  # NoRegionError, ProfileNotFound, ...
                raise translate(exc, service, "client") from exc
        return self._clients[service]

    def send(self, request: AwsRequest) -> Dict[str, Any]:
        method = getattr(self.client(request.service), _snake(request.operation))
        try:
            return method(**request.params)
        except Exception as exc:
            raise translate(exc, request.service, request.operation) from exc

    def upload_file(self, path: str, bucket: str, key: str) -> None:
        """boto3's transfer manager (multipart, retries) for one file."""
        try:
            self.client("s3").upload_file(path, bucket, key, Config=TRANSFER_CONFIG)
        except Exception as exc:
            raise translate(exc, "s3", "PutObject") from exc

    def download_file(self, bucket: str, key: str, path: str) -> None:
        try:
            self.client("s3").download_file(bucket, key, path, Config=TRANSFER_CONFIG)
        except Exception as exc:
            raise translate(exc, "s3", "GetObject") from exc

    def attempt(self, request: AwsRequest, *ok_codes: str) -> Optional[Dict[str, Any]]:
        """Send, but return None when AWS answers with one of ``ok_codes`` (already exists,
        already gone...), which makes commands idempotent."""
        try:
            return self.send(request)
        except Exception as exc:
            if error_code(exc) in ok_codes:
                return None
            raise


class DryRunSender(Sender):
    """Prints each request as ``{"service", "operation", "params"}`` and sends nothing."""

    dry_run = True

    def __init__(self, out: Optional[TextIO] = None) -> None:
        super().__init__(session=None)
        self._out = out

    def client(self, service: str) -> Any:  # pragma: no cover - guarded by design
        raise RuntimeError("a dry run must not create AWS clients")

    def upload_file(self, path: str, bucket: str, key: str) -> None:
        self.send(AwsRequest("s3", "PutObject", {"Bucket": bucket, "Key": key, "Body": f"<contents of {path}>"}))

    def download_file(self, bucket: str, key: str, path: str) -> None:
        self.send(AwsRequest("s3", "GetObject", {"Bucket": bucket, "Key": key}))

    def send(self, request: AwsRequest) -> Dict[str, Any]:
        out = self._out or sys.stdout
        out.write(request.to_json() + "\n")
        out.flush()
        return dict(DRY_RUN_RESPONSES.get(request.operation, {}))


def error_code(exc: BaseException) -> str:
    """The AWS error code of a (translated) botocore ClientError, or ''."""
    cause = exc if hasattr(exc, "response") else exc.__cause__
    response = getattr(cause, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def _snake(operation: str) -> str:
    """``RunJobFlow`` -> ``run_job_flow`` via botocore's own conversion (handles acronyms)."""
    from botocore import xform_name

    return xform_name(operation)


SessionFactory = Callable[[Optional[str], Optional[str]], Any]


def make_session(profile: Optional[str], region: Optional[str]) -> Any:
    """The real boto3 session (the CLI's default; tests inject their own factory)."""
    import boto3

    try:
        return boto3.Session(profile_name=profile, region_name=region)
    except Exception as exc:
        raise translate(exc, "sts", "session") from exc
