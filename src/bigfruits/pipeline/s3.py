"""The pipeline's S3 access, all through boto3: listing an input prefix (on the driver) and
reading one object (in the Python workers), with one client configuration for both.

* Listing: ``list_objects_v2`` through boto3's own paginator, 1,000 keys a request, each with
  its size and ETag (the input's identity), so no Hadoop S3 connector is needed to read S3.
* Reading: one GET per image carrying ``If-Match: <listed ETag>``: an object replaced since the
  listing is an error naming that, never features of other bytes under the listed identity.
  botocore's ``standard`` retry mode retries throttling (503 SlowDown), 5xx answers, connection
  resets and timeouts with exponential backoff and jitter, as AWS's guidance says:
  https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html and, for S3,
  https://docs.aws.amazon.com/whitepapers/latest/s3-optimizing-performance-best-practices/timeouts-and-retries-for-latency-sensitive-applications.html
  (small GETs: retry after ~2 s, then back off). A body cut short after the answer began is
  retried here, with the same backoff.
* Credentials: on EMR the instance profile; elsewhere boto3's own chain and ``AWS_ENDPOINT_URL``.
"""
from __future__ import annotations

import os
import random
import threading
import time
from dataclasses import dataclass
from typing import Any, Dict, Iterator, Optional, Tuple
from urllib.parse import urlparse

#: reads in flight per Python worker (``fetch.fetch_ahead``), hence connections per client
MAX_IN_FLIGHT = 32


def is_s3(uri: str) -> bool:
    return uri.split("://", 1)[0] in ("s3", "s3a", "s3n") and "://" in uri


def list_objects(uri: str) -> Iterator[Tuple[str, int, str]]:
    """``(path, size, etag stamp)`` of every object under an ``s3://``/``s3a://`` prefix, 1,000
    per request (boto3's own credentials chain and ``AWS_ENDPOINT_URL``)."""
    import boto3

    parsed = urlparse(uri)
    prefix = parsed.path.lstrip("/")
    prefix = prefix if not prefix or prefix.endswith("/") else prefix + "/"
    pages = boto3.client("s3").get_paginator("list_objects_v2").paginate(
        Bucket=parsed.netloc, Prefix=prefix)
    for page in pages:
        for item in page.get("Contents", []):
            if not item["Key"].endswith("/"):  # folder markers
                yield (f"{parsed.scheme}://{parsed.netloc}/{item['Key']}", int(item["Size"]),
                       "etag:" + str(item.get("ETag", "")).strip('"'))


#: attempts per GET (botocore's, then ours for a body cut short), and the backoff's base and cap
MAX_ATTEMPTS = 6
BACKOFF_BASE_S, BACKOFF_CAP_S = 0.2, 8.0
#: connect and read timeouts of one attempt: AWS suggests retrying a small GET after ~2 s; a bit
#: more here, since a loaded node or a busy test server answers slower than S3
CONNECT_TIMEOUT_S, READ_TIMEOUT_S = 5.0, 10.0


@dataclass(frozen=True)
class S3Settings:
    """Where the workers' S3 client goes: what the driver's listing client used, so that the
    workers reach the same endpoint (``AWS_ENDPOINT_URL``, a test's moto) in the same region."""

    endpoint_url: Optional[str] = None
    region: Optional[str] = None
    ca_bundle: Optional[str] = None
    max_attempts: int = MAX_ATTEMPTS
    connect_timeout: float = CONNECT_TIMEOUT_S
    read_timeout: float = READ_TIMEOUT_S
    max_in_flight: int = MAX_IN_FLIGHT

    @classmethod
    def from_environment(cls) -> "S3Settings":
        import boto3

        client = boto3.client("s3")
        endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
        return cls(endpoint or None, client.meta.region_name, os.environ.get("AWS_CA_BUNDLE"))


_clients: Dict[S3Settings, Any] = {}
_clients_lock = threading.Lock()


def forget_clients() -> None:
    """Drop the clients made so far (the next read makes a new one from the environment)."""
    with _clients_lock:
        _clients.clear()


def s3_client(settings: S3Settings) -> Any:
    """One client per Python worker and settings (botocore clients are thread-safe), with a
    connection per reading thread and the standard retry mode."""
    with _clients_lock:
        client = _clients.get(settings)
        if client is None:
            import boto3
            from botocore.config import Config

            # total_max_attempts counts the first try; botocore's max_attempts counts retries
            # only (one GET more than meant): https://boto3.amazonaws.com/v1/documentation/api/latest/guide/retries.html
            config = Config(retries={"mode": "standard", "total_max_attempts": settings.max_attempts},
                            connect_timeout=settings.connect_timeout,
                            read_timeout=settings.read_timeout,
                            max_pool_connections=settings.max_in_flight)
            client = boto3.session.Session().client(
                "s3", region_name=settings.region, endpoint_url=settings.endpoint_url,
                verify=settings.ca_bundle, config=config)
            _clients[settings] = client
        return client


def backoff_s(attempt: int) -> float:
    """The pause before attempt ``attempt + 1``: full jitter, uniform in
    [0, min(cap, base * 2**attempt)]."""
    return random.uniform(0, min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** attempt))


#: An answer lost on a connection that was made (reset, closed, read timeout). botocore retries
#: these within its *retry quota*, a token bucket per client (500; a retry after a timeout or
#: reset costs 14, after throttling 5: botocore.retries.standard, described in
#: https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html). A burst of
#: faults empties it, and every GET of that client then fails at its first fault: with 32 reads
#: in flight per worker, dozens of images became error rows (tests/e2e/test_read_s3.py). Those
#: are retried here too, within the same ``max_attempts`` per image. A refused connection
#: (nothing listening, wrong endpoint) is not: it fails at once, as before.
LOST_ANSWERS = ("ReadTimeoutError", "ConnectionClosedError", "ResponseStreamingError",
                "ConnectionResetError", "ProtocolError", "IncompleteReadError")


#: Throttling and server errors, retried here too when botocore's quota let it retry no more.
RETRIED_CODES = ("SlowDown", "503", "ServiceUnavailable", "InternalError", "500", "RequestTimeout")


def answer_lost(exc: BaseException) -> bool:
    return type(exc).__name__ in LOST_ANSWERS


def describe_error(exc: BaseException) -> str:
    """An S3 error as its code and status (``SlowDown (HTTP 503)``), else the exception."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict) and "Error" in response:
        code = response["Error"].get("Code", "")
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode", "")
        return f"{code} (HTTP {status})"
    return f"{type(exc).__name__}: {str(exc)[:200]}"


def get_object(path: str, size: int, stamp: str, settings: S3Settings) -> bytes:
    """One GET (botocore retries what fails before the body), the body read with our own
    retries; ``If-Match`` the listed ETag."""
    from botocore.exceptions import ClientError

    bucket, _, key = path.split("://", 1)[1].partition("/")  # keys may hold '?' and '#'
    client = s3_client(settings)
    extra = {"IfMatch": '"' + stamp[len("etag:"):] + '"'} if stamp.startswith("etag:") else {}
    attempt = 0
    while True:
        try:
            response = client.get_object(Bucket=bucket, Key=key, **extra)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in ("PreconditionFailed", "412"):
                raise OSError("changed since it was listed (its ETag no longer matches: "
                              "PreconditionFailed, HTTP 412)") from None
            if code in ("NoSuchKey", "404"):
                raise OSError("vanished since it was listed (NoSuchKey, HTTP 404)") from None
            attempt += 1
            if code not in RETRIED_CODES or attempt >= settings.max_attempts:
                raise OSError(f"S3 GET failed after retries: {describe_error(exc)}") from None
            time.sleep(backoff_s(attempt))
            continue
        except Exception as exc:  # connection errors and timeouts past botocore's own retries
            attempt += 1
            if not answer_lost(exc) or attempt >= settings.max_attempts:
                raise OSError(f"S3 GET failed after retries: {describe_error(exc)}") from None
            time.sleep(backoff_s(attempt))
            continue
        try:
            body = response["Body"].read()
        except Exception as exc:  # the answer cut short (reset, timeout): botocore does not retry
            attempt += 1
            if attempt >= settings.max_attempts:
                raise OSError(f"S3 GET failed after {attempt} attempts: {describe_error(exc)}") from None
            time.sleep(backoff_s(attempt))
            continue
        if len(body) != size:
            attempt += 1
            if attempt >= settings.max_attempts:
                raise OSError(f"S3 GET returned {len(body)} bytes, {size} listed")
            time.sleep(backoff_s(attempt))
            continue
        return body
