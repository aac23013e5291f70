"""The Spark side of featurization: a Scalar Iterator pandas UDF over ``(path, size, stamp)``
rows that builds the engine once per Python worker from the broadcast payload, reads the images'
bytes ahead of the model (``fetch.fetch_ahead``) and runs batched inference; an image that
cannot be read or decoded becomes an error string, never a failed task."""
from __future__ import annotations

import os
import socket
import itertools
from collections import deque
from typing import Any, Deque, Dict, Iterable, Iterator, List, Optional, Tuple

import numpy as np
import pandas as pd

from bigfruits.pipeline.featurize.engines import Engine, engine_for, engines_built
from bigfruits.pipeline.featurize.images import decode_image, preprocess
from bigfruits.pipeline.fetch import MAX_BYTES_IN_FLIGHT, Fetched, Row, fetch_ahead
from bigfruits.pipeline.s3 import MAX_IN_FLIGHT, S3Settings
from bigfruits.pipeline.ingest import LABEL_PATTERN

FEATURES_COLUMN = "features"
ERROR_COLUMN = "error"


Outcome = Tuple[Optional[np.ndarray], Optional[str]]  # features, or the error instead


def featurize_stream(items: Iterable[Fetched], engine: Engine, batch_size: int) -> Iterator[Outcome]:
    """``(bytes, error)`` per image, in order -> ``(features, error)`` per image, in order;
    exactly one of the two is set. An image whose read failed keeps its error; one that cannot
    be decoded gets the decoder's. Decoding and inference go ``batch_size`` images at a time,
    so memory stays bounded, and the items are pulled lazily: what produces them (reads ahead
    of the model, ``fetch.fetch_ahead``) keeps working while the model runs."""
    chunk: List[Fetched] = []
    for item in itertools.chain(items, [None]):
        if item is not None:
            chunk.append(item)
            if len(chunk) < batch_size:
                continue
        if not chunk:
            break
        outcomes: List[Outcome] = [(None, error) for _content, error in chunk]
        indices, arrays = [], []
        for i, (content, error) in enumerate(chunk):
            if error is not None:
                continue
            try:
                arrays.append(decode_image(content))
                indices.append(i)
            except ValueError as exc:
                outcomes[i] = (None, str(exc))
        if arrays:
            out = engine.predict(preprocess(np.stack(arrays)))
            for row, i in enumerate(indices):
                outcomes[i] = (out[row], None)
        yield from outcomes
        chunk = []


def featurize_contents(contents: "pd.Series", engine: Engine, batch_size: int) -> pd.DataFrame:
    """Encoded images -> ``DataFrame[features, error]``; exactly one of the two is set per row."""
    return _frame(list(featurize_stream(((c, None) for c in contents.tolist()), engine, batch_size)))


def _frame(outcomes: List[Outcome]) -> pd.DataFrame:
    return pd.DataFrame({FEATURES_COLUMN: [f for f, _ in outcomes],
                         ERROR_COLUMN: [e for _, e in outcomes]})


def featurize_rows(batches: Iterable[Tuple["pd.Series", "pd.Series", "pd.Series"]], engine: Engine,
                   batch_size: int, settings: Optional[S3Settings] = None,
                   max_in_flight: int = MAX_IN_FLIGHT,
                   max_bytes: int = MAX_BYTES_IN_FLIGHT) -> Iterator[pd.DataFrame]:
    """Arrow batches of ``(path, size, stamp)`` -> one ``DataFrame[features, error]`` per batch,
    of its length. The reads run ahead across batch boundaries (a task's rows are all read
    ahead of the model, whatever the batches), the output keeps the input's order."""
    sizes: Deque[int] = deque()

    def rows() -> Iterator[Row]:
        for paths, lengths, stamps in batches:
            sizes.append(len(paths))
            yield from zip(paths.tolist(), lengths.tolist(), stamps.tolist())

    fetched = (item for _row, item in fetch_ahead(rows(), settings, max_in_flight, max_bytes))
    done: List[Outcome] = []
    for outcome in featurize_stream(fetched, engine, batch_size):
        done.append(outcome)
        while sizes and len(done) >= sizes[0]:
            n = sizes.popleft()
            yield _frame(done[:n])
            done = done[n:]
    while sizes:  # batches of no rows
        n = sizes.popleft()
        yield _frame(done[:n])
        done = done[n:]


class WorkerBuilds:
    """An ``AccumulatorParam`` merging ``{"host:pid": engines built}`` from every Python worker,
    so a run can show (and a test check) that each worker built its model once."""

    def zero(self, value: Dict[str, int]) -> Dict[str, int]:
        return {}

    def addInPlace(self, a: Dict[str, int], b: Dict[str, int]) -> Dict[str, int]:
        for worker, builds in b.items():
            a[worker] = max(a.get(worker, 0), builds)
        return a


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def features_udf(payload: Any, batch_size: int, progress: Any = None, builds: Any = None,
                 settings: Optional[S3Settings] = None) -> Any:
    """The pandas UDF over the ``path``, ``size`` and ``stamp`` columns; ``payload`` is a Spark
    broadcast of an ``EnginePayload``; ``progress`` an optional accumulator counting images
    done; ``builds`` an optional ``WorkerBuilds`` accumulator; ``settings`` where S3 reads go."""
    from pyspark.sql.functions import pandas_udf
    from pyspark.sql.types import ArrayType, FloatType, StringType, StructField, StructType

    schema = StructType([
        StructField(FEATURES_COLUMN, ArrayType(FloatType())),
        StructField(ERROR_COLUMN, StringType()),
    ])

    @pandas_udf(schema)  # type: ignore[call-overload]
    def mobilenet_features(batches: Iterator[Tuple[pd.Series, pd.Series, pd.Series]]) -> Iterator[pd.DataFrame]:
        engine = engine_for(payload.value)
        if builds is not None:
            builds.add({worker_id(): engines_built(payload.value)})
        for result in featurize_rows(batches, engine, batch_size, settings):
            if progress is not None:
                progress.add(len(result))
            yield result
        engine.release_memory()

    return mobilenet_features


def featurize(images: Any, payload: Any, batch_size: int, progress: Any = None,
              builds: Any = None, settings: Optional[S3Settings] = None) -> Any:
    """``DataFrame[path, size, stamp]`` -> ``DataFrame[path, label, features, error]``."""
    from pyspark.sql import functions as F

    udf = features_udf(payload, batch_size, progress, builds, settings)
    return (images
            .select("path", F.regexp_extract("path", LABEL_PATTERN, 1).alias("label"),
                    udf("path", "size", "stamp").alias("r"))
            .select("path", "label", f"r.{FEATURES_COLUMN}", f"r.{ERROR_COLUMN}"))
