"""Our users' featurization, reproduced so the benchmark measures it on the same images.

``rebuild_per_batch``: the users' notebooks and job (a pandas UDF that builds MobileNetV2 for
every Arrow batch and calls ``model.predict`` one image at a time). ``course_iterator``: the
course's Scalar Iterator UDF (model built once per task, ``model.predict`` on each batch).
Both run with Spark's defaults, as the users ran them (binaryFile, Arrow batches of 1,024).
"""
from __future__ import annotations

import io
from typing import Any, Iterator, List

import numpy as np
import pandas as pd

from bigfruits.pipeline.session import ARROW_BATCH_CONF, sql_conf

USERS_ARROW_BATCH = 1024


def _user_model(weights: List[np.ndarray]) -> Any:
    from keras.applications import MobileNetV2

    model = MobileNetV2(weights=None, include_top=False, pooling="avg", input_shape=(224, 224, 3))
    model.set_weights(weights)
    return model


def _user_preprocess(content: bytes) -> np.ndarray:
    from keras.applications.mobilenet_v2 import preprocess_input
    from PIL import Image

    image = Image.open(io.BytesIO(content)).convert("RGB").resize((224, 224))
    return preprocess_input(np.asarray(image, dtype=np.float32))


def rebuild_per_batch_udf(weights: Any) -> Any:
    """``weights``: a broadcast list of arrays."""
    from pyspark.sql.functions import pandas_udf

    @pandas_udf("array<float>")  # type: ignore[call-overload]
    def featurize(contents: pd.Series) -> pd.Series:
        model = _user_model(weights.value)
        rows = [model.predict(_user_preprocess(c)[None], verbose=0)[0] for c in contents]
        return pd.Series(rows)

    return featurize


def course_iterator_udf(weights: Any) -> Any:
    """``weights``: a broadcast list of arrays."""
    from pyspark.sql.functions import pandas_udf

    @pandas_udf("array<float>")  # type: ignore[call-overload]
    def featurize(batches: Iterator[pd.Series]) -> Iterator[pd.Series]:
        model = _user_model(weights.value)
        for contents in batches:
            images = np.stack([_user_preprocess(c) for c in contents])
            yield pd.Series(list(model.predict(images, verbose=0)))

    return featurize


def run_users_pattern(spark: Any, folder: str, udf: Any) -> None:
    """Featurize every image below ``folder`` with ``udf`` and Spark's read defaults; the
    features go to the ``noop`` sink (featurization only: nothing is written, so the time is
    the users' featurization alone)."""
    with sql_conf(spark, {ARROW_BATCH_CONF: str(USERS_ARROW_BATCH)}):
        images = (spark.read.format("binaryFile").option("recursiveFileLookup", "true")
                  .option("pathGlobFilter", "*.jpg").load(folder))
        images.select(udf("content").alias("features")).write.format("noop").mode("overwrite").save()
