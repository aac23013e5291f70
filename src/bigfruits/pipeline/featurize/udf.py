"""The Spark side of featurization: a Scalar Iterator pandas UDF that builds the engine once per
Python worker from the broadcast payload and runs batched inference; an image that cannot be
decoded becomes an error string, never a failed task."""
from __future__ import annotations

import os
import socket
from typing import Any, Dict, Iterator, List, Optional

import numpy as np
import pandas as pd

from bigfruits.pipeline.featurize.engines import Engine, engine_for, engines_built
from bigfruits.pipeline.featurize.images import decode_image, preprocess
from bigfruits.pipeline.ingest import LABEL_PATTERN

FEATURES_COLUMN = "features"
ERROR_COLUMN = "error"


def featurize_contents(contents: "pd.Series", engine: Engine, batch_size: int) -> pd.DataFrame:
    """Encoded images -> ``DataFrame[features, error]``; exactly one of the two is set per row.

    Decoding and inference go ``batch_size`` images at a time, so memory stays bounded whatever
    the Arrow batch holds.
    """
    n = len(contents)
    features: List[Optional[np.ndarray]] = [None] * n
    errors: List[Optional[str]] = [None] * n
    values = contents.tolist()
    for start in range(0, n, batch_size):
        indices, arrays = [], []
        for i in range(start, min(start + batch_size, n)):
            try:
                arrays.append(decode_image(values[i]))
                indices.append(i)
            except ValueError as exc:
                errors[i] = str(exc)
        if arrays:
            out = engine.predict(preprocess(np.stack(arrays)))
            for row, i in enumerate(indices):
                features[i] = out[row]
    return pd.DataFrame({FEATURES_COLUMN: features, ERROR_COLUMN: errors})


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


def features_udf(payload: Any, batch_size: int, progress: Any = None, builds: Any = None) -> Any:
    """The pandas UDF over the ``content`` column; ``payload`` is a Spark broadcast of an
    ``EnginePayload``; ``progress`` an optional accumulator counting images done; ``builds`` an
    optional ``WorkerBuilds`` accumulator."""
    from pyspark.sql.functions import pandas_udf
    from pyspark.sql.types import ArrayType, FloatType, StringType, StructField, StructType

    schema = StructType([
        StructField(FEATURES_COLUMN, ArrayType(FloatType())),
        StructField(ERROR_COLUMN, StringType()),
    ])

    @pandas_udf(schema)  # type: ignore[call-overload]
    def mobilenet_features(batches: Iterator[pd.Series]) -> Iterator[pd.DataFrame]:
        engine = engine_for(payload.value)
        if builds is not None:
            builds.add({worker_id(): engines_built(payload.value)})
        for contents in batches:
            result = featurize_contents(contents, engine, batch_size)
            if progress is not None:
                progress.add(len(contents))
            yield result
        engine.release_memory()

    return mobilenet_features


def featurize(images: Any, payload: Any, batch_size: int, progress: Any = None,
              builds: Any = None) -> Any:
    """``DataFrame[path, content]`` -> ``DataFrame[path, label, features, error]``."""
    from pyspark.sql import functions as F

    udf = features_udf(payload, batch_size, progress, builds)
    return (images
            .select("path", F.regexp_extract("path", LABEL_PATTERN, 1).alias("label"),
                    udf("content").alias("r"))
            .select("path", "label", f"r.{FEATURES_COLUMN}", f"r.{ERROR_COLUMN}"))
