"""The PCA's pure numpy core: partial moments, their merge, the covariance and the eigen-solve,
against plain numpy formulas (no Spark)."""
from __future__ import annotations

import sys

import numpy as np
import pytest

from bigfruits.pipeline.pca import moments as m
from bigfruits.pipeline.pca.moments import (
    Moments, components_for_variance, covariance, merge_moments, moments_of_blocks,
    pack_symmetric, top_components, unpack_symmetric, variances,
)
from tests.pipeline.pca.matrices import correlated, one_pass_moments
from tests.support.ci import require_module

#: pure: no Spark, no moto, no network (run per mutant by mutmut, docs/mutation-testing.md)
pytestmark = pytest.mark.pure


def data(rows: int, width: int, seed: int = 0, offset: float = 0.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    mixing = np.linalg.qr(rng.normal(size=(width, width)))[0]
    return (rng.normal(size=(rows, width)) * np.linspace(3.0, 0.2, width)) @ mixing + offset


def reference(x: np.ndarray) -> Moments:
    centred = x - x.mean(axis=0)
    return Moments(x.shape[0], x.mean(axis=0), pack_symmetric(centred.T @ centred))


def assert_moments(ours: Moments, theirs: Moments, rtol: float = 1e-9) -> None:
    assert ours.count == theirs.count
    np.testing.assert_allclose(ours.mean, theirs.mean, rtol=rtol, atol=1e-9)
    np.testing.assert_allclose(ours.m2, theirs.m2, rtol=rtol, atol=1e-7)


def test_pack_and_unpack_are_inverse_and_row_major() -> None:
    """Protects the packed upper triangle: row by row, and unpacked back exactly symmetric."""
    matrix = np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 5.0], [3.0, 5.0, 6.0]])
    packed = pack_symmetric(matrix)
    assert packed.dtype == np.float64 and packed.flags["C_CONTIGUOUS"]
    np.testing.assert_array_equal(packed, [1, 2, 3, 4, 5, 6])
    np.testing.assert_array_equal(unpack_symmetric(packed, 3), matrix)
    integers = pack_symmetric(np.array([[1, 2], [2, 3]]))  # any input becomes float64
    assert integers.dtype == np.float64 and integers.tolist() == [1.0, 2.0, 3.0]
    rows, columns = m.upper_triangle(3)
    np.testing.assert_array_equal(rows, [0, 0, 0, 1, 1, 2])
    np.testing.assert_array_equal(columns, [0, 1, 2, 1, 2, 2])


@pytest.mark.parametrize("sizes", [[7], [3, 4], [1, 5, 2], [4096 + 3]])
def test_blocks_give_the_moments_of_all_rows(sizes, monkeypatch) -> None:
    """Protects one partition's moments (count, mean, centred Gram): any split into blocks,
    blocks longer than BLOCK_ROWS (cut into pieces), on a large common offset."""
    monkeypatch.setattr(m, "BLOCK_ROWS", 4)
    x = data(sum(sizes), 5, seed=len(sizes), offset=1e6)
    blocks = np.split(x, np.cumsum(sizes)[:-1])
    assert_moments(moments_of_blocks(blocks), reference(x), rtol=1e-7)


def test_blocks_skip_empty_pieces_and_reject_other_widths() -> None:
    """Protects robustness: empty blocks count for nothing (also first), no blocks is None,
    and a row of another width is a clear error."""
    x = data(6, 3, seed=3)
    empty = np.empty((0, 3))
    assert_moments(moments_of_blocks([empty, x[:2], empty, x[2:]]), reference(x))
    assert moments_of_blocks([]) is None and moments_of_blocks([empty]) is None
    with pytest.raises(ValueError, match="feature vectors have different lengths: 3 and 4"):
        moments_of_blocks([x, np.ones((2, 4))])


def test_blocks_accept_float32_and_compute_in_float64() -> None:
    """Protects precision: float32 features are accumulated in float64."""
    x = data(50, 4, seed=5, offset=1e4).astype(np.float32)
    ours = moments_of_blocks([x])
    assert ours.mean.dtype == np.float64 and ours.m2.dtype == np.float64
    assert_moments(ours, reference(x.astype(np.float64)), rtol=1e-9)


def test_merge_equals_the_moments_of_the_union() -> None:
    """Protects the Chan merge: (a, b) merged equals the moments of all rows, uneven counts."""
    x = data(23, 4, seed=7, offset=50.0)
    a, b = reference(x[:5]), reference(x[5:])
    assert_moments(merge_moments(a, b), reference(x))
    assert_moments(merge_moments(b, a), reference(x))


def test_merge_with_nothing_is_the_other_side() -> None:
    """Protects the empty partition: None or a zero count merges as the identity."""
    a = reference(data(4, 3, seed=8))
    empty = Moments(0, np.zeros(3), np.zeros(6))
    assert merge_moments(None, a) is a and merge_moments(a, None) is a
    assert merge_moments(empty, a) is a and merge_moments(a, empty) is a
    assert merge_moments(None, None) is None


def test_merge_rejects_different_widths() -> None:
    with pytest.raises(ValueError, match="feature vectors have different lengths: 3 and 2"):
        merge_moments(reference(data(3, 3)), reference(data(3, 2)))


def test_covariance_is_the_sample_covariance() -> None:
    """Protects the n - 1 denominator (scikit-learn's and numpy's default)."""
    x = data(9, 4, seed=9)
    np.testing.assert_allclose(covariance(reference(x)), np.cov(x, rowvar=False), rtol=1e-12)


def test_variances_are_all_eigenvalues_largest_first_clipped_at_zero() -> None:
    """Protects explained variance: every eigenvalue, descending, negatives (rounding) at 0."""
    matrix = np.diag([2.0, 5.0, -1e-12, 1.0])
    np.testing.assert_array_equal(variances(matrix), [5.0, 2.0, 1.0, 0.0])


@pytest.mark.parametrize("scipy", [True, False], ids=["scipy", "numpy"])
def test_top_components_are_the_leading_eigenpairs_with_a_sign_convention(scipy, monkeypatch) -> None:
    """Protects the eigen-solve: the k largest eigenvalues (descending, clipped at 0), their
    unit eigenvectors as rows, each with its largest-magnitude entry positive; with or
    without scipy."""
    if not scipy:
        import builtins

        real_import = builtins.__import__

        def no_scipy(name, *args, **kwargs):  # type: ignore[no-untyped-def]
            if name.startswith("scipy"):
                raise ImportError(name)
            return real_import(name, *args, **kwargs)

        monkeypatch.setattr(builtins, "__import__", no_scipy)
    rotation = np.linalg.qr(np.random.default_rng(1).normal(size=(4, 4)))[0]
    matrix = rotation @ np.diag([4.0, 3.0, 2.0, 1.0]) @ rotation.T
    values, vectors = top_components(matrix, 2)
    np.testing.assert_allclose(values, [4.0, 3.0], rtol=1e-10)
    assert vectors.shape == (2, 4) and vectors.flags["C_CONTIGUOUS"]
    expected = rotation[:, :2].T.copy()
    expected *= np.sign(expected[np.arange(2), np.argmax(np.abs(expected), axis=1)])[:, None]
    np.testing.assert_allclose(vectors, expected, atol=1e-10)
    flat = np.zeros((3, 3))
    np.testing.assert_array_equal(top_components(flat, 1)[0], [0.0])
    negative = np.diag([-1e-12, -2e-12])
    np.testing.assert_array_equal(top_components(negative, 2)[0], [0.0, 0.0])


def test_components_for_variance_is_the_smallest_k_reaching_the_threshold() -> None:
    """Protects --variance: the smallest k whose cumulative ratio reaches the threshold
    (exactly reaching counts; 1.0 is reached despite rounding; never more than all)."""
    ratios = np.array([0.5, 0.25, 0.125, 0.125])
    assert components_for_variance(ratios, 0.5) == 1
    assert components_for_variance(ratios, 0.5000001) == 2
    assert components_for_variance(ratios, 0.75) == 2
    assert components_for_variance(ratios, 0.8) == 3
    assert components_for_variance(ratios, 1.0) == 4
    assert components_for_variance(np.array([0.3, 0.3, 0.4 - 1e-13]), 1.0) == 3
    assert components_for_variance(np.array([0.6, 0.3]), 1.0) == 2


def test_blas_threads_limits_blas_inside_the_block_only() -> None:
    """Protects the BLAS thread limit around the eigen-solve (at least 1 thread)."""
    import threadpoolctl  # a dependency of the package (pyproject.toml)
    before = [p["num_threads"] for p in threadpoolctl.threadpool_info() if p["user_api"] == "blas"]
    with m.blas_threads(0):
        inside = [p["num_threads"] for p in threadpoolctl.threadpool_info() if p["user_api"] == "blas"]
    after = [p["num_threads"] for p in threadpoolctl.threadpool_info() if p["user_api"] == "blas"]
    assert inside == [1] * len(before) and after == before


def test_pairwise_merge_equals_one_pass():
    data = correlated(1000, 7, seed=6, offset=1e6)
    parts = [data[:1], data[1:400], data[400:401], data[401:]]
    merged = None
    for part in parts:
        merged = merge_moments(merged, moments_of_blocks([part]))
    whole = one_pass_moments(data)
    assert merged.count == whole.count
    np.testing.assert_allclose(merged.mean, whole.mean, rtol=1e-13)
    np.testing.assert_allclose(merged.m2, whole.m2, rtol=1e-9, atol=1e-6)
    # M2 travels as its packed upper triangle; covariance() unpacks it to the full matrix.
    np.testing.assert_allclose(covariance(merged), np.cov(data, rowvar=False), rtol=1e-9, atol=1e-9)
    empty = Moments(0, np.zeros(7), np.zeros(7 * 8 // 2))
    assert merge_moments(empty, whole) is whole and merge_moments(whole, None) is whole


def test_shifted_blocks_equal_one_pass_even_on_sorted_data_with_offset():
    # Sorted rows: the first block's mean (the shift) is far from the overall mean.
    data = correlated(5000, 7, seed=7, offset=1e6)
    data = data[np.argsort(data[:, 0])]
    whole = one_pass_moments(data)
    blocks = moments_of_blocks([data[:1], data[1:3000], data[3000:]])
    assert blocks.count == whole.count
    np.testing.assert_allclose(blocks.mean, whole.mean, rtol=1e-13)
    np.testing.assert_allclose(blocks.m2, whole.m2, rtol=1e-9, atol=1e-6)
    with pytest.raises(ValueError, match="different lengths"):
        moments_of_blocks([data, data[:, :3]])
    assert moments_of_blocks([data[:0]]) is None


def test_top_components_same_with_and_without_scipy(monkeypatch):
    """Both eigensolvers give the same components. Each path is shown to be the one taken:
    scipy's ``eigh`` is called (and asked for k pairs only) in the first, numpy's in the second,
    so a broken scipy import that fell back to numpy silently cannot pass as "with scipy"."""
    linalg = require_module("scipy.linalg")
    data = correlated(200, 9, seed=12)
    cov = np.cov(data, rowvar=False)
    calls = {"scipy": [], "numpy": 0}
    scipy_eigh, numpy_eigh = linalg.eigh, np.linalg.eigh

    def counting_scipy(*args, **kwargs):
        calls["scipy"].append(kwargs.get("subset_by_index"))
        return scipy_eigh(*args, **kwargs)

    def counting_numpy(*args, **kwargs):
        calls["numpy"] += 1
        return numpy_eigh(*args, **kwargs)

    monkeypatch.setattr(linalg, "eigh", counting_scipy)
    monkeypatch.setattr(np.linalg, "eigh", counting_numpy)
    values, with_scipy = top_components(cov, 4)
    assert calls == {"scipy": [[5, 8]], "numpy": 0}
    monkeypatch.setitem(sys.modules, "scipy.linalg", None)  # makes the import fail
    values_numpy, without_scipy = top_components(cov, 4)
    assert calls == {"scipy": [[5, 8]], "numpy": 1}
    np.testing.assert_allclose(with_scipy, without_scipy, atol=1e-10)
    np.testing.assert_allclose(values, values_numpy, rtol=1e-12)
    np.testing.assert_allclose(values, np.linalg.eigvalsh(cov)[::-1][:4], rtol=1e-12)
