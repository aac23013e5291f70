"""Partial statistics for an exact PCA: count, mean and centred Gram matrix, merged stably.

Pure numpy, so the same code runs in Spark's Python workers and in unit tests. Each partial
keeps the centred sum of outer products (M2) rather than raw sums: raw sums lose every digit
when the data sit on a large common offset, while the Chan et al. pairwise merge keeps them.
"""
from __future__ import annotations

from typing import Iterable, NamedTuple, Optional

import numpy as np

# Rows per block when accumulating the Gram matrix: large enough for BLAS to run at full
# speed, small enough that a float64 copy of a block stays ~40 MB at p = 1280.
BLOCK_ROWS = 4096


class Moments(NamedTuple):
    """Count, mean (p) and centred Gram matrix M2 = sum (x - mean)(x - mean)^T (p x p)."""

    count: int
    mean: np.ndarray
    m2: np.ndarray


def moments_of_block(block: np.ndarray) -> Moments:
    """The moments of an (n, p) block, with one BLAS matrix product."""
    x = np.asarray(block, dtype=np.float64)
    mean = x.mean(axis=0)
    centred = x - mean
    return Moments(x.shape[0], mean, centred.T @ centred)


def merge_moments(a: Optional[Moments], b: Optional[Moments]) -> Optional[Moments]:
    """Chan/Welford pairwise merge; None stands for the empty set."""
    if a is None or a.count == 0:
        return b
    if b is None or b.count == 0:
        return a
    if a.mean.shape != b.mean.shape:
        raise ValueError(
            f"feature vectors have different lengths: {a.mean.shape[0]} and {b.mean.shape[0]}"
        )
    count = a.count + b.count
    delta = b.mean - a.mean
    mean = a.mean + delta * (b.count / count)
    m2 = a.m2 + b.m2
    m2 += np.outer(delta, delta) * (a.count * b.count / count)
    return Moments(count, mean, m2)


def moments_of_blocks(blocks: Iterable[np.ndarray]) -> Optional[Moments]:
    """Merge the moments of many (n, p) blocks, each split into BLOCK_ROWS-row pieces."""
    total: Optional[Moments] = None
    for block in blocks:
        for start in range(0, block.shape[0], BLOCK_ROWS):
            piece = block[start : start + BLOCK_ROWS]
            if piece.shape[0]:
                total = merge_moments(total, moments_of_block(piece))
    return total


class Decomposition(NamedTuple):
    """Principal axes of a covariance matrix, largest variance first."""

    components: np.ndarray  # (p, p) rows are unit eigenvectors, sign fixed
    explained_variance: np.ndarray  # (p,) eigenvalues, clipped at 0
    total_variance: float  # trace of the covariance


def decompose(moments: Moments) -> Decomposition:
    """Eigendecomposition of the sample covariance (n - 1 denominator), like scikit-learn.

    Sign convention: each component's entry of largest magnitude is positive, which is what
    scikit-learn's ``svd_flip(u_based_decision=False)`` (PCA since 1.5) produces.
    """
    covariance = moments.m2 / (moments.count - 1)
    covariance = (covariance + covariance.T) / 2  # exact symmetry for eigh
    eigenvalues, eigenvectors = np.linalg.eigh(covariance)
    order = np.argsort(eigenvalues)[::-1]
    components = eigenvectors[:, order].T
    biggest = np.argmax(np.abs(components), axis=1)
    signs = np.sign(components[np.arange(components.shape[0]), biggest])
    signs[signs == 0] = 1.0
    components *= signs[:, None]
    explained = np.clip(eigenvalues[order], 0.0, None)
    return Decomposition(components, explained, float(np.trace(covariance)))


def components_for_variance(ratios: np.ndarray, threshold: float) -> int:
    """Smallest k whose cumulative explained variance ratio reaches ``threshold``."""
    cumulative = np.cumsum(ratios)
    # A tiny tolerance so that threshold 1.0 is reached despite rounding in the sum.
    k = int(np.searchsorted(cumulative, threshold - 1e-12, side="left")) + 1
    return min(k, len(ratios))
