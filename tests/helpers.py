"""Small test doubles shared by several test files."""
import numpy as np


class RecordingInitializer:
    """Remembers every call and returns a constant array of the requested shape."""

    def __init__(self, value):
        self.value = value
        self.calls = []

    def initialize(self, weights_shape, fan_in, fan_out):
        self.calls.append((tuple(weights_shape), fan_in, fan_out))
        return np.full(weights_shape, self.value)


def assert_arguments_untouched(layer, input_tensor, error_tensor):
    """Run forward and backward; neither may change the arrays it was given (STYLE.md point 3)."""
    input_copy, error_copy = input_tensor.copy(), error_tensor.copy()
    layer.forward(input_tensor)
    layer.backward(error_tensor)
    np.testing.assert_array_equal(input_tensor, input_copy)
    np.testing.assert_array_equal(error_tensor, error_copy)


def make_conv(stride_shape, convolution_shape, num_kernels, rng, dtype=np.float64):
    """A Conv with standard-normal weights and bias (the default [0, 1) draws are all positive)."""
    from layers import Conv

    layer = Conv(stride_shape, convolution_shape, num_kernels, dtype=dtype, rng=rng)
    layer.weights = rng.standard_normal(layer.weights.shape)
    layer.bias = rng.standard_normal(layer.bias.shape)
    return layer
