"""What the PCA's Python workers run on each partition, without Spark (``partition_functions``)."""
from __future__ import annotations

import numpy as np
import pyarrow as pa

from bigfruits.pipeline.pca.moments import moments_of_blocks
from bigfruits.pipeline.pca.partition_functions import (
    merge_partial_batches,
    partial_row,
    row_as_moments,
)
from tests.pipeline.pca.matrices import correlated, one_pass_moments


def test_a_group_of_partials_merges_into_one_row_or_its_first_problem():
    """The workers' merge (``merge_partial_batches``): one row for a group, the same moments as
    one pass over all its rows; a problem in the group wins; an empty group gives nothing."""
    data = correlated(90, 4, seed=9, offset=50.0)
    parts = [partial_row(moments_of_blocks([block]), None) for block in np.array_split(data, 3)]
    [two_rows] = pa.Table.from_batches(parts[1:]).combine_chunks().to_batches()  # a 2-row batch
    [merged] = list(merge_partial_batches(iter([parts[0], two_rows])))
    problem, moments = row_as_moments(merged.to_pylist()[0])
    expected = one_pass_moments(data)
    assert problem is None and moments.count == 90
    np.testing.assert_allclose(moments.mean, expected.mean, rtol=1e-12)
    np.testing.assert_allclose(moments.m2, expected.m2, rtol=1e-9)

    other_width = partial_row(moments_of_blocks([correlated(5, 3)]), None)
    [refused] = list(merge_partial_batches(iter([parts[0], other_width, parts[1]])))
    assert "different lengths" in refused.to_pylist()[0]["problem"]
    told = partial_row(None, "lists hold null values")
    [kept] = list(merge_partial_batches(iter([told, parts[0]])))
    assert kept.to_pylist()[0]["problem"] == "lists hold null values"
    assert list(merge_partial_batches(iter([]))) == []
