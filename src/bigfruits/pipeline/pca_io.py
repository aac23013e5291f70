"""Save and load ``ExactPCAModel`` the way Spark ML models are stored: ``metadata/`` (params,
as JSON, readable by ``DefaultParamsReader``) and ``data/`` (one Parquet row of arrays), so
a model lives on any Hadoop file system (local, HDFS, S3) and inside a saved Pipeline.
"""
from __future__ import annotations

import os

import numpy as np
from pyspark.ml.util import DefaultParamsReader, DefaultParamsWriter, MLReader, MLWriter

from bigfruits.pipeline.pca import ExactPCAModel


class ExactPCAModelWriter(MLWriter):
    """Writes the params metadata and the fitted arrays."""

    def __init__(self, instance: ExactPCAModel) -> None:
        super().__init__()
        self.instance = instance

    def saveImpl(self, path: str) -> None:
        model = self.instance
        DefaultParamsWriter.saveMetadata(model, path, self.sc)
        row = (
            model.mean_.tolist(),
            model.components_.tolist(),
            model.explained_variance_.tolist(),
            model.explained_variance_ratio_.tolist(),
            model.n_samples_,
        )
        schema = (
            "mean array<double>, components array<array<double>>, "
            "explained_variance array<double>, explained_variance_ratio array<double>, "
            "n_samples bigint"
        )
        data = self.sparkSession.createDataFrame([row], schema=schema)
        data.coalesce(1).write.parquet(os.path.join(path, "data"))


class ExactPCAModelReader(MLReader):
    """Reads what ExactPCAModelWriter wrote."""

    def load(self, path: str) -> ExactPCAModel:
        metadata = DefaultParamsReader.loadMetadata(path, self.sc)
        row = self.sparkSession.read.parquet(os.path.join(path, "data")).first()
        model = ExactPCAModel(
            mean=np.array(row["mean"]),
            components=np.array(row["components"]),
            explained_variance=np.array(row["explained_variance"]),
            explained_variance_ratio=np.array(row["explained_variance_ratio"]),
            n_samples=row["n_samples"],
        )
        model._resetUid(metadata["uid"])
        DefaultParamsReader.getAndSetParams(model, metadata)
        return model
