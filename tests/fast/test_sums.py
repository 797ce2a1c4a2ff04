"""Sums by a product with a vector of ones (``layers/fast/sums.py``): every layout and dtype
gives NumPy's sums."""
import numpy as np
import pytest

from layers.fast.sums import ones, row_sums


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16, np.int64])
@pytest.mark.parametrize("layout", ["rows contiguous", "columns contiguous", "neither", "empty rows"])
def test_row_sums_are_numpys_sums_in_every_layout(dtype, layout):
    rng = np.random.default_rng(7)
    rows = (rng.standard_normal((5, 300)) * 10).astype(dtype)
    if layout == "columns contiguous":
        rows = np.asfortranarray(rows)
    elif layout == "neither":
        rows = rows[:, ::3]
    elif layout == "empty rows":
        rows = rows[:, :0]
    sums = row_sums(rows)
    assert sums.shape == (rows.shape[0],) and sums.dtype == rows.sum(axis=1).dtype
    if dtype in (np.float32, np.float64):  # by BLAS
        tolerance = 1e-5 if dtype == np.float32 else 1e-12
        np.testing.assert_allclose(sums, rows.astype(np.float64).sum(axis=1), rtol=tolerance, atol=tolerance)
    else:  # NumPy's own sum
        np.testing.assert_array_equal(sums, rows.sum(axis=1))


def test_the_vector_of_ones_is_shared_and_read_only():
    vector = ones(4, np.dtype(np.float32))
    assert vector is ones(4, np.dtype(np.float32)) and vector.dtype == np.float32
    np.testing.assert_array_equal(vector, [1, 1, 1, 1])
    with pytest.raises(ValueError):
        vector[0] = 2
