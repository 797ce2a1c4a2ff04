"""Math tests of Conv ("same" padding, strides, 1-D and 2-D), run against every implementation.

Evidence of four kinds: golden values worked out by hand (arithmetic in the comments),
float64 central-difference gradient checks with random upstream errors, an independent
computation of the forward pass with ``scipy.signal.correlate``, and the plain textbook
layer of ``tests/textbook.py`` as a reference for all gradients. A deliberately wrong
backward must fail the gradient checker. The ``Conv`` fixture gives the teaching layer,
the fast one and the textbook one in turn (see ``tests/helpers.py``).
"""
import copy

import numpy as np
import pytest
import scipy.signal

from framework.gradient_check import assert_gradients, check_gradients
from optimizers import Sgd
from tests.helpers import RecordingInitializer, assert_arguments_untouched, batch_last, layer_fixture, make_conv

Conv = layer_fixture("Conv", textbook=True)

TOLERANCE = 1e-7          # float64, h = 1e-6: a correct layer gives ~1e-9
FLOAT32_TOLERANCE = 1e-2  # float32, h = 3e-3: a correct layer gives ~1e-3


@pytest.fixture
def rng():
    return np.random.default_rng(20240508)


# (stride_shape, convolution_shape, num_kernels, input_shape)
CASES_2D = {
    "odd 3x3": ((1, 1), (2, 3, 3), 3, (2, 2, 6, 7)),
    "even 4x4": ((1, 1), (2, 4, 4), 2, (2, 2, 6, 5)),
    "uneven 5x8": ((1, 1), (3, 5, 8), 2, (2, 3, 10, 13)),
    "even 2x2": ((1, 1), (1, 2, 2), 2, (3, 1, 5, 4)),
    "LeNet 5x5": ((1, 1), (2, 5, 5), 3, (2, 2, 7, 8)),
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


def test_1d_odd_kernel_known_values(Conv):
    layer = Conv([1], (1, 3), 1)
    layer.weights = np.array([[[1.0, 0.0, -1.0]]])
    layer.bias = np.array([0.5])
    # Kernel size 3: one zero before and one after: x̃ = [0, 1, 2, 3, 4, 0].
    # z[i] = 1·x̃[i] + 0·x̃[i+1] − 1·x̃[i+2] + 0.5
    #   i=0: 0 − 2 + 0.5 = −1.5;  i=1: 1 − 3 + 0.5 = −1.5;  i=2: 2 − 4 + 0.5 = −1.5;  i=3: 3 − 0 + 0.5 = 3.5
    output = layer.forward(np.array([[[1.0, 2.0, 3.0, 4.0]]]))
    np.testing.assert_allclose(output, [[[-1.5, -1.5, -1.5, 3.5]]], rtol=0, atol=1e-15)


def test_1d_odd_kernel_known_gradients(Conv):
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


def test_1d_even_kernel_pads_after_and_stride_subsamples(Conv):
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


def test_2d_even_kernel_known_values(Conv):
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


def test_2d_stride_known_gradients(Conv):
    layer = Conv((2, 2), (1, 3, 3), 1)
    layer.weights = np.arange(1.0, 10.0).reshape(1, 1, 3, 3)  # [[1, 2, 3], [4, 5, 6], [7, 8, 9]]
    layer.bias = np.array([0.0])
    image = np.arange(16.0).reshape(1, 1, 4, 4)
    layer.forward(image)
    # Stride 2 keeps z at (0, 0), (0, 2), (2, 0), (2, 2): a 2x2 output. An error of 1 on
    # output (1, 1) = z[2, 2] only: z[2, 2] = Σ W[p, q] x̃[2 + p, 2 + q] = Σ W[p, q] x[1 + p, 1 + q]
    # (one zero of padding before; 1 + p ≤ 3 stays inside the 4x4 image). So W lands on
    # x[1:4, 1:4], ∂L/∂x[1 + p, 1 + q] = W[p, q], and ∂L/∂W[p, q] = x[1 + p, 1 + q] = 4(1 + p) + 1 + q.
    input_gradient = layer.backward(np.array([[[[0.0, 0.0], [0.0, 1.0]]]]))
    expected_input = np.zeros((4, 4))
    expected_input[1:4, 1:4] = layer.weights[0, 0]
    np.testing.assert_allclose(input_gradient[0, 0], expected_input, rtol=0, atol=1e-15)
    # x[1:4, 1:4] = [[5, 6, 7], [9, 10, 11], [13, 14, 15]]
    np.testing.assert_allclose(layer.gradient_weights[0, 0], [[5.0, 6.0, 7.0], [9.0, 10.0, 11.0],
                                                              [13.0, 14.0, 15.0]], rtol=0, atol=1e-15)
    np.testing.assert_allclose(layer.gradient_bias, [1.0], rtol=0, atol=1e-15)


def test_two_kernels_two_channels_known_values(Conv):
    layer = Conv((1, 1), (2, 1, 1), 2)
    # 1x1 kernels mix channels per pixel: kernel 0 = ch0 + ch1, kernel 1 = 2·ch0 − ch1, bias [0, 1]
    layer.weights = np.array([[[[1.0]], [[1.0]]],
                              [[[2.0]], [[-1.0]]]])
    layer.bias = np.array([0.0, 1.0])
    image = np.array([[[[1.0, 2.0]], [[3.0, 5.0]]]])  # ch0 = [1, 2], ch1 = [3, 5]
    # kernel 0: [1+3, 2+5] = [4, 7];   kernel 1: [2−3+1, 4−5+1] = [0, 0]
    np.testing.assert_allclose(layer.forward(image), [[[[4.0, 7.0]], [[0.0, 0.0]]]], rtol=0, atol=1e-15)


def test_kernel_assigned_then_expanded_reproduces_an_impulse(Conv):
    # The exercise's two-step assignment: a (3, 3) kernel, then expand_dims through the property.
    layer = Conv((1, 1), (1, 3, 3), 1)
    layer.weights = np.array([[1.0, 2.0, 1.0], [2.0, 3.0, 2.0], [1.0, 2.0, 1.0]])
    layer.weights = np.expand_dims(np.expand_dims(layer.weights, 0), 0)
    layer.bias = np.array([0.0])
    image = np.zeros((1, 1, 5, 5))
    image[0, 0, 2, 2] = 1.0
    # A correlation turns an impulse into the kernel flipped; this kernel is symmetric.
    np.testing.assert_allclose(layer.forward(image)[0, 0, 1:4, 1:4], [[1, 2, 1], [2, 3, 2], [1, 2, 1]])


# -- shapes, initialization, parameters -------------------------------------------------


@pytest.mark.parametrize("case", ALL_CASES.values(), ids=ALL_CASES.keys())
def test_shapes(Conv, case, rng):
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


def test_starts_uniform_in_unit_interval_and_is_trainable(Conv):
    layer = Conv((1, 1), (3, 5, 5), 8, rng=np.random.default_rng(0))
    assert layer.trainable
    assert layer.weights.shape == (8, 3, 5, 5)
    assert np.all((layer.weights >= 0) & (layer.weights < 1))
    assert np.all((layer.bias >= 0) & (layer.bias < 1))


def test_same_rng_seed_gives_same_weights(Conv):
    first = Conv((1, 1), (2, 3, 3), 4, rng=np.random.default_rng(7))
    second = Conv((1, 1), (2, 3, 3), 4, rng=np.random.default_rng(7))
    np.testing.assert_array_equal(first.weights, second.weights)
    np.testing.assert_array_equal(first.bias, second.bias)


def test_initialize_passes_fans_2d(Conv):
    layer = Conv((1, 1), (3, 5, 8), 4)
    weights_initializer, bias_initializer = RecordingInitializer(0.25), RecordingInitializer(0.5)
    layer.initialize(weights_initializer, bias_initializer)
    # fan_in = c·m·n = 3·5·8 = 120,  fan_out = K·m·n = 4·5·8 = 160
    assert weights_initializer.calls == [((4, 3, 5, 8), 120, 160)]
    assert bias_initializer.calls == [((4,), 120, 160)]
    np.testing.assert_array_equal(layer.weights, np.full((4, 3, 5, 8), 0.25))
    np.testing.assert_array_equal(layer.bias, np.full(4, 0.5))


def test_initialize_passes_fans_1d(Conv):
    layer = Conv([1], (2, 7), 3)
    weights_initializer = RecordingInitializer(0.1)
    layer.initialize(weights_initializer, RecordingInitializer(0.0))
    # fan_in = c·m = 2·7 = 14,  fan_out = K·m = 3·7 = 21
    assert weights_initializer.calls == [((3, 2, 7), 14, 21)]


def test_initialize_keeps_float32(Conv):
    layer = Conv((1, 1), (1, 3, 3), 2, dtype=np.float32)
    layer.initialize(RecordingInitializer(0.1), RecordingInitializer(0.0))
    assert layer.weights.dtype == np.float32 and layer.bias.dtype == np.float32


def test_optimizer_updates_weights_and_bias_separately(Conv, rng):
    layer = make_conv(Conv, (1, 1), (2, 3, 3), 2, rng)
    weights, bias = layer.weights.copy(), layer.bias.copy()
    layer.optimizer = Sgd(0.1)
    assert layer.weights_optimizer is not layer.bias_optimizer
    output = layer.forward(rng.standard_normal((2, 2, 4, 4)))
    layer.backward(np.ones(output.shape))
    not_updated = "is self.update_parameters() still called at the end of backward?"
    np.testing.assert_allclose(layer.weights, weights - 0.1 * layer.gradient_weights, rtol=1e-14,
                               err_msg=f"Conv.backward: weights after one Sgd step; {not_updated}")
    np.testing.assert_allclose(layer.bias, bias - 0.1 * layer.gradient_bias, rtol=1e-14,
                               err_msg=f"Conv.backward: bias after one Sgd step; {not_updated}")


def test_backward_returns_input_gradient_of_the_forward_weights(Conv, rng):
    # The update must happen after the input gradient is computed with the old weights.
    layer = make_conv(Conv, (1, 1), (2, 3, 3), 2, rng)
    reference = copy.deepcopy(layer)
    layer.optimizer = Sgd(1.0)
    input_tensor = rng.standard_normal((2, 2, 5, 5))
    error_tensor = rng.standard_normal((2, 2, 5, 5))
    layer.forward(input_tensor)
    reference.forward(input_tensor)
    np.testing.assert_allclose(layer.backward(error_tensor), reference.backward(error_tensor), rtol=1e-13)


def test_deep_copy_after_forward_computes_on_its_own(Conv, rng):
    layer = make_conv(Conv, (1, 1), (2, 3, 3), 2, rng)
    first, second = rng.standard_normal((2, 2, 5, 5)), rng.standard_normal((2, 2, 5, 5))
    expected_first, expected_second = copy.deepcopy(layer).forward(first), copy.deepcopy(layer).forward(second)
    layer.forward(first)
    twin = copy.deepcopy(layer)
    np.testing.assert_allclose(twin.forward(second), expected_second, rtol=1e-14, atol=1e-14)
    np.testing.assert_allclose(layer.forward(first), expected_first, rtol=1e-14, atol=1e-14)


# -- gradient checks --------------------------------------------------------------------


@pytest.mark.parametrize("case", ALL_CASES.values(), ids=ALL_CASES.keys())
def test_gradients(Conv, case, rng):
    stride_shape, convolution_shape, num_kernels, input_shape = case
    layer = make_conv(Conv, stride_shape, convolution_shape, num_kernels, rng)
    assert_gradients(layer, rng.standard_normal(input_shape), tolerance=TOLERANCE, rng=rng)


def test_gradients_in_testing_phase(Conv, rng):
    layer = make_conv(Conv, (1, 1), (2, 5, 5), 2, rng)
    layer.testing_phase = True
    assert_gradients(layer, rng.standard_normal((2, 2, 6, 6)), tolerance=TOLERANCE, rng=rng)


def test_gradients_float32_stay_float32_and_pass_at_float32_tolerance(Conv, rng):
    layer = make_conv(Conv, (2, 1), (2, 3, 4), 3, rng, dtype=np.float32)
    input_tensor = rng.standard_normal((2, 2, 6, 5)).astype(np.float32)
    output = layer.forward(input_tensor)
    input_gradient = layer.backward(np.ones(output.shape, dtype=np.float32))
    for array in (output, input_gradient, layer.gradient_weights, layer.gradient_bias, layer.weights, layer.bias):
        assert array.dtype == np.float32
    assert_gradients(layer, input_tensor, tolerance=FLOAT32_TOLERANCE, rng=rng)


def test_float32_1d_stays_float32(Conv, rng):
    layer = Conv([2], (2, 4), 3, dtype=np.float32)
    output = layer.forward(rng.standard_normal((2, 2, 9)).astype(np.float32))
    assert output.dtype == np.float32
    assert layer.backward(np.ones(output.shape, dtype=np.float32)).dtype == np.float32


def with_a_wrong_input_gradient(conv_class):
    """A deliberate bug: the input gradient lands one pixel to the right of where it belongs."""
    class Wrong(conv_class):
        def backward(self, error_tensor):
            return np.roll(super().backward(error_tensor), 1, axis=-1)
    return Wrong


def with_a_wrong_weights_gradient(conv_class):
    """A deliberate bug: the weights gradient has the right shape but its kernel is flipped."""
    class Wrong(conv_class):
        def backward(self, error_tensor):
            input_gradient = super().backward(error_tensor)
            self.gradient_weights = self.gradient_weights[..., ::-1, ::-1].copy()
            return input_gradient
    return Wrong


def test_checker_rejects_a_wrong_input_gradient(Conv, rng):
    layer = make_conv(with_a_wrong_input_gradient(Conv), (1, 1), (2, 3, 3), 2, rng)
    differences = check_gradients(layer, rng.standard_normal((2, 2, 5, 5)), rng=rng)
    assert differences["input"] > 1e-2
    assert differences["weights"] < TOLERANCE and differences["bias"] < TOLERANCE
    with pytest.raises(AssertionError, match="input"):
        assert_gradients(layer, rng.standard_normal((2, 2, 5, 5)), rng=rng)


def test_checker_rejects_a_wrong_weights_gradient(Conv, rng):
    layer = make_conv(with_a_wrong_weights_gradient(Conv), (1, 1), (2, 3, 3), 2, rng)
    with pytest.raises(AssertionError, match="weights"):
        assert_gradients(layer, rng.standard_normal((2, 2, 5, 5)), rng=rng)


# -- an independent forward computation: scipy.signal.correlate ------------------------


def scipy_same_correlation(input_tensor, weights, bias, stride_shape):
    """Σ over channels of scipy's full cross-correlation, cut to PyTorch's "same", then strided.

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
def test_forward_matches_scipy_correlate(Conv, case, rng):
    stride_shape, convolution_shape, num_kernels, input_shape = case
    layer = make_conv(Conv, stride_shape, convolution_shape, num_kernels, rng)
    input_tensor = rng.standard_normal(input_shape)
    expected = scipy_same_correlation(input_tensor, layer.weights, layer.bias, stride_shape)
    np.testing.assert_allclose(layer.forward(input_tensor), expected, rtol=1e-12, atol=1e-12)


def test_odd_kernel_matches_scipy_same_mode_directly(Conv, rng):
    # For odd kernels every convention agrees: scipy's mode="same" is the layer's output.
    layer = make_conv(Conv, (1, 1), (1, 5, 3), 1, rng)
    layer.bias = np.zeros(1)
    image = rng.standard_normal((1, 1, 8, 9))
    expected = scipy.signal.correlate(image[0, 0], layer.weights[0, 0], mode="same")
    np.testing.assert_allclose(layer.forward(image)[0, 0], expected, rtol=1e-12, atol=1e-12)


def test_even_kernel_differs_from_scipy_same_mode_by_one_pixel(Conv, rng):
    # scipy's mode="same" puts the extra zero of an even kernel *before* the data, PyTorch
    # (and this layer) after: the results are the same map shifted by one position.
    layer = make_conv(Conv, [1], (1, 4), 1, rng)
    layer.bias = np.zeros(1)
    signal = rng.standard_normal((1, 1, 12))
    ours = layer.forward(signal)[0, 0]
    theirs = scipy.signal.correlate(signal[0, 0], layer.weights[0, 0], mode="same")
    np.testing.assert_allclose(ours[:-1], theirs[1:], rtol=1e-12, atol=1e-12)
    assert not np.allclose(ours, theirs)


# -- against the textbook reference ---------------------------------------------------------


def reference_results(layer, input_tensor, error_tensor, stride_shape):
    """Output and (input, weights, bias) gradients of the textbook Conv with ``layer``'s parameters."""
    from tests.textbook import Conv as TextbookConv

    reference = TextbookConv(stride_shape, layer.convolution_shape, layer.num_kernels)
    reference.weights, reference.bias = layer.weights, layer.bias
    output = reference.forward(input_tensor.astype(np.float64))
    return output, reference.backward(error_tensor.astype(np.float64)), reference.gradient_weights, \
        reference.gradient_bias


@pytest.mark.parametrize("testing_phase", [False, True], ids=["training", "testing"])
@pytest.mark.parametrize("case", ALL_CASES.values(), ids=ALL_CASES.keys())
def test_matches_the_textbook_reference(Conv, case, testing_phase, rng):
    stride_shape, convolution_shape, num_kernels, input_shape = case
    layer = make_conv(Conv, stride_shape, convolution_shape, num_kernels, rng)
    layer.testing_phase = testing_phase
    input_tensor = rng.standard_normal(input_shape)
    output = layer.forward(input_tensor)
    error_tensor = rng.standard_normal(output.shape)
    actual = (output, layer.backward(error_tensor), layer.gradient_weights, layer.gradient_bias)
    for name, got, expected in zip(("output", "input gradient", "weights gradient", "bias gradient"), actual,
                                   reference_results(layer, input_tensor, error_tensor, stride_shape)):
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12, err_msg=name)


def test_lenet_shapes_match_the_reference_in_float32(Conv, rng):
    layer = Conv((1, 1), (6, 5, 5), 16, dtype=np.float32, rng=rng)
    input_tensor = rng.standard_normal((8, 6, 14, 14)).astype(np.float32)
    output = layer.forward(input_tensor)
    error_tensor = rng.standard_normal(output.shape).astype(np.float32)
    actual = (output, layer.backward(error_tensor), layer.gradient_weights)
    for got, expected, atol in zip(actual, reference_results(layer, input_tensor, error_tensor, (1, 1)),
                                   (1e-4, 1e-4, 1e-3)):
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=atol)


# -- repeated calls, memory layouts, no mutation ----------------------------------------------


def test_results_are_not_overwritten_by_the_next_call(Conv, rng):
    layer = make_conv(Conv, (1, 1), (2, 3, 3), 2, rng)
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
def test_changing_batch_and_image_size_between_calls(Conv, stride_shape, rng):
    layer = make_conv(Conv, stride_shape, (2, 3, 4), 3, rng)
    for batch, height, width in ((3, 8, 6), (5, 7, 5), (1, 8, 6), (3, 7, 6)):
        input_tensor = rng.standard_normal((batch, 2, height, width))
        output = layer.forward(input_tensor)
        error_tensor = rng.standard_normal(output.shape)
        expected = reference_results(layer, input_tensor, error_tensor, stride_shape)
        np.testing.assert_allclose(output, expected[0], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(layer.backward(error_tensor), expected[1], rtol=1e-12, atol=1e-12)


def test_any_memory_layout_gives_the_same_results(Conv, rng):
    layer = make_conv(Conv, (1, 2), (3, 3, 2), 2, rng)
    input_tensor = rng.standard_normal((4, 3, 6, 7))
    output = layer.forward(input_tensor).copy()
    error_tensor = rng.standard_normal(output.shape)
    input_gradient = layer.backward(error_tensor).copy()
    gradient_weights = layer.gradient_weights.copy()
    for layout in (batch_last, np.asfortranarray, lambda array: array[:, :, :, ::-1].copy()[:, :, :, ::-1]):
        np.testing.assert_allclose(layer.forward(layout(input_tensor)), output, rtol=1e-13, atol=1e-13)
        np.testing.assert_allclose(layer.backward(layout(error_tensor)), input_gradient, rtol=1e-13, atol=1e-13)
        np.testing.assert_allclose(layer.gradient_weights, gradient_weights, rtol=1e-13, atol=1e-13)


def test_forward_and_backward_do_not_mutate_their_arguments(Conv, rng):
    layer = make_conv(Conv, (1, 1), (2, 3, 3), 2, rng)
    input_tensor = rng.standard_normal((2, 2, 5, 5))
    error_tensor = rng.standard_normal((2, 2, 5, 5))
    assert_arguments_untouched(layer, input_tensor, error_tensor)


def test_integer_input_is_converted(Conv, rng):
    layer = make_conv(Conv, (1, 1), (1, 3, 3), 1, rng)
    pixels = rng.integers(0, 256, size=(2, 1, 4, 4))
    np.testing.assert_allclose(layer.forward(pixels), layer.forward(pixels.astype(np.float64)), rtol=1e-15)


# -- errors: they name the layer, what it expected and what came ----------------------------


def test_wrong_channel_count_is_refused(Conv, rng):
    with pytest.raises(ValueError, match=r"Conv.*3.*\(2, 1, 8, 8\)"):
        Conv((1, 1), (3, 5, 5), 4).forward(rng.standard_normal((2, 1, 8, 8)))


def test_wrong_rank_is_refused(Conv, rng):
    with pytest.raises(ValueError, match=r"Conv.*\(2, 3, 8\)"):
        Conv((1, 1), (3, 5, 5), 4).forward(rng.standard_normal((2, 3, 8)))
    with pytest.raises(ValueError, match=r"Conv.*\(2, 2, 8, 8\)"):
        Conv([1], (2, 3), 4).forward(rng.standard_normal((2, 2, 8, 8)))


def test_float64_input_to_a_float32_layer_is_refused(Conv, rng):
    layer = Conv((1, 1), (1, 3, 3), 1, dtype=np.float32)
    with pytest.raises(TypeError, match="Conv.*float32.*float64"):
        layer.forward(rng.standard_normal((1, 1, 4, 4)))


@pytest.mark.parametrize("stride_shape", [(0, 1), (1, -2), (1, 1, 1), (1.5, 1), "ab", None, True])
def test_bad_stride_shape_is_refused(Conv, stride_shape):
    with pytest.raises(ValueError, match="Conv.*stride_shape"):
        Conv(stride_shape, (1, 3, 3), 2)


@pytest.mark.parametrize("convolution_shape", [(3,), (1, 3, 3, 3), (0, 3, 3), (1, 0, 3), (1, 2.5), 5])
def test_bad_convolution_shape_is_refused(Conv, convolution_shape):
    with pytest.raises(ValueError, match="Conv.*convolution_shape"):
        Conv((1, 1), convolution_shape, 2)


@pytest.mark.parametrize("num_kernels", [0, -1, 2.5, True])
def test_bad_num_kernels_is_refused(Conv, num_kernels):
    with pytest.raises(ValueError, match="Conv.*num_kernels"):
        Conv((1, 1), (1, 3, 3), num_kernels)


def test_wrong_error_shape_is_refused(Conv, rng):
    layer = Conv((2, 2), (1, 3, 3), 2)
    layer.forward(rng.standard_normal((2, 1, 5, 5)))
    with pytest.raises(ValueError, match=r"Conv.*\(2, 2, 3, 3\).*\(2, 2, 5, 5\)"):
        layer.backward(np.ones((2, 2, 5, 5)))


def test_backward_before_forward_is_refused(Conv):
    with pytest.raises(RuntimeError, match="Conv"):
        Conv((1, 1), (1, 3, 3), 2).backward(np.ones((1, 2, 3, 3)))


def test_wrong_weights_shape_is_refused_at_forward(Conv, rng):
    layer = Conv((1, 1), (1, 3, 3), 2)
    layer.weights = np.ones((2, 3, 3))
    with pytest.raises(ValueError, match=r"Conv.*\(2, 1, 3, 3\).*\(2, 3, 3\)"):
        layer.forward(rng.standard_normal((1, 1, 4, 4)))
