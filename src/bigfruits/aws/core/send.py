"""The one place that talks to AWS: performs an ``AwsRequest`` with an injected boto3 session,
or (``--dry-run``) prints it as one JSON line, sends nothing and answers with placeholders.

Clients are made on first use, with botocore's adaptive retries (throttling backs off), and
every botocore error is translated into a one-line ``AwsError`` carrying AWS's code. On top of
``send``: tolerating expected codes (``attempt``), retrying what time cures (``send_retrying``),
and reading every page of a listing (``paged``).
"""
from __future__ import annotations

import functools
import sys
from typing import Any, Callable, Dict, Iterator, Optional, Sequence, TextIO, Union

from bigfruits.aws.core.botocore_errors import translate
from bigfruits.aws.core.request import AwsRequest
from bigfruits.aws.core.tags import EMR_MANAGED_POLICIES_TAG
from bigfruits.errors import AwsError

#: botocore client settings: adaptive retries (throttling backs off) for everything but the
#: services whose answers are only nice to have (the cost estimate's Price List): two tries and
#: short timeouts, then the caller's labelled fallback, rather than minutes of backoff.
RETRIES: Dict[str, Any] = {"retries": {"mode": "adaptive", "max_attempts": 8}}
CLIENT_SETTINGS: Dict[str, Dict[str, Any]] = {
    "pricing": {"retries": {"mode": "standard", "max_attempts": 2}, "connect_timeout": 5, "read_timeout": 15}}
#: Images are small: keep each in one PUT so its ETag is its MD5 (how re-runs skip it).
MULTIPART_THRESHOLD = 256 * 1024 * 1024


@functools.cache
def client_config(service: str) -> Any:
    """Built on first use: botocore's config module costs ~0.1 s to import, which `--help` and
    the pure commands should not pay."""
    from botocore.config import Config

    return Config(**CLIENT_SETTINGS.get(service, RETRIES))


@functools.cache
def transfer_config() -> Any:
    from boto3.s3.transfer import TransferConfig

    return TransferConfig(multipart_threshold=MULTIPART_THRESHOLD)

Answer = Dict[str, Any]
Sleep = Callable[[float], None]

#: Who these credentials are (the account id goes into trust policies and ARNs).
CALLER_IDENTITY = AwsRequest("sts", "GetCallerIdentity", {})


def _new_security_group(params: Dict[str, Any]) -> Answer:
    """Studio's two groups (tagged for EMR's managed policies) name each other in their rules,
    so the printed plan must tell them apart: their placeholders carry their names."""
    tags = [t for spec in params.get("TagSpecifications", []) for t in spec.get("Tags", [])]
    if any(t.get("Key") == EMR_MANAGED_POLICIES_TAG for t in tags):
        return {"GroupId": f"<sg-id of {params['GroupName']}>"}
    return {"GroupId": "<security-group-id>"}


def _iam_arn(kind: str, name_key: str) -> Callable[[Dict[str, Any]], Answer]:
    """A created role's or policy's ARN is known from its path and name (the account aside)."""
    def answer(params: Dict[str, Any]) -> Answer:
        arn = f"arn:aws:iam::<account-id>:{kind.lower()}{params.get('Path', '/')}{params[name_key]}"
        return {kind: {"Arn": arn}}
    return answer


#: What a dry run pretends AWS answered: placeholders for values only known after sending,
#: and "nothing exists yet" for lookups, so the printed sequence is the one a fresh account
#: gets. A callable answers from the request's parameters.
DRY_RUN_RESPONSES: Dict[str, Union[Answer, Callable[[Dict[str, Any]], Answer]]] = {
    "GetCallerIdentity": {"Account": "<account-id>", "Arn": "<caller-arn>"},
    "RunJobFlow": {"JobFlowId": "<cluster-id>"},
    "AddJobFlowSteps": {"StepIds": ["<step-id>"]},
    "CreateKeyPair": {"KeyName": "<key-name>", "KeyMaterial": "", "KeyPairId": "<key-pair-id>"},
    "CreateSecurityGroup": _new_security_group,
    "DescribeVpcs": {"Vpcs": [{"VpcId": "<default-vpc-id>"}]},
    "DescribeSubnets": {"Subnets": [{"SubnetId": "<subnet-ids-of-the-vpc>",
                                     "VpcId": "<vpc-of-the-subnet>"}]},
    # A dry run assumes the subnet reaches the internet (the real run checks it).
    "DescribeRouteTables": {"RouteTables": [{"Routes": [
        {"DestinationCidrBlock": "0.0.0.0/0", "GatewayId": "igw-<internet-gateway-id>"}]}]},
    "DescribeCluster": {
        "Cluster": {
            "Id": "<cluster-id>",
            "Status": {"State": "<state>"},
            "MasterPublicDnsName": "<master-dns>",
        }
    },
    "CreateRole": _iam_arn("Role", "RoleName"),
    "CreatePolicy": _iam_arn("Policy", "PolicyName"),
    "CreateStudio": {"StudioId": "<studio-id>", "Url": "<studio-url>"},
    "CreateApplication": {"applicationId": "<application-id>", "name": "<application-name>",
                          "arn": "arn:aws:emr-serverless:<region>:<account-id>:/applications/<application-id>"},
    "StartJobRun": {"applicationId": "<application-id>", "jobRunId": "<job-run-id>", "arn": "<job-run-arn>"},
}


class Sender:
    """Sends requests through one boto3 session (injected: tests pass a moto-backed one)."""

    dry_run = False

    def __init__(self, session: Any, endpoint_url: Optional[str] = None) -> None:
        self._session = session
        self._endpoint_url = endpoint_url
        self._clients: Dict[str, Any] = {}

    def client(self, service: str, region: Optional[str] = None) -> Any:
        """A cached client (in ``region`` when given, else the session's); boto3 reads
        ``AWS_ENDPOINT_URL`` itself when no URL is given."""
        key = client_key(service, region)
        if key not in self._clients:
            kwargs: Dict[str, Any] = {"config": client_config(service)}
            if region:
                kwargs["region_name"] = region
            if self._endpoint_url:
                kwargs["endpoint_url"] = self._endpoint_url
            try:
                self._clients[key] = self._session.client(service, **kwargs)
            except Exception as exc:  # NoRegionError, ProfileNotFound, ...
                raise translate(exc, service, "client") from exc
        return self._clients[key]

    def send(self, request: AwsRequest) -> Answer:
        client = self.client(request.service, request.region)
        method = getattr(client, _snake(request.operation))
        try:
            return method(**request.params)
        except Exception as exc:
            endpoint = getattr(getattr(client, "meta", None), "endpoint_url", None)
            raise translate(exc, request.service, request.operation, endpoint) from exc

    def upload_file(self, path: str, bucket: str, key: str) -> None:
        """boto3's transfer manager (multipart, retries) for one file."""
        try:
            self.client("s3").upload_file(path, bucket, key, Config=transfer_config())
        except Exception as exc:
            raise translate(exc, "s3", "PutObject", self.client("s3").meta.endpoint_url) from exc

    def download_file(self, bucket: str, key: str, path: str) -> None:
        try:
            self.client("s3").download_file(bucket, key, path, Config=transfer_config())
        except Exception as exc:
            raise translate(exc, "s3", "GetObject", self.client("s3").meta.endpoint_url) from exc

    def attempt(self, request: AwsRequest, *ok_codes: str) -> Optional[Answer]:
        """Send, but return None when AWS answers with one of ``ok_codes`` (already exists,
        already gone...), which makes commands idempotent."""
        try:
            return self.send(request)
        except AwsError as exc:
            if exc.code and exc.code in ok_codes:
                return None
            raise

    def send_retrying(self, request: AwsRequest, transient: Callable[[AwsError], bool],
                      delays_s: Sequence[float], sleep: Sleep) -> Answer:
        """Send; while AWS answers an error ``transient`` accepts (what time cures: eventual
        consistency, IAM propagation), wait each of ``delays_s`` in turn and send again (then
        once more, last). Any other error goes straight up. The one retry loop of the AWS code
        (botocore's own retries cover throttling and network faults)."""
        for delay in delays_s:
            try:
                return self.send(request)
            except AwsError as exc:
                if not transient(exc):
                    raise
            sleep(delay)
        return self.send(request)

    def paged(self, request: AwsRequest, key: str) -> Iterator[Any]:
        """All items under ``key`` of a paginated listing, page by page through ``send`` (so a
        dry run prints the first request and tests see every page). Which parameter carries
        the next page's token, and when the listing is over, come from botocore's own paginator
        definitions (``Marker`` for IAM and EMR, ``ContinuationToken`` for S3's ListObjectsV2)."""
        pages = paginator(request.service, request.operation)
        params = dict(request.params)
        while True:
            response = self.send(AwsRequest(request.service, request.operation, params))
            yield from response.get(key, [])
            token = response.get(pages["output_token"])
            more = pages.get("more_results")  # IsTruncated where the listing has one (not EMR's)
            if not token or (more and not response.get(more, True)):
                return
            params = {**params, pages["input_token"]: token}

    def account_id(self) -> str:
        """The account these credentials act in (trust policies and ARNs name it)."""
        return str(self.send(CALLER_IDENTITY)["Account"])


class DryRunSender(Sender):
    """Prints each request as ``{"service", "operation", "params"}`` and sends nothing."""

    dry_run = True

    def __init__(self, out: Optional[TextIO] = None) -> None:
        super().__init__(session=None)
        self._out = out

    def client(self, service: str, region: Optional[str] = None) -> Any:  # pragma: no cover - guarded by design
        raise RuntimeError("a dry run must not create AWS clients")

    def upload_file(self, path: str, bucket: str, key: str) -> None:
        """Printed as the PutObject it stands for, with what it would carry (the file is real:
        a dry run makes the same files as a real run)."""
        from pathlib import Path

        body = f"<{Path(path).stat().st_size} bytes of {Path(path).name}>"
        self.send(AwsRequest("s3", "PutObject", {"Bucket": bucket, "Key": key, "Body": body}))

    def download_file(self, bucket: str, key: str, path: str) -> None:
        self.send(AwsRequest("s3", "GetObject", {"Bucket": bucket, "Key": key}))

    def send(self, request: AwsRequest) -> Answer:
        out = self._out or sys.stdout
        out.write(request.to_json() + "\n")
        out.flush()
        answer = DRY_RUN_RESPONSES.get(request.operation, {})
        return answer(request.params) if callable(answer) else dict(answer)


@functools.cache
def paginator(service: str, operation: str) -> Dict[str, Any]:
    """botocore's paginator definition of one listing (input_token, output_token, ...)."""
    import botocore.session

    model = botocore.session.get_session().get_paginator_model(service)
    return dict(model.get_paginator(operation))


def client_key(service: str, region: Optional[str] = None) -> str:
    """How a client is cached: by service, and by region when a request names one."""
    return f"{service}@{region}" if region else service


def _snake(operation: str) -> str:
    """``RunJobFlow`` -> ``run_job_flow`` via botocore's own conversion (handles acronyms)."""
    from botocore import xform_name

    return xform_name(operation)


def make_session(profile: Optional[str], region: Optional[str]) -> Any:
    """The real boto3 session (the CLI's default; tests inject their own factory)."""
    import boto3

    try:
        return boto3.Session(profile_name=profile, region_name=region)
    except Exception as exc:
        raise translate(exc, "sts", "session") from exc
