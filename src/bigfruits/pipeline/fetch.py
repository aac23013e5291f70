"""Read the images' bytes inside the Python worker, many at a time, ahead of the model.

The featurize stage gets ``(path, size, stamp)`` rows from our own listing, not the bytes: every
Python worker fetches them itself, with a bounded pool of threads reading ahead of inference, so
that round trips to S3 overlap each other and the model's work instead of adding up.

* One request per image. The listing already has each file's size and ETag, so no HEAD (Spark's
  ``binaryFile`` made two per image before the GET: ``getFileStatus``, then S3A's ``open``).
  The GET carries ``If-Match: <listed ETag>``: an object replaced since the listing becomes an
  error row naming that, never features of other bytes under the listed identity.
* One code path for local paths (``file:``, plain file reads), ``s3a://`` off EMR and ``s3://``
  on EMR (both boto3: on EMR the instance profile gives its credentials, elsewhere boto3's own
  chain and ``AWS_ENDPOINT_URL``, as the listing uses).
* Bounded memory: at most ``max_in_flight`` reads and ``max_bytes`` of listed bytes are in
  flight or waiting to be consumed, whatever the images' sizes (one image bigger than the cap
  is read alone).
* Faults: botocore's ``standard`` retry mode retries throttling (503 SlowDown), 5xx answers,
  connection resets and timeouts with exponential backoff and jitter, as AWS's guidance says:
  https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html and, for S3,
  https://docs.aws.amazon.com/whitepapers/latest/s3-optimizing-performance-best-practices/timeouts-and-retries-for-latency-sensitive-applications.html
  (small GETs: retry after ~2 s, then back off). A body cut short after the answer began is
  retried here, with the same backoff. A read that still fails becomes an error string naming
  the cause (the row goes to errors/), and the run goes on.
"""
from __future__ import annotations

import os
import random
import threading
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Deque, Dict, Iterable, Iterator, Optional, Tuple

#: reads in flight per Python worker, and the listed bytes they may hold (decoded images are
#: made later, ``batch_size`` at a time)
MAX_IN_FLIGHT = 32
MAX_BYTES_IN_FLIGHT = 64 * 1024 * 1024
#: attempts per GET (botocore's, then ours for a body cut short), and the backoff's base and cap
MAX_ATTEMPTS = 6
BACKOFF_BASE_S, BACKOFF_CAP_S = 0.2, 8.0
#: connect and read timeouts of one attempt: AWS suggests retrying a small GET after ~2 s; a bit
#: more here, since a loaded node or a busy test server answers slower than S3
CONNECT_TIMEOUT_S, READ_TIMEOUT_S = 5.0, 10.0

Row = Tuple[str, int, str]  # path, listed size, listed stamp (see ingest.ImageFile)
Fetched = Tuple[Optional[bytes], Optional[str]]  # bytes, or the error that replaced them


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


def s3_client(settings: S3Settings) -> Any:
    """One client per Python worker and settings (botocore clients are thread-safe), with a
    connection per reading thread and the standard retry mode."""
    with _clients_lock:
        client = _clients.get(settings)
        if client is None:
            import boto3
            from botocore.config import Config

            config = Config(retries={"mode": "standard", "max_attempts": settings.max_attempts},
                            connect_timeout=settings.connect_timeout,
                            read_timeout=settings.read_timeout,
                            max_pool_connections=settings.max_in_flight)
            client = boto3.session.Session().client(
                "s3", region_name=settings.region, endpoint_url=settings.endpoint_url,
                verify=settings.ca_bundle, config=config)
            _clients[settings] = client
        return client


def _backoff(attempt: int) -> float:
    """Full jitter: uniform in [0, min(cap, base * 2**attempt)]."""
    return random.uniform(0, min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** attempt))


def _describe(exc: BaseException) -> str:
    """An S3 error as its code and status (``SlowDown (HTTP 503)``), else the exception."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict) and "Error" in response:
        code = response["Error"].get("Code", "")
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode", "")
        return f"{code} (HTTP {status})"
    return f"{type(exc).__name__}: {str(exc)[:200]}"


def _read_s3(path: str, size: int, stamp: str, settings: S3Settings) -> bytes:
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
            raise OSError(f"S3 GET failed after retries: {_describe(exc)}") from None
        except Exception as exc:  # connection errors and timeouts past botocore's own retries
            raise OSError(f"S3 GET failed after retries: {_describe(exc)}") from None
        try:
            body = response["Body"].read()
        except Exception as exc:  # the answer cut short (reset, timeout): botocore does not retry
            attempt += 1
            if attempt >= settings.max_attempts:
                raise OSError(f"S3 GET failed after {attempt} attempts: {_describe(exc)}") from None
            time.sleep(_backoff(attempt))
            continue
        if len(body) != size:
            attempt += 1
            if attempt >= settings.max_attempts:
                raise OSError(f"S3 GET returned {len(body)} bytes, {size} listed")
            time.sleep(_backoff(attempt))
            continue
        return body


def _read_local(path: str) -> bytes:
    """``file:/a b/x.jpg`` (Hadoop's form, unencoded), ``file:///…`` or a plain path."""
    local = path[len("file://"):] if path.startswith("file://") else \
        path[len("file:"):] if path.startswith("file:") else path
    with open(local, "rb") as handle:
        return handle.read()


def read_one(row: Row, settings: Optional[S3Settings]) -> Fetched:
    """The bytes of one listed image, or the error that replaces them (never raises)."""
    path, size, stamp = row
    if size == 0:
        return None, "empty file (0 bytes)"
    try:
        if path.startswith(("s3://", "s3a://", "s3n://")):
            return _read_s3(path, size, stamp, settings or S3Settings()), None
        return _read_local(path), None
    except OSError as exc:
        text = str(exc) if path.startswith(("s3://", "s3a://", "s3n://")) else \
            f"cannot read: {type(exc).__name__}: {exc.strerror or exc}"
        return None, text
    except Exception as exc:  # never a failed task for one image
        return None, f"cannot read: {_describe(exc)}"


def fetch_ahead(rows: Iterable[Row], settings: Optional[S3Settings] = None,
                max_in_flight: int = MAX_IN_FLIGHT,
                max_bytes: int = MAX_BYTES_IN_FLIGHT) -> Iterator[Tuple[Row, Fetched]]:
    """``(row, (bytes, error))`` for every row, in the rows' order, read by a pool of threads
    that keeps up to ``max_in_flight`` reads (and ``max_bytes`` listed bytes) ahead of the
    consumer. ``rows`` is consumed lazily, as room frees up."""
    pending: Deque[Tuple[Row, "Future[Fetched]"]] = deque()
    source = iter(rows)
    upcoming: Optional[Row] = next(source, None)
    in_flight_bytes = 0
    with ThreadPoolExecutor(max_workers=max(1, max_in_flight),
                            thread_name_prefix="bigfruits-fetch") as pool:
        try:
            while True:
                while upcoming is not None and len(pending) < max_in_flight:
                    size = max(0, int(upcoming[1]))
                    if pending and in_flight_bytes + size > max_bytes:
                        break  # the cap; an image bigger than the cap is read alone
                    in_flight_bytes += size
                    pending.append((upcoming, pool.submit(read_one, upcoming, settings)))
                    upcoming = next(source, None)
                if not pending:
                    return
                row, future = pending.popleft()
                fetched = future.result()
                in_flight_bytes -= max(0, int(row[1]))
                yield row, fetched
        finally:
            for _row, future in pending:
                future.cancel()
