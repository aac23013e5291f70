"""Test data for the PCA tests: correlated rows, and the moments numpy gives them in one pass."""
from __future__ import annotations

import numpy as np

from bigfruits.pipeline.pca.moments import Moments


def correlated(rows: int, width: int, seed: int = 0, offset: float = 0.0) -> np.ndarray:
    """Data with a decaying spectrum, so components are well separated."""
    rng = np.random.default_rng(seed)
    scales = np.linspace(3.0, 0.1, width)
    mixing = np.linalg.qr(rng.normal(size=(width, width)))[0]
    return (rng.normal(size=(rows, width)) * scales) @ mixing + offset


def one_pass_moments(data: np.ndarray) -> Moments:
    """The reference: numpy's covariance, times n - 1, packed like ours."""
    m2 = np.cov(data, rowvar=False) * (data.shape[0] - 1)
    return Moments(data.shape[0], data.mean(axis=0), m2[np.triu_indices(data.shape[1])])
