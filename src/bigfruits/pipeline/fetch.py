"""Read the images' bytes inside the Python worker, many at a time, ahead of the model.

The featurize stage gets ``(path, size, stamp)`` rows from our own listing, not the bytes: every
Python worker fetches them itself, with a bounded pool of threads reading ahead of inference, so
that round trips to S3 overlap each other and the model's work instead of adding up.

* One request per image. The listing already has each file's size and ETag, so no HEAD (Spark's
  ``binaryFile`` made two per image before the GET: ``getFileStatus``, then S3A's ``open``).
* One code path for local paths (``file:``, plain file reads), ``s3a://`` off EMR and ``s3://``
  on EMR (both boto3, as the listing: ``s3.py``).
* Bounded memory: at most ``max_in_flight`` reads and ``max_bytes`` of listed bytes are in
  flight or waiting to be consumed, whatever the images' sizes (one image bigger than the cap
  is read alone).
* Faults: an S3 read is retried as ``s3.py`` says; a read that still fails becomes an error
  string naming the cause (the row goes to errors/), and the run goes on.
"""
from __future__ import annotations

from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Deque, Iterable, Iterator, Optional, Tuple

from bigfruits.pipeline.s3 import MAX_IN_FLIGHT, S3Settings, describe_error, get_object

#: the listed bytes that the reads in flight (``s3.MAX_IN_FLIGHT``) may hold (decoded images
#: are made later, ``batch_size`` at a time)
MAX_BYTES_IN_FLIGHT = 64 * 1024 * 1024
Row = Tuple[str, int, str]  # path, listed size, listed stamp (see ingest.ImageFile)
Fetched = Tuple[Optional[bytes], Optional[str]]  # bytes, or the error that replaced them


def read_local(path: str) -> bytes:
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
            return get_object(path, size, stamp, settings or S3Settings()), None
        return read_local(path), None
    except OSError as exc:
        text = str(exc) if path.startswith(("s3://", "s3a://", "s3n://")) else \
            f"cannot read: {type(exc).__name__}: {exc.strerror or exc}"
        return None, text
    except Exception as exc:  # never a failed task for one image
        return None, f"cannot read: {describe_error(exc)}"


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
    max_in_flight = max(1, max_in_flight)  # 0 would read nothing and answer no row
    with ThreadPoolExecutor(max_workers=max_in_flight, thread_name_prefix="bigfruits-fetch") as pool:
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
