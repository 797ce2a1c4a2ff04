"""Exercise-style tests of Conv ("same" padding, strides, 1-D and 2-D).

Evidence of four kinds (STYLE.md point 8 and 9): golden values worked out by
hand (arithmetic in the comments), float64 central-difference gradient checks
with random upstream errors, an independent computation of the forward pass
with ``scipy.signal.correlate``, and the plain loop-over-offsets reference in
``layers/conv_reference.py`` that the fast im2col layer must reproduce. A
deliberately wrong backward must fail the gradient checker.
"""
import copy

import numpy as np
import pytest
import scipy.signal

from framework.gradient_check import assert_gradients, check_gradients
from layers import Conv
from layers.conv_reference import conv_backward_reference, conv_forward_reference, same_padding
from optimizers import Sgd
from tests.helpers import RecordingInitializer, assert_arguments_untouched, make_conv

TOLERANCE = 1e-7          # float64, h = 1e-6: a correct layer gives ~1e-9
FLOAT32_TOLERANCE = 1e-2  # float32, h = 3e-3: a correct layer gives ~1e-3


@pytest.fixture
def rng():
    return np.random.default_rng(20240508)


def batch_last(array):
    """The same values stored in (c, y, x, b) memory order, still shaped (b, c, y, x)."""
    return np.ascontiguousarray(np.moveaxis(array, 0, -1)).transpose((array.ndim - 1,) + tuple(range(array.ndim - 1)))


# (stride_shape, convolution_shape, num_kernels, input_shape)
CASES_2D = {
    "odd 3x3": ((1, 1), (2, 3, 3), 3, (2, 2, 6, 7)),
    "even 4x4": ((1, 1), (2, 4, 4), 2, (2, 2, 6, 5)),
    "uneven 5x8": ((1, 1), (3, 5, 8), 2, (2, 3, 10, 13)),
    "even 2x2": ((1, 1), (1, 2, 2), 2, (3, 1, 5, 4)),
    "stride (3, 2) odd": ((3, 2), (2, 3, 3), 3, (2, 2, 10, 13)),
    "stride (3, 2) uneven 4x5": ((3, 2), (2, 4, 5), 2, (2, 2, 10, 13)),
    "stride 2 as int": (2, (2, 3, 3), 2, (2, 2, 7, 6)),
    "stride larger than kernel": ((4, 3), (1, 2, 2), 2, (2, 1, 9, 7)),
    "1x1 kernel": ((1, 1), (4, 1, 1), 3, (2, 4, 5, 6)),
    "1x1 kernel, stride 2": ((2, 2), (3, 1, 1), 2, (2, 3, 5, 6)),
    "multi-channel 3->5": ((1, 1), (3, 3, 3), 5, (3, 3, 5, 5)),
}
CASES_1D = {
    "odd 3": ([1], (2, 3), 3, (3, 2, 9)),
    "even 4": ([1], (2, 4), 2, (3, 2, 9)),
    "stride 2": ([2], (3, 3), 2, (2, 3, 11)),
    "stride 3, even 2": ((3,), (1, 2), 2, (2, 1, 10)),
    "kernel 1": ([1], (3, 1), 2, (2, 3, 5)),
}
ALL_CASES = {**{"2-D " + name: case for name, case in CASES_2D.items()},
             **{"1-D " + name: case for name, case in CASES_1D.items()}}


# -- golden values worked out by hand -------------------------------------------------


def test_1d_odd_kernel_known_values():
    layer = Conv([1], (1, 3), 1)
    layer.weights = np.array([[[1.0, 0.0, -1.0]]])
    layer.bias = np.array([0.5])
    # Kernel size 3: one zero before and one after: x̃ = [0, 1, 2, 3, 4, 0].
    # z[i] = 1·x̃[i] + 0·x̃[i+1] − 1·x̃[i+2] + 0.5
    #   i=0: 0 − 2 + 0.5 = −1.5;  i=1: 1 − 3 + 0.5 = −1.5;  i=2: 2 − 4 + 0.5 = −1.5;  i=3: 3 − 0 + 0.5 = 3.5
    output = layer.forward(np.array([[[1.0, 2.0, 3.0, 4.0]]]))
    np.testing.assert_allclose(output, [[[-1.5, -1.5, -1.5, 3.5]]], rtol=0, atol=1e-15)


def test_1d_odd_kernel_known_gradients():
    layer = Conv([1], (1, 3), 1)
    layer.weights = np.array([[[1.0, 0.0, -1.0]]])
    layer.bias = np.array([0.5])
    layer.forward(np.array([[[1.0, 2.0, 3.0, 4.0]]]))
    # Error only on z[0] = 1·x̃[0] + 0·x̃[1] − 1·x̃[2], and x̃[k] = x[k − 1]:
    #   ∂L/∂x = [0 (from x̃[1] = x[0]), −1 (from x̃[2] = x[1]), 0, 0]
    #   ∂L/∂W[p] = x̃[p] = [0, 1, 2];   ∂L/∂b = 1
    input_gradient = layer.backward(np.array([[[1.0, 0.0, 0.0, 0.0]]]))
    np.testing.assert_allclose(input_gradient, [[[0.0, -1.0, 0.0, 0.0]]], rtol=0, atol=1e-15)
    np.testing.assert_allclose(layer.gradient_weights, [[[0.0, 1.0, 2.0]]], rtol=0, atol=1e-15)
    np.testing.assert_allclose(layer.gradient_bias, [1.0], rtol=0, atol=1e-15)


def test_1d_even_kernel_pads_after_and_stride_subsamples():
    layer = Conv([1], (1, 2), 1)
    layer.weights = np.array([[[1.0, 10.0]]])
    layer.bias = np.array([0.0])
    signal = np.array([[[1.0, 2.0, 3.0, 4.0]]])
    # Kernel size 2: (2 − 1) // 2 = 0 zeros before, 2 // 2 = 1 after (PyTorch's "same"):
    # x̃ = [1, 2, 3, 4, 0];  z[i] = x̃[i] + 10·x̃[i+1] = [1+20, 2+30, 3+40, 4+0] = [21, 32, 43, 4]
    np.testing.assert_allclose(layer.forward(signal), [[[21.0, 32.0, 43.0, 4.0]]], rtol=0, atol=1e-15)
    # Stride 2 keeps z[0] and z[2]: [21, 43]
    strided = Conv([2], (1, 2), 1)
    strided.weights, strided.bias = layer.weights, layer.bias
    np.testing.assert_allclose(strided.forward(signal), [[[21.0, 43.0]]], rtol=0, atol=1e-15)


def test_2d_even_kernel_known_values():
    layer = Conv((1, 1), (1, 2, 2), 1)
    layer.weights = np.array([[[[1.0, 0.0],
                                [0.0, 1.0]]]])
    layer.bias = np.array([0.0])
    image = np.array([[[[1.0, 2.0, 3.0],
                        [4.0, 5.0, 6.0],
                        [7.0, 8.0, 9.0]]]])
    # 2x2 kernel: no zero above/left, one below/right. z[i, j] = x̃[i, j] + x̃[i+1, j+1]:
    #   row 0: 1+5, 2+6, 3+0  = 6, 8, 3
    #   row 1: 4+8, 5+9, 6+0  = 12, 14, 6
    #   row 2: 7+0, 8+0, 9+0  = 7, 8, 9
    expected = np.array([[[[6.0, 8.0, 3.0],
                           [12.0, 14.0, 6.0],
                           [7.0, 8.0, 9.0]]]])
    np.testing.assert_allclose(layer.forward(image), expected, rtol=0, atol=1e-15)


def test_two_kernels_two_channels_known_values():
    layer = Conv((1, 1), (2, 1, 1), 2)
    # 1x1 kernels mix channels per pixel: kernel 0 = ch0 + ch1, kernel 1 = 2·ch0 − ch1, bias [0, 1]
    layer.weights = np.array([[[[1.0]], [[1.0]]],
                              [[[2.0]], [[-1.0]]]])
    layer.bias = np.array([0.0, 1.0])
    image = np.array([[[[1.0, 2.0]], [[3.0, 5.0]]]])  # ch0 = [1, 2], ch1 = [3, 5]
    # kernel 0: [1+3, 2+5] = [4, 7];   kernel 1: [2−3+1, 4−5+1] = [0, 0]
    np.testing.assert_allclose(layer.forward(image), [[[[4.0, 7.0]], [[0.0, 0.0]]]], rtol=0, atol=1e-15)


def test_same_padding_convention():
    # (before, after): odd kernels pad symmetrically, even kernels put the extra zero after.
    assert same_padding(1) == (0, 0)
    assert same_padding(3) == (1, 1)
    assert same_padding(5) == (2, 2)
    assert same_padding(2) == (0, 1)
    assert same_padding(4) == (1, 2)


# -- shapes, initialization, parameters -------------------------------------------------


@pytest.mark.parametrize("case", ALL_CASES.values(), ids=ALL_CASES.keys())
def test_shapes(case, rng):
    stride_shape, convolution_shape, num_kernels, input_shape = case
    layer = Conv(stride_shape, convolution_shape, num_kernels)
    strides = np.broadcast_to(np.atleast_1d(stride_shape), (len(input_shape) - 2,))
    expected_spatial = tuple(-(-size // stride) for size, stride in zip(input_shape[2:], strides))
    output = layer.forward(rng.standard_normal(input_shape))
    assert output.shape == (input_shape[0], num_kernels) + expected_spatial
    assert layer.weights.shape == (num_kernels,) + tuple(convolution_shape)
    assert layer.bias.shape == (num_kernels,)
    assert layer.backward(np.ones(output.shape)).shape == input_shape
    assert layer.gradient_weights.shape == layer.weights.shape
    assert layer.gradient_bias.shape == layer.bias.shape


def test_output_shape_with_stride_on_uneven_image(rng):
    # ceil(10 / 3) = 4 rows, ceil(13 / 2) = 7 columns
    layer = Conv((3, 2), (1, 5, 8), 4)
    assert layer.forward(rng.standard_normal((2, 1, 10, 13))).shape == (2, 4, 4, 7)


def test_starts_uniform_in_unit_interval_and_is_trainable():
    layer = Conv((1, 1), (3, 5, 5), 8, rng=np.random.default_rng(0))
    assert layer.trainable
    assert layer.weights.shape == (8, 3, 5, 5)
    assert np.all((layer.weights >= 0) & (layer.weights < 1))
    assert np.all((layer.bias >= 0) & (layer.bias < 1))


def test_same_rng_seed_gives_same_weights():
    first = Conv((1, 1), (2, 3, 3), 4, rng=np.random.default_rng(7))
    second = Conv((1, 1), (2, 3, 3), 4, rng=np.random.default_rng(7))
    np.testing.assert_array_equal(first.weights, second.weights)
    np.testing.assert_array_equal(first.bias, second.bias)


def test_initialize_passes_fans_2d():
    layer = Conv((1, 1), (3, 5, 8), 4)
    weights_initializer, bias_initializer = RecordingInitializer(0.25), RecordingInitializer(0.5)
    layer.initialize(weights_initializer, bias_initializer)
    # fan_in = c·m·n = 3·5·8 = 120,  fan_out = K·m·n = 4·5·8 = 160
    assert weights_initializer.calls == [((4, 3, 5, 8), 120, 160)]
    assert bias_initializer.calls == [((4,), 120, 160)]
    np.testing.assert_array_equal(layer.weights, np.full((4, 3, 5, 8), 0.25))
    np.testing.assert_array_equal(layer.bias, np.full(4, 0.5))


def test_initialize_passes_fans_1d():
    layer = Conv([1], (2, 7), 3)
    weights_initializer = RecordingInitializer(0.1)
    layer.initialize(weights_initializer, RecordingInitializer(0.0))
    # fan_in = c·m = 2·7 = 14,  fan_out = K·m = 3·7 = 21
    assert weights_initializer.calls == [((3, 2, 7), 14, 21)]


def test_initialize_keeps_float32():
    layer = Conv((1, 1), (1, 3, 3), 2, dtype=np.float32)
    layer.initialize(RecordingInitializer(0.1), RecordingInitializer(0.0))
    assert layer.weights.dtype == np.float32 and layer.bias.dtype == np.float32


def test_optimizer_updates_weights_and_bias_separately(rng):
    layer = make_conv((1, 1), (2, 3, 3), 2, rng)
    weights, bias = layer.weights.copy(), layer.bias.copy()
    layer.optimizer = Sgd(0.1)
    assert layer._weights_optimizer is not layer._bias_optimizer
    output = layer.forward(rng.standard_normal((2, 2, 4, 4)))
    layer.backward(np.ones(output.shape))
    np.testing.assert_allclose(layer.weights, weights - 0.1 * layer.gradient_weights, rtol=1e-14)
    np.testing.assert_allclose(layer.bias, bias - 0.1 * layer.gradient_bias, rtol=1e-14)


def test_backward_returns_input_gradient_of_the_forward_weights(rng):
    # The update must happen after the input gradient is computed with the old weights.
    layer = make_conv((1, 1), (2, 3, 3), 2, rng)
    reference = copy.deepcopy(layer)
    layer.optimizer = Sgd(1.0)
    input_tensor = rng.standard_normal((2, 2, 5, 5))
    error_tensor = rng.standard_normal((2, 2, 5, 5))
    layer.forward(input_tensor)
    reference.forward(input_tensor)
    np.testing.assert_allclose(layer.backward(error_tensor), reference.backward(error_tensor), rtol=1e-13)


def test_reused_buffers_survive_a_deep_copy_and_repeated_calls(rng):
    """The padded input, its windows view and the columns are reused between calls; a deep copy
    made after a forward pass must still compute from its own new input, as must the original."""
    layer = make_conv((1, 1), (2, 3, 3), 2, rng)
    first, second = rng.standard_normal((2, 2, 5, 5)), rng.standard_normal((2, 2, 5, 5))
    layer.forward(first)
    twin = copy.deepcopy(layer)
    fresh = copy.deepcopy(make_conv((1, 1), (2, 3, 3), 2, rng))
    fresh.weights, fresh.bias = layer.weights, layer.bias
    np.testing.assert_array_equal(twin.forward(second), fresh.forward(second))
    np.testing.assert_array_equal(layer.forward(second), fresh.forward(second))
    np.testing.assert_array_equal(twin.forward(first), layer.forward(first))


@pytest.mark.parametrize("case", ALL_CASES.values(), ids=ALL_CASES.keys())
@pytest.mark.parametrize("tile_bytes", [1, Conv.TILE_BYTES])
def test_testing_phase_computes_the_same_in_tiles(case, tile_bytes, rng):
    """The testing phase builds the columns a few output rows at a time (one row per tile with
    tile_bytes=1); outputs, and the gradients of a backward pass after it, are the training
    phase's."""
    stride_shape, convolution_shape, num_kernels, input_shape = case
    training = make_conv(stride_shape, convolution_shape, num_kernels, rng)
    testing = copy.deepcopy(training)
    testing.testing_phase, testing.TILE_BYTES = True, tile_bytes
    input_tensor = rng.standard_normal(input_shape)
    output = training.forward(input_tensor)
    np.testing.assert_allclose(testing.forward(input_tensor), output, rtol=1e-12, atol=1e-12)
    assert testing.columns is None  # not kept in the testing phase
    error_tensor = rng.standard_normal(output.shape)
    np.testing.assert_allclose(testing.backward(error_tensor), training.backward(error_tensor),
                               rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(testing.gradient_weights, training.gradient_weights, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(testing.gradient_bias, training.gradient_bias, rtol=1e-12, atol=1e-12)


def test_replica_shares_the_weights_but_no_buffer(rng):
    layer = make_conv((1, 1), (2, 3, 3), 2, rng)
    first, second = rng.standard_normal((2, 2, 5, 5)), rng.standard_normal((2, 2, 5, 5))
    reference = copy.deepcopy(layer)
    output = layer.forward(first)
    reference.forward(first)
    twin = layer.replica()
    assert twin.weights is layer.weights and twin.bias is layer.bias
    twin.forward(second)  # same shapes: a shared buffer would now hold the second input
    assert twin._buffers.keys() == layer._buffers.keys() >= {"padded", "columns"}
    for name, (_, buffer) in twin._buffers.items():
        assert not np.shares_memory(buffer, layer._buffers[name][1]), name
    error_tensor = rng.standard_normal(output.shape)
    np.testing.assert_array_equal(layer.backward(error_tensor), reference.backward(error_tensor))
    np.testing.assert_array_equal(layer.gradient_weights, reference.gradient_weights)


# -- gradient checks --------------------------------------------------------------------


@pytest.mark.parametrize("case", ALL_CASES.values(), ids=ALL_CASES.keys())
def test_gradients(case, rng):
    stride_shape, convolution_shape, num_kernels, input_shape = case
    layer = make_conv(stride_shape, convolution_shape, num_kernels, rng)
    assert_gradients(layer, rng.standard_normal(input_shape), tolerance=TOLERANCE, rng=rng)


def test_gradients_float32_stay_float32_and_pass_at_float32_tolerance(rng):
    layer = make_conv((2, 1), (2, 3, 4), 3, rng, dtype=np.float32)
    input_tensor = rng.standard_normal((2, 2, 6, 5)).astype(np.float32)
    output = layer.forward(input_tensor)
    input_gradient = layer.backward(np.ones(output.shape, dtype=np.float32))
    for array in (output, input_gradient, layer.gradient_weights, layer.gradient_bias, layer.weights, layer.bias):
        assert array.dtype == np.float32
    assert_gradients(layer, input_tensor, tolerance=FLOAT32_TOLERANCE, rng=rng)


def test_float32_1d_stays_float32(rng):
    layer = Conv([2], (2, 4), 3, dtype=np.float32)
    output = layer.forward(rng.standard_normal((2, 2, 9)).astype(np.float32))
    assert output.dtype == np.float32
    assert layer.backward(np.ones(output.shape, dtype=np.float32)).dtype == np.float32


class ConvWithWrongInputGradient(Conv):
    """A deliberate bug: the input gradient lands one pixel to the right of where it belongs."""

    def backward(self, error_tensor):
        input_gradient = super().backward(error_tensor)
        return np.roll(input_gradient, 1, axis=-1)


class ConvWithWrongWeightsGradient(Conv):
    """A deliberate bug: the weights gradient has the right shape but its kernel is flipped."""

    def backward(self, error_tensor):
        input_gradient = super().backward(error_tensor)
        self.gradient_weights = self.gradient_weights[..., ::-1, ::-1].copy()
        return input_gradient


def test_checker_rejects_a_wrong_input_gradient(rng):
    layer = ConvWithWrongInputGradient((1, 1), (2, 3, 3), 2)
    layer.weights = rng.standard_normal(layer.weights.shape)
    differences = check_gradients(layer, rng.standard_normal((2, 2, 5, 5)), rng=rng)
    assert differences["input"] > 1e-2
    assert differences["weights"] < TOLERANCE and differences["bias"] < TOLERANCE
    with pytest.raises(AssertionError, match="input"):
        assert_gradients(layer, rng.standard_normal((2, 2, 5, 5)), rng=rng)


def test_checker_rejects_a_wrong_weights_gradient(rng):
    layer = ConvWithWrongWeightsGradient((1, 1), (2, 3, 3), 2)
    layer.weights = rng.standard_normal(layer.weights.shape)
    with pytest.raises(AssertionError, match="weights"):
        assert_gradients(layer, rng.standard_normal((2, 2, 5, 5)), rng=rng)


def test_first_layer_can_skip_the_input_gradient(rng):
    layer = make_conv((1, 1), (1, 3, 3), 2, rng)
    reference = copy.deepcopy(layer)
    layer.compute_input_gradient = False
    input_tensor = rng.standard_normal((2, 1, 5, 5))
    error_tensor = rng.standard_normal((2, 2, 5, 5))
    layer.forward(input_tensor)
    assert layer.backward(error_tensor) is None
    reference.forward(input_tensor)
    reference.backward(error_tensor)
    np.testing.assert_allclose(layer.gradient_weights, reference.gradient_weights, rtol=1e-14)
    np.testing.assert_allclose(layer.gradient_bias, reference.gradient_bias, rtol=1e-14)


# -- an independent forward computation: scipy.signal.correlate ------------------------


def scipy_same_correlation(input_tensor, weights, bias, stride_shape):
    """Σ over channels of scipy's full cross-correlation, cropped to PyTorch's "same", then strided.

    The full correlation f has f[t] = Σ_p x[t − (m − 1) + p] w[p]; we want
    z[i] = Σ_p x[i − before + p] w[p] with before = (m − 1) // 2, i.e. z[i] = f[i + m − 1 − before].
    """
    spatial = input_tensor.ndim - 2
    kernel_sizes = weights.shape[2:]
    crops = tuple(slice(m - 1 - (m - 1) // 2, m - 1 - (m - 1) // 2 + size)
                  for m, size in zip(kernel_sizes, input_tensor.shape[2:]))
    strides = tuple(np.broadcast_to(np.atleast_1d(stride_shape), (spatial,)))
    subsample = tuple(slice(None, None, stride) for stride in strides)
    batch, num_kernels = input_tensor.shape[0], weights.shape[0]
    output = []
    for item in range(batch):
        maps = []
        for kernel in range(num_kernels):
            full = sum(scipy.signal.correlate(input_tensor[item, channel], weights[kernel, channel], mode="full")
                       for channel in range(input_tensor.shape[1]))
            maps.append(full[crops][subsample] + bias[kernel])
        output.append(maps)
    return np.array(output)


@pytest.mark.parametrize("case", ALL_CASES.values(), ids=ALL_CASES.keys())
def test_forward_matches_scipy_correlate(case, rng):
    stride_shape, convolution_shape, num_kernels, input_shape = case
    layer = make_conv(stride_shape, convolution_shape, num_kernels, rng)
    input_tensor = rng.standard_normal(input_shape)
    expected = scipy_same_correlation(input_tensor, layer.weights, layer.bias, stride_shape)
    np.testing.assert_allclose(layer.forward(input_tensor), expected, rtol=1e-12, atol=1e-12)


def test_odd_kernel_matches_scipy_same_mode_directly(rng):
    # For odd kernels every convention agrees: scipy's mode="same" is the layer's output.
    layer = make_conv((1, 1), (1, 5, 3), 1, rng)
    layer.bias = np.zeros(1)
    image = rng.standard_normal((1, 1, 8, 9))
    expected = scipy.signal.correlate(image[0, 0], layer.weights[0, 0], mode="same")
    np.testing.assert_allclose(layer.forward(image)[0, 0], expected, rtol=1e-12, atol=1e-12)


def test_even_kernel_differs_from_scipy_same_mode_by_one_pixel(rng):
    # scipy's mode="same" puts the extra zero of an even kernel *before* the data, PyTorch
    # (and this layer) after: the results are the same map shifted by one position.
    layer = make_conv([1], (1, 4), 1, rng)
    layer.bias = np.zeros(1)
    signal = rng.standard_normal((1, 1, 12))
    ours = layer.forward(signal)[0, 0]
    theirs = scipy.signal.correlate(signal[0, 0], layer.weights[0, 0], mode="same")
    np.testing.assert_allclose(ours[:-1], theirs[1:], rtol=1e-12, atol=1e-12)
    assert not np.allclose(ours, theirs)


# -- fast layer against the plain reference -------------------------------------------


# Output blocks (B_y, B_x) to try on every case; 1-D layers take the (1, B_x) ones.
OUTPUT_BLOCKS = [(1, 1), (2, 2), (2, 3), (3, 1), (1, 2), (4, 4)]


def blocks_for(input_shape):
    return [block for block in OUTPUT_BLOCKS if len(input_shape) == 4 or block[0] == 1]


@pytest.mark.parametrize("case", ALL_CASES.values(), ids=ALL_CASES.keys())
def test_fast_layer_matches_reference_with_every_output_block(case, rng):
    # Output, input/weights/bias gradients, training and testing phase, for blocks that divide
    # the output, that overhang it, that are larger than it, with and without strides.
    stride_shape, convolution_shape, num_kernels, input_shape = case
    layer = make_conv(stride_shape, convolution_shape, num_kernels, rng)
    input_tensor = rng.standard_normal(input_shape)
    expected_output = conv_forward_reference(input_tensor, layer.weights, layer.bias, stride_shape)
    error_tensor = rng.standard_normal(expected_output.shape)
    expected_gradients = conv_backward_reference(input_tensor, layer.weights, stride_shape, error_tensor)
    for block in blocks_for(input_shape):
        layer.output_block = block
        for testing_phase in (False, True):
            layer.testing_phase = testing_phase
            np.testing.assert_allclose(layer.forward(input_tensor), expected_output, rtol=1e-12, atol=1e-12,
                                       err_msg=f"output_block {block}, testing phase {testing_phase}")
            actual_gradients = (layer.backward(error_tensor), layer.gradient_weights, layer.gradient_bias)
            for actual, expected, name in zip(actual_gradients, expected_gradients, ("input", "weights", "bias")):
                np.testing.assert_allclose(actual, expected, rtol=1e-12, atol=1e-12,
                                           err_msg=f"{name} gradient, output_block {block}")


@pytest.mark.parametrize("block", [(1, 1), (2, 2), (3, 2)])
def test_gradients_with_output_blocks(block, rng):
    layer = make_conv((1, 1), (2, 4, 3), 3, rng)
    layer.output_block = block
    assert_gradients(layer, rng.standard_normal((2, 2, 7, 6)), tolerance=TOLERANCE, rng=rng)


def test_default_output_blocks():
    # 2x2 for 2-D layers with stride 1 and kernels of at least 5x5, else 1x1 (class docstring).
    assert Conv((1, 1), (1, 5, 5), 6).output_block == (2, 2)
    assert Conv((1, 1), (6, 7, 5), 16).output_block == (2, 2)
    assert Conv((1, 1), (6, 3, 3), 16).output_block == (1, 1)
    assert Conv((1, 1), (6, 5, 4), 16).output_block == (1, 1)
    assert Conv((2, 1), (6, 5, 5), 16).output_block == (1, 1)
    assert Conv([1], (3, 5), 4).output_block == (1, 1)


@pytest.mark.parametrize("block", [(0, 1), (1, 2, 3), "ab", 2, (1.5, 1)])
def test_bad_output_block_is_refused(block):
    with pytest.raises(ValueError, match="output_block"):
        Conv((1, 1), (1, 3, 3), 2).output_block = block


def test_setting_output_block_discards_the_forward_pass(rng):
    layer = make_conv((1, 1), (1, 5, 5), 2, rng)
    output = layer.forward(rng.standard_normal((2, 1, 6, 6)))
    layer.output_block = (1, 1)
    with pytest.raises(RuntimeError, match="before forward"):
        layer.backward(np.ones(output.shape))


def test_1d_output_block_must_be_one_pixel_high():
    with pytest.raises(ValueError, match=r"output_block must be \(1, B_x\)"):
        Conv([1], (1, 3), 2).output_block = (2, 2)


STRIDE_1_CASES = {name: case for name, case in ALL_CASES.items()
                  if set(np.atleast_1d(case[0])) == {1}}


@pytest.mark.parametrize("case", STRIDE_1_CASES.values(), ids=STRIDE_1_CASES.keys())
def test_both_input_gradient_methods_agree_at_stride_1(case, rng):
    # Stride 1 without output blocks takes the shifted-sums route; col2im (the route of
    # blocked and strided layers) must give the same.
    stride_shape, convolution_shape, num_kernels, input_shape = case
    layer = make_conv(stride_shape, convolution_shape, num_kernels, rng)
    layer.output_block = (1, 1)
    output = layer.forward(rng.standard_normal(input_shape))
    error_tensor = rng.standard_normal(output.shape)
    expected = layer.backward(error_tensor)
    errors = error_tensor if error_tensor.ndim == 4 else error_tensor[:, :, np.newaxis, :]
    error_rows = np.ascontiguousarray(errors.transpose(1, 2, 3, 0)).reshape(num_kernels, -1)
    np.testing.assert_allclose(layer._input_gradient_by_col2im(error_rows), expected, rtol=1e-12, atol=1e-12)


def test_lenet_shapes_match_reference_in_float32(rng):
    layer = Conv((1, 1), (6, 5, 5), 16, dtype=np.float32, rng=rng)
    input_tensor = rng.standard_normal((8, 6, 14, 14)).astype(np.float32)
    output = layer.forward(input_tensor)
    error_tensor = rng.standard_normal(output.shape).astype(np.float32)
    input_gradient = layer.backward(error_tensor)
    np.testing.assert_allclose(output, conv_forward_reference(input_tensor, layer.weights, layer.bias, (1, 1)),
                               rtol=1e-4, atol=1e-4)
    expected_input_gradient, expected_weights_gradient, _ = conv_backward_reference(
        input_tensor, layer.weights, (1, 1), error_tensor)
    np.testing.assert_allclose(input_gradient, expected_input_gradient, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(layer.gradient_weights, expected_weights_gradient, rtol=1e-4, atol=1e-3)


# -- buffers, memory layout, no mutation ----------------------------------------------


def test_reused_buffers_never_change_earlier_results(rng):
    # The layer reuses its padded-input and column buffers; what it returned must not change.
    layer = make_conv((1, 1), (2, 3, 3), 2, rng)
    first_input, second_input = rng.standard_normal((3, 2, 5, 5)), rng.standard_normal((3, 2, 5, 5))
    first_output = layer.forward(first_input)
    first_copy = first_output.copy()
    first_gradient = layer.backward(np.ones(first_output.shape))
    first_gradient_copy = first_gradient.copy()
    layer.forward(second_input)
    layer.backward(np.full(first_output.shape, 2.0))
    np.testing.assert_array_equal(first_output, first_copy)
    np.testing.assert_array_equal(first_gradient, first_gradient_copy)


@pytest.mark.parametrize("stride_shape", [(2, 1), (1, 1)])
def test_changing_batch_and_image_size_between_calls(stride_shape, rng):
    # With 2x2 output blocks, 7 and 8 rows (or 6 and 5 columns) need padded buffers of the
    # same shape but with different data regions: stale pixels must not leak into results.
    layer = make_conv(stride_shape, (2, 3, 4), 3, rng)
    layer.output_block = (2, 2)
    for batch, height, width in ((3, 8, 6), (5, 7, 5), (1, 8, 6), (3, 7, 6), (3, 7, 5)):
        input_tensor = rng.standard_normal((batch, 2, height, width))
        output = layer.forward(input_tensor)
        expected = conv_forward_reference(input_tensor, layer.weights, layer.bias, stride_shape)
        np.testing.assert_allclose(output, expected, rtol=1e-12, atol=1e-12)
        error_tensor = rng.standard_normal(output.shape)
        expected_input_gradient, _, _ = conv_backward_reference(input_tensor, layer.weights, stride_shape,
                                                                error_tensor)
        np.testing.assert_allclose(layer.backward(error_tensor), expected_input_gradient, rtol=1e-12, atol=1e-12)


def test_any_memory_layout_gives_the_same_results(rng):
    layer = make_conv((1, 2), (3, 3, 2), 2, rng)
    input_tensor = rng.standard_normal((4, 3, 6, 7))
    output = layer.forward(input_tensor).copy()
    error_tensor = rng.standard_normal(output.shape)
    input_gradient = layer.backward(error_tensor).copy()
    gradient_weights = layer.gradient_weights.copy()
    for layout in (batch_last, np.asfortranarray, lambda array: array[:, :, :, ::-1].copy()[:, :, :, ::-1]):
        np.testing.assert_allclose(layer.forward(layout(input_tensor)), output, rtol=1e-13, atol=1e-13)
        np.testing.assert_allclose(layer.backward(layout(error_tensor)), input_gradient, rtol=1e-13, atol=1e-13)
        np.testing.assert_allclose(layer.gradient_weights, gradient_weights, rtol=1e-13, atol=1e-13)


def test_forward_and_backward_do_not_mutate_their_arguments(rng):
    layer = make_conv((1, 1), (2, 3, 3), 2, rng)
    input_tensor = rng.standard_normal((2, 2, 5, 5))
    error_tensor = rng.standard_normal((2, 2, 5, 5))
    assert_arguments_untouched(layer, input_tensor, error_tensor)


def test_integer_input_is_converted(rng):
    layer = make_conv((1, 1), (1, 3, 3), 1, rng)
    pixels = rng.integers(0, 256, size=(2, 1, 4, 4))
    np.testing.assert_allclose(layer.forward(pixels), layer.forward(pixels.astype(np.float64)), rtol=1e-15)


# -- errors -----------------------------------------------------------------------------


def test_wrong_channel_count_is_refused(rng):
    layer = Conv((1, 1), (3, 5, 5), 4)
    with pytest.raises(ValueError, match=r"Conv.*3 channel.*got 1 channel"):
        layer.forward(rng.standard_normal((2, 1, 8, 8)))


def test_wrong_rank_is_refused(rng):
    with pytest.raises(ValueError, match=r"Conv.*\(batch, 3, y, x\).*got shape \(2, 3, 8\)"):
        Conv((1, 1), (3, 5, 5), 4).forward(rng.standard_normal((2, 3, 8)))
    with pytest.raises(ValueError, match=r"Conv.*\(batch, 2, x\).*got shape \(2, 2, 8, 8\)"):
        Conv([1], (2, 3), 4).forward(rng.standard_normal((2, 2, 8, 8)))


def test_float64_input_to_a_float32_layer_is_refused(rng):
    layer = Conv((1, 1), (1, 3, 3), 1, dtype=np.float32)
    with pytest.raises(TypeError, match="Conv.*float32.*float64"):
        layer.forward(rng.standard_normal((1, 1, 4, 4)))


@pytest.mark.parametrize("stride_shape", [(0, 1), (1, -2), (1, 1, 1), (1.5, 1), "ab", None, True])
def test_bad_stride_shape_is_refused(stride_shape):
    with pytest.raises(ValueError, match="Conv: .*stride_shape"):
        Conv(stride_shape, (1, 3, 3), 2)


@pytest.mark.parametrize("convolution_shape", [(3,), (1, 3, 3, 3), (0, 3, 3), (1, 0, 3), (1, 2.5), 5])
def test_bad_convolution_shape_is_refused(convolution_shape):
    with pytest.raises(ValueError, match="Conv: .*convolution_shape"):
        Conv((1, 1), convolution_shape, 2)


@pytest.mark.parametrize("num_kernels", [0, -1, 2.5, True])
def test_bad_num_kernels_is_refused(num_kernels):
    with pytest.raises(ValueError, match="Conv: num_kernels"):
        Conv((1, 1), (1, 3, 3), num_kernels)


def test_wrong_error_shape_is_refused(rng):
    layer = Conv((2, 2), (1, 3, 3), 2)
    layer.forward(rng.standard_normal((2, 1, 5, 5)))
    with pytest.raises(ValueError, match=r"Conv.backward: expected error_tensor of shape \(2, 2, 3, 3\)"):
        layer.backward(np.ones((2, 2, 5, 5)))


def test_backward_before_forward_is_refused():
    with pytest.raises(RuntimeError, match="Conv.backward called before forward"):
        Conv((1, 1), (1, 3, 3), 2).backward(np.ones((1, 2, 3, 3)))


def test_wrong_weights_shape_is_refused_at_forward(rng):
    layer = Conv((1, 1), (1, 3, 3), 2)
    layer.weights = np.ones((2, 3, 3))
    with pytest.raises(ValueError, match=r"Conv: expected weights of shape \(2, 1, 3, 3\), got \(2, 3, 3\)"):
        layer.forward(rng.standard_normal((1, 1, 4, 4)))
