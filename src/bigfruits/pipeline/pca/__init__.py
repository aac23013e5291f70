"""The PCA stage: ``ExactPCA`` (a Spark ML Estimator) and the ``ExactPCAModel`` it fits.

``exact_pca`` holds the stage and how a model is saved and loaded; ``arrow`` moves Arrow columns
to numpy matrices inside Spark's workers; ``moments`` computes and merges the statistics.
Importing from here (``from bigfruits.pipeline.pca import ExactPCA``) is the public path, and
the class path saved models record.
"""
from bigfruits.pipeline.pca.exact_pca import ExactPCA, ExactPCAModel

__all__ = ["ExactPCA", "ExactPCAModel"]
