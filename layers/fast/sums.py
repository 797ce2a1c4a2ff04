"""Sums by BLAS: a product with a vector of ones.

NumPy's ``sum`` along an axis runs about 3 times slower than BLAS multiplying by a vector of
ones, which reads each value once, at full speed (float32, one thread: 16 rows of 50176
values, a convolution's bias gradient, 41 µs against 106; 64 vectors of 120, a batch
normalization's means, 1.6 against 2.6; docs/performance.md). BLAS adds in several partial
sums, as its dot products do (``np.vecdot``, which the fast BatchNormalization's variance
uses): the error grows with the length of each partial sum, where NumPy's pairwise sum has
O(log n) roundings; both are far below what float32 training notices.
"""
import functools

import numpy as np


def row_sums(rows):
    """Σ_j rows[i, j] for every row i of a 2-D array: ``rows @ ones`` where the rows are
    contiguous, ``ones @ rows.T`` where the columns are (a transposed C-order matrix);
    NumPy's sum for any other layout or dtype (BLAS multiplies float32 and float64 only)."""
    if rows.dtype in (np.float32, np.float64) and rows.shape[1] > 0:
        if rows.strides[1] == rows.itemsize:
            return rows @ ones(rows.shape[1], rows.dtype)
        if rows.strides[0] == rows.itemsize:
            return ones(rows.shape[1], rows.dtype) @ rows.T
    return rows.sum(axis=1)


@functools.lru_cache(maxsize=32)
def ones(length, dtype):
    """A read-only vector of ``length`` ones, made once per length and dtype."""
    vector = np.ones(length, dtype=dtype)
    vector.flags.writeable = False
    return vector
