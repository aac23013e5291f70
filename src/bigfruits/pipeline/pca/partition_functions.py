"""What the PCA stage's Python workers run on each partition (``mapInArrow``): the partition's
moments, the merge of a group of partials, the projection; and the one-row partial format the
driver reads back. Arrow list columns become (n, p) numpy matrices with no per-row Python: one
flatten per Arrow batch turns a column of arrays into a matrix, and one reshape turns it back.
"""
from __future__ import annotations

from typing import Any, Iterator, Optional, Tuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from bigfruits.pipeline.pca.moments import Moments, blas_threads, merge_moments, moments_of_blocks

# The one row each partition sends to the driver: its moments as raw float64 bytes (only
# p + p(p+1)/2 numbers travel, never the features), or a message saying why its rows are
# unusable.
PARTIAL_FIELDS = (
    ("count", pa.int64()),
    ("width", pa.int32()),
    ("mean", pa.binary()),
    ("m2", pa.binary()),
    ("problem", pa.string()),
)
PARTIAL_DDL = "count bigint, width int, mean binary, m2 binary, problem string"


def list_column_as_matrix(column: pa.Array) -> Tuple[np.ndarray, np.ndarray]:
    """(valid-row mask, float64 matrix of the valid rows) for a column of equal-length lists.

    Raises ValueError when the lists differ in length or hold null or non-finite values.
    """
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    valid = column.is_valid()
    valid_mask = valid.to_numpy(zero_copy_only=False)
    rows = column if column.null_count == 0 else column.filter(valid)
    if len(rows) == 0:
        return valid_mask, np.empty((0, 0), dtype=np.float64)
    lengths = pc.min_max(pc.list_value_length(rows))
    shortest, longest = lengths["min"].as_py(), lengths["max"].as_py()
    if shortest != longest:
        raise ValueError(f"feature arrays have different lengths ({shortest} to {longest})")
    values = rows.flatten()
    if values.null_count:
        raise ValueError("feature arrays contain null values")
    matrix = values.to_numpy(zero_copy_only=False).astype(np.float64, copy=False)
    matrix = matrix.reshape(len(rows), longest)
    if not np.isfinite(matrix).all():
        raise ValueError("feature arrays contain NaN or infinite values")
    return valid_mask, matrix


def matrix_as_list_column(matrix: np.ndarray, valid_mask: np.ndarray) -> pa.Array:
    """A list<float32> column: one row of ``matrix`` per valid row, null elsewhere."""
    n_rows = valid_mask.shape[0]
    width = matrix.shape[1] if matrix.ndim == 2 else 0
    lengths = np.where(valid_mask, width, 0)
    offsets = np.zeros(n_rows + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    values = pa.array(np.ascontiguousarray(matrix, dtype=np.float32).ravel())
    mask = None if valid_mask.all() else pa.array(~valid_mask)
    return pa.ListArray.from_arrays(pa.array(offsets), values, mask=mask)


def partial_row(moments: Optional[Moments], problem: Optional[str]) -> pa.RecordBatch:
    """One partition's result as a one-row Arrow batch (see PARTIAL_FIELDS)."""
    if problem is not None or moments is None:
        values = [0, 0, b"", b"", problem]
    else:
        values = [
            moments.count,
            moments.mean.shape[0],
            moments.mean.astype(np.float64).tobytes(),
            moments.m2.astype(np.float64).tobytes(),
            None,
        ]
    schema = pa.schema([pa.field(name, kind) for name, kind in PARTIAL_FIELDS])
    return pa.RecordBatch.from_arrays(
        [pa.array([value], type=kind) for value, (_, kind) in zip(values, PARTIAL_FIELDS)],
        schema=schema,
    )


def partition_moments(
    batches: Iterator[pa.RecordBatch], threads: int = 1
) -> Iterator[pa.RecordBatch]:
    """``mapInArrow`` function: the moments of all rows of a partition's first column, with
    ``threads`` BLAS threads (the task's share of the cores)."""

    def matrices() -> Iterator[np.ndarray]:
        for batch in batches:
            _, matrix = list_column_as_matrix(batch.column(0))
            if matrix.shape[0]:
                yield matrix

    try:
        with blas_threads(threads):
            total = moments_of_blocks(matrices())
    except ValueError as problem:
        yield partial_row(None, str(problem))
        return
    if total is not None:
        yield partial_row(total, None)


def row_as_moments(row: Any) -> Tuple[Optional[str], Optional[Moments]]:
    """A partial row (a pyspark Row, or a dict from Arrow) back to (problem, Moments)."""
    if row["problem"] is not None:
        return row["problem"], None
    # Views on the row's bytes, no copies: merges never write into their inputs.
    mean = np.frombuffer(row["mean"], dtype=np.float64)
    m2 = np.frombuffer(row["m2"], dtype=np.float64)
    return None, Moments(row["count"], mean, m2)


def merge_partials(
    a: Tuple[Optional[str], Optional[Moments]], b: Tuple[Optional[str], Optional[Moments]]
) -> Tuple[Optional[str], Optional[Moments]]:
    """Two partials merged: the first problem seen, else the merged moments."""
    problem = a[0] or b[0]
    if problem:
        return problem, None
    try:
        return None, merge_moments(a[1], b[1])
    except ValueError as mismatch:
        return str(mismatch), None


def merge_partial_batches(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """``mapInArrow`` function, the middle level of the merge tree: a group of partial rows
    merged into one (nothing when the group is empty)."""
    merged: Tuple[Optional[str], Optional[Moments]] = (None, None)
    for batch in batches:
        for row in batch.to_pylist():
            merged = merge_partials(merged, row_as_moments(row))
    problem, moments = merged
    if problem is not None or moments is not None:
        yield partial_row(moments, problem)


def project_batches(
    batches: Iterator[pa.RecordBatch],
    input_col: str,
    output_col: str,
    mean: np.ndarray,
    components: np.ndarray,
    threads: int = 1,
) -> Iterator[pa.RecordBatch]:
    """``mapInArrow`` function: append ``(x - mean) @ components.T`` to every batch."""
    width = mean.shape[0]
    with blas_threads(threads):
        yield from _project(batches, input_col, output_col, mean, components, width)


def _project(
    batches: Iterator[pa.RecordBatch],
    input_col: str,
    output_col: str,
    mean: np.ndarray,
    components: np.ndarray,
    width: int,
) -> Iterator[pa.RecordBatch]:
    for batch in batches:
        valid_mask, matrix = list_column_as_matrix(batch.column(input_col))
        if matrix.shape[0] and matrix.shape[1] != width:
            raise ValueError(
                f"column {input_col!r} has arrays of length {matrix.shape[1]}, "
                f"the PCA model was fitted on length {width}"
            )
        projected = (matrix - mean) @ components.T if matrix.shape[0] else matrix
        column = matrix_as_list_column(projected.reshape(-1, components.shape[0]), valid_mask)
        yield pa.RecordBatch.from_arrays(
            list(batch.columns) + [column], names=list(batch.schema.names) + [output_col]
        )
