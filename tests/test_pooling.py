"""Math tests of max Pooling ("valid", any strides, 1-D and 2-D), run against the teaching and the fast layer.

Golden values worked out by hand, float64 central-difference gradient checks
(inputs are distinct values spaced far apart compared with the difference step,
so no perturbation ever changes which entry wins a window), and a plain loop
over every window as an independent reference.
"""
import itertools

import numpy as np
import pytest

from framework.gradient_check import assert_gradients, check_gradients
from tests.helpers import assert_arguments_untouched, batch_last, distinct_values, layer_fixture

Pooling = layer_fixture("Pooling")

TOLERANCE = 1e-7


@pytest.fixture
def rng():
    return np.random.default_rng(8)


def reference_pooling(input_tensor, stride_shape, pooling_shape, error_tensor):
    """Output and input gradient, one window at a time (slow and obvious)."""
    spatial = len(pooling_shape)
    counts = [(size - window) // stride + 1
              for size, window, stride in zip(input_tensor.shape[2:], pooling_shape, stride_shape)]
    output = np.zeros(input_tensor.shape[:2] + tuple(counts))
    input_gradient = np.zeros(input_tensor.shape)
    for item, channel in itertools.product(*(range(size) for size in input_tensor.shape[:2])):
        for position in itertools.product(*(range(count) for count in counts)):
            corner = [index * stride for index, stride in zip(position, stride_shape)]
            window = tuple(slice(start, start + size) for start, size in zip(corner, pooling_shape))
            values = input_tensor[(item, channel) + window]
            winner = np.unravel_index(np.argmax(values), values.shape)  # first maximum in row-major order
            output[(item, channel) + position] = values[winner]
            at = tuple(start + offset for start, offset in zip(corner, winner))
            input_gradient[(item, channel) + at] += error_tensor[(item, channel) + position]
    assert spatial == len(stride_shape)
    return output, input_gradient


# (stride_shape, pooling_shape, input_shape)
CASES = {
    "square 2x2/2": ((2, 2), (2, 2), (2, 3, 6, 8)),
    "square 2x2/2 odd size": ((2, 2), (2, 2), (2, 2, 7, 5)),
    "overlapping 3x3/1": ((1, 1), (3, 3), (2, 2, 6, 7)),
    "overlapping 3x3/2": ((2, 2), (3, 3), (2, 2, 7, 9)),
    "subsampling 2x2/3": ((3, 3), (2, 2), (2, 2, 8, 9)),
    "uneven 2x3 window, stride (3, 2)": ((3, 2), (2, 3), (2, 2, 10, 13)),
    "window equals input": ((1, 1), (4, 5), (2, 3, 4, 5)),
    "1x1 window, stride 2": ((2, 2), (1, 1), (2, 2, 5, 6)),
    "1-D window 3, stride 2": ((2,), (3,), (2, 3, 11)),
    "1-D window 2, stride 2": ((2,), (2,), (3, 2, 8)),
}


# -- golden values worked out by hand -------------------------------------------------


def test_known_values_2x2_stride_2(Pooling):
    image = np.array([[[[1.0, 5.0, 2.0, 0.0],
                        [3.0, 4.0, 8.0, 6.0],
                        [7.0, 0.5, 9.0, 1.5],
                        [2.5, 6.5, 3.5, 4.5]]]])
    layer = Pooling((2, 2), (2, 2))
    # windows: top-left {1, 5, 3, 4} → 5;   top-right {2, 0, 8, 6} → 8
    #          bottom-left {7, 0.5, 2.5, 6.5} → 7;   bottom-right {9, 1.5, 3.5, 4.5} → 9
    np.testing.assert_array_equal(layer.forward(image), [[[[5.0, 8.0], [7.0, 9.0]]]],
                                  err_msg="Pooling.forward: the maximum of each window")
    # each window's error goes to its maximum only
    input_gradient = layer.backward(np.array([[[[10.0, 20.0], [30.0, 40.0]]]]))
    np.testing.assert_array_equal(input_gradient, [[[[0.0, 10.0, 0.0, 0.0],
                                                      [0.0, 0.0, 20.0, 0.0],
                                                      [30.0, 0.0, 40.0, 0.0],
                                                      [0.0, 0.0, 0.0, 0.0]]]],
                                  err_msg="Pooling.backward: each window's error goes to its maximum only")


def test_overlapping_windows_add_up_at_a_shared_maximum(Pooling):
    image = np.array([[[[1.0, 2.0, 3.0],
                        [4.0, 9.0, 5.0],
                        [6.0, 7.0, 8.0]]]])
    layer = Pooling((1, 1), (2, 2))
    # All four 2x2 windows contain the centre 9, so every output is 9 ...
    np.testing.assert_array_equal(layer.forward(image), np.full((1, 1, 2, 2), 9.0))
    # ... and the centre receives the sum of the four errors: 1 + 2 + 3 + 4 = 10.
    input_gradient = layer.backward(np.array([[[[1.0, 2.0], [3.0, 4.0]]]]))
    expected = np.zeros((1, 1, 3, 3))
    expected[0, 0, 1, 1] = 10.0
    np.testing.assert_array_equal(input_gradient, expected,
                                  err_msg="Pooling.backward: a position that wins several overlapping windows "
                                          "receives the sum of their errors (add, do not assign)")


def test_subsampling_skips_rows_and_columns(Pooling):
    image = np.arange(25.0).reshape(1, 1, 5, 5)  # entry (i, j) = 5i + j, so the maximum is the bottom-right
    layer = Pooling((3, 3), (2, 2))
    # windows at rows/columns {0, 1} and {3, 4}: maxima at (1, 1) = 6, (1, 4) = 9, (4, 1) = 21, (4, 4) = 24
    np.testing.assert_array_equal(layer.forward(image), [[[[6.0, 9.0], [21.0, 24.0]]]])
    input_gradient = layer.backward(np.ones((1, 1, 2, 2)))
    expected = np.zeros((1, 1, 5, 5))
    expected[0, 0, [1, 1, 4, 4], [1, 4, 1, 4]] = 1.0  # row 2, column 2 and everything else get nothing
    np.testing.assert_array_equal(input_gradient, expected)


def test_tied_window_sends_its_error_to_the_first_maximum_only(Pooling):
    image = np.zeros((1, 1, 2, 4))  # as after a ReLU: many exact zeros
    image[0, 0, 1, 3] = 1.0
    layer = Pooling((2, 2), (2, 2))
    np.testing.assert_array_equal(layer.forward(image), [[[[0.0, 1.0]]]])
    input_gradient = layer.backward(np.array([[[[5.0, 7.0]]]]))
    # left window: four tied zeros, the first (row-major) takes the whole error 5; nothing is doubled
    np.testing.assert_array_equal(input_gradient, [[[[5.0, 0.0, 0.0, 0.0],
                                                      [0.0, 0.0, 0.0, 7.0]]]],
                                  err_msg="Pooling.backward: a window with tied maxima sends its whole error "
                                          "to the first of them (row-major), to no other")


def test_1d_known_values(Pooling):
    signal = np.array([[[3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0]]])
    layer = Pooling([2], [3])
    # windows at 0, 2, 4: {3, 1, 4} → 4 (index 2);  {4, 1, 5} → 5 (index 4);  {5, 9, 2} → 9 (index 5)
    np.testing.assert_array_equal(layer.forward(signal), [[[4.0, 5.0, 9.0]]])
    np.testing.assert_array_equal(layer.backward(np.array([[[1.0, 2.0, 3.0]]])),
                                  [[[0.0, 0.0, 1.0, 0.0, 2.0, 3.0, 0.0]]])


# -- shapes, gradients, reference -----------------------------------------------------


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_shapes(Pooling, case, rng):
    stride_shape, pooling_shape, input_shape = case
    layer = Pooling(stride_shape, pooling_shape)
    output = layer.forward(distinct_values(rng, input_shape))
    counts = tuple((size - window) // stride + 1
                   for size, window, stride in zip(input_shape[2:], pooling_shape, stride_shape))
    assert output.shape == input_shape[:2] + counts
    assert layer.backward(np.ones(output.shape)).shape == input_shape


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_gradients(Pooling, case, rng):
    stride_shape, pooling_shape, input_shape = case
    layer = Pooling(stride_shape, pooling_shape)
    assert_gradients(layer, distinct_values(rng, input_shape), tolerance=TOLERANCE, rng=rng)


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_matches_window_by_window_reference(Pooling, case, rng):
    stride_shape, pooling_shape, input_shape = case
    layer = Pooling(stride_shape, pooling_shape)
    input_tensor = distinct_values(rng, input_shape)
    output = layer.forward(input_tensor)
    error_tensor = rng.standard_normal(output.shape)
    expected_output, expected_gradient = reference_pooling(input_tensor, stride_shape, pooling_shape, error_tensor)
    np.testing.assert_array_equal(output, expected_output)
    np.testing.assert_allclose(layer.backward(error_tensor), expected_gradient, rtol=1e-15, atol=1e-15)


def test_ties_match_the_reference(Pooling, rng):
    # Small integers: plenty of ties inside the overlapping windows.
    input_tensor = rng.integers(0, 3, size=(2, 2, 7, 8)).astype(np.float64)
    layer = Pooling((1, 2), (3, 2))
    output = layer.forward(input_tensor)
    error_tensor = rng.standard_normal(output.shape)
    expected_output, expected_gradient = reference_pooling(input_tensor, (1, 2), (3, 2), error_tensor)
    np.testing.assert_array_equal(output, expected_output)
    np.testing.assert_allclose(layer.backward(error_tensor), expected_gradient, rtol=1e-15, atol=1e-15)


@pytest.mark.parametrize("layout", ["batch first", "batch last"])
def test_ties_in_windows_that_tile_the_input_match_the_reference(Pooling, layout, rng):
    # 2x2 windows at stride 2 over small integers: many windows with tied maxima.
    input_tensor = rng.integers(0, 3, size=(3, 2, 6, 8)).astype(np.float64)
    layer = Pooling((2, 2), (2, 2))
    output = layer.forward(input_tensor if layout == "batch first" else batch_last(input_tensor))
    error_tensor = rng.standard_normal(output.shape)
    expected_output, expected_gradient = reference_pooling(input_tensor, (2, 2), (2, 2), error_tensor)
    np.testing.assert_array_equal(output, expected_output)
    np.testing.assert_array_equal(layer.backward(error_tensor), expected_gradient)


def test_a_nan_window_and_a_tied_window_pass_no_error_twice(Pooling):
    # One window whose maximum is NaN (no entry equals it) and one with two tied maxima: as many
    # winners as windows in all, yet the tie still goes to its first entry only.
    image = np.array([[[[np.nan, 1.0, 3.0, 3.0],
                        [2.0, 4.0, 1.0, 0.0]]]])
    layer = Pooling((2, 2), (2, 2))
    np.testing.assert_array_equal(layer.forward(image), [[[[np.nan, 3.0]]]])
    input_gradient = layer.backward(np.array([[[[5.0, 7.0]]]]))
    np.testing.assert_array_equal(input_gradient, [[[[0.0, 0.0, 7.0, 0.0],
                                                      [0.0, 0.0, 0.0, 0.0]]]])


def test_checker_rejects_a_wrong_backward(Pooling, rng):
    class SpreadingEvenly(Pooling):  # a deliberate bug: each window's error spread over the window
        def backward(self, error_tensor):
            super().backward(error_tensor)
            input_gradient = np.zeros(self.remembered_shape)
            for row in range(error_tensor.shape[2]):
                for column in range(error_tensor.shape[3]):
                    input_gradient[:, :, 2 * row:2 * row + 2, 2 * column:2 * column + 2] += \
                        error_tensor[:, :, row:row + 1, column:column + 1] / 4
            return input_gradient

        def forward(self, input_tensor):
            self.remembered_shape = np.shape(input_tensor)
            return super().forward(input_tensor)

    layer = SpreadingEvenly((2, 2), (2, 2))
    differences = check_gradients(layer, distinct_values(rng, (2, 2, 4, 4)), rng=rng)
    assert differences["input"] > 1e-1
    with pytest.raises(AssertionError, match="input"):
        assert_gradients(layer, distinct_values(rng, (2, 2, 4, 4)), rng=rng)


# -- dtype, layout, no mutation --------------------------------------------------------


def test_float32_stays_float32_and_passes_at_float32_tolerance(Pooling, rng):
    layer = Pooling((2, 2), (2, 2))
    input_tensor = distinct_values(rng, (2, 2, 6, 6)).astype(np.float32)
    output = layer.forward(input_tensor)
    assert output.dtype == np.float32
    assert layer.backward(np.ones(output.shape, dtype=np.float32)).dtype == np.float32
    assert_gradients(layer, input_tensor, tolerance=1e-2, rng=rng)


def test_any_memory_layout_gives_the_same_results(Pooling, rng):
    values = distinct_values(rng, (4, 3, 6, 6))
    error_tensor = rng.standard_normal((4, 3, 3, 3))
    layer = Pooling((2, 2), (2, 2))
    output, input_gradient = layer.forward(values), layer.backward(error_tensor)
    for layout in (batch_last, np.asfortranarray):
        np.testing.assert_array_equal(layer.forward(layout(values)), output)
        np.testing.assert_array_equal(layer.backward(layout(error_tensor)), input_gradient)


def test_the_same_in_both_phases(Pooling, rng):
    values, error_tensor = distinct_values(rng, (2, 2, 6, 6)), rng.standard_normal((2, 2, 3, 3))
    training, testing = Pooling((2, 2), (2, 2)), Pooling((2, 2), (2, 2))
    testing.testing_phase = True
    np.testing.assert_array_equal(testing.forward(values), training.forward(values))
    np.testing.assert_array_equal(testing.backward(error_tensor), training.backward(error_tensor))


def test_forward_and_backward_do_not_mutate_their_arguments(Pooling, rng):
    layer = Pooling((1, 1), (2, 2))
    input_tensor = distinct_values(rng, (2, 2, 4, 4))
    error_tensor = rng.standard_normal((2, 2, 3, 3))
    assert_arguments_untouched(layer, input_tensor, error_tensor)


def test_returned_output_is_not_overwritten_by_the_next_call(Pooling, rng):
    layer = Pooling((2, 2), (2, 2))
    first = layer.forward(distinct_values(rng, (1, 1, 4, 4)))
    first_copy = first.copy()
    layer.forward(distinct_values(rng, (1, 1, 4, 4)) + 100)
    np.testing.assert_array_equal(first, first_copy)


def test_stride_given_once_applies_to_both_axes(Pooling, rng):
    input_tensor = distinct_values(rng, (1, 2, 7, 7))
    expected = Pooling((2, 2), (3, 3)).forward(input_tensor)
    np.testing.assert_array_equal(Pooling(2, (3, 3)).forward(input_tensor), expected)
    np.testing.assert_array_equal(Pooling([2], (3, 3)).forward(input_tensor), expected)


# -- errors -----------------------------------------------------------------------------


def test_window_larger_than_input_is_refused(Pooling, rng):
    layer = Pooling((2, 2), (3, 3))
    with pytest.raises(ValueError, match=r"Pooling.*\(3, 3\).*\(1, 1, 2, 5\)"):
        layer.forward(rng.standard_normal((1, 1, 2, 5)))


def test_wrong_rank_is_refused(Pooling, rng):
    with pytest.raises(ValueError, match=r"Pooling.*\(2, 8, 8\)"):
        Pooling((2, 2), (2, 2)).forward(rng.standard_normal((2, 8, 8)))
    with pytest.raises(ValueError, match=r"Pooling.*\(2, 1, 8, 8\)"):
        Pooling([2], [2]).forward(rng.standard_normal((2, 1, 8, 8)))


@pytest.mark.parametrize("pooling_shape", [(0, 2), (2, -1), (2, 2, 2), (2.0, 2), 2, None, "ab"])
def test_bad_pooling_shape_is_refused(Pooling, pooling_shape):
    with pytest.raises(ValueError, match="Pooling.*pooling_shape"):
        Pooling((2, 2), pooling_shape)


@pytest.mark.parametrize("stride_shape", [(0, 2), (2, 2, 2), (1.5, 1), None, True])
def test_bad_stride_shape_is_refused(Pooling, stride_shape):
    with pytest.raises(ValueError, match="Pooling.*stride_shape"):
        Pooling(stride_shape, (2, 2))


def test_wrong_error_shape_is_refused(Pooling, rng):
    layer = Pooling((2, 2), (2, 2))
    layer.forward(distinct_values(rng, (1, 1, 4, 4)))
    with pytest.raises(ValueError, match=r"Pooling.*\(1, 1, 2, 2\).*\(1, 1, 4, 4\)"):
        layer.backward(np.ones((1, 1, 4, 4)))


def test_backward_before_forward_is_refused(Pooling):
    with pytest.raises(RuntimeError, match="Pooling"):
        Pooling((2, 2), (2, 2)).backward(np.ones((1, 1, 2, 2)))
