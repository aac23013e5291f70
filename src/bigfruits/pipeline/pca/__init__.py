"""The PCA stage: ``ExactPCA`` (a Spark ML Estimator) and the ``ExactPCAModel`` it fits.

``exact_pca`` holds the stage and how a model is saved and loaded; ``partition_functions`` what
Spark's Python workers run on each partition (moments, their merge, the projection, as Arrow
batches); ``moments`` computes and merges the statistics.
Importing from here (``from bigfruits.pipeline.pca import ExactPCA``) is the public path, and
the class path saved models record.

The two classes are imported on first use: the Python workers import ``partition_functions``
through this package, and Spark ML (~0.17 s to import) is not theirs to load.
"""
from __future__ import annotations

from typing import Any

__all__ = ["ExactPCA", "ExactPCAModel"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from bigfruits.pipeline.pca import exact_pca

        return getattr(exact_pca, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
