"""Small test doubles and the fixtures that run a math test against every implementation of a layer."""
import importlib

import numpy as np
import pytest

# Where each implementation of a layer comes from. The math tests run against all of them:
# the teaching layer (``layers``), its fast twin (``layers.fast``, marked ``fast``) and, for
# some layers, a plain textbook version written inside the tests (marked ``textbook``),
# which shows that the tests ask for the math and not for one implementation's internals.
IMPLEMENTATIONS = {"teaching": "layers", "fast": "layers.fast", "textbook": "tests.textbook"}


def layer_fixture(name, textbook=False):
    """A fixture called ``name`` that gives the layer class ``name`` of each implementation in turn.

    The class is imported when a test asks for it, so a test module imports no layer at all
    and one broken layer module breaks only the tests of that layer.
    """
    params = [pytest.param("teaching", id="teaching"),
              pytest.param("fast", id="fast", marks=pytest.mark.fast)]
    if textbook:
        params.append(pytest.param("textbook", id="textbook", marks=pytest.mark.textbook))

    @pytest.fixture(name=name, params=params)
    def implementation(request):
        return getattr(importlib.import_module(IMPLEMENTATIONS[request.param]), name)

    return implementation


class FixedBatch:
    """A data layer whose ``next()`` returns the same (input_tensor, one-hot labels) every time."""

    def __init__(self, input_tensor, label_tensor):
        self.input_tensor, self.label_tensor = input_tensor, label_tensor

    def next(self):
        return self.input_tensor, self.label_tensor


class ShuffledBatches:
    """A tiny data layer: ``next()`` returns (input_tensor, one-hot labels) of ``batch_size``
    items, drawn without repetition from a permutation that is renewed once it runs out."""

    def __init__(self, images, labels, batch_size, rng, classes=10):
        self.images, self.labels = images, labels
        self.batch_size, self.rng, self.classes = batch_size, rng, classes
        self.order, self.position = None, len(images)

    def next(self):
        if self.position + self.batch_size > len(self.images):
            self.order, self.position = self.rng.permutation(len(self.images)), 0
        chosen = self.order[self.position:self.position + self.batch_size]
        self.position += self.batch_size
        return self.images[chosen], np.eye(self.classes)[self.labels[chosen]]


class RecordingInitializer:
    """Remembers every call and returns a constant array of the requested shape."""

    def __init__(self, value):
        self.value = value
        self.calls = []

    def initialize(self, weights_shape, fan_in, fan_out):
        self.calls.append((tuple(weights_shape), fan_in, fan_out))
        return np.full(weights_shape, self.value)


def assert_arguments_untouched(layer, input_tensor, error_tensor):
    """Run forward and backward; neither may change the arrays it was given."""
    input_copy, error_copy = input_tensor.copy(), error_tensor.copy()
    layer.forward(input_tensor)
    layer.backward(error_tensor)
    np.testing.assert_array_equal(input_tensor, input_copy)
    np.testing.assert_array_equal(error_tensor, error_copy)


def make_conv(conv_class, stride_shape, convolution_shape, num_kernels, rng, dtype=np.float64):
    """A ``conv_class`` layer with standard-normal weights and bias (the default [0, 1) draws are all positive)."""
    layer = conv_class(stride_shape, convolution_shape, num_kernels, dtype=dtype, rng=rng)
    layer.weights = rng.standard_normal(layer.weights.shape)
    layer.bias = rng.standard_normal(layer.bias.shape)
    return layer


def batch_last(array):
    """The same values stored in (c, y, x, b) memory order, still shaped (b, c, y, x)."""
    return np.ascontiguousarray(np.moveaxis(array, 0, -1)).transpose((array.ndim - 1,) + tuple(range(array.ndim - 1)))


def away_from_zero(rng, shape, low=0.1, high=2.0):
    """Random values with |x| in [low, high): keeps ReLU's kink out of the central differences."""
    return rng.uniform(low, high, size=shape) * rng.choice([-1.0, 1.0], size=shape)


def distinct_values(rng, shape, spacing=0.1):
    """A random permutation of 0, spacing, 2·spacing, ...: no ties, and ties stay far away (≫ h = 1e-6)."""
    return rng.permutation(int(np.prod(shape))).reshape(shape) * spacing - 1.0


def assert_layer_contract(layer_class, rng, input_shape, output_shape=None):
    """What a layer without parameters owes besides its formula, checked on ``layer_class()``:

    the output shape (``output_shape``, default the input's) and back; forward and backward
    leave their arguments and the returned output alone; float32 stays float32; both phases
    give the same; a wrong error shape and a backward before forward get errors naming the layer.
    """
    output_shape = tuple(input_shape if output_shape is None else output_shape)
    name = layer_class.__name__
    layer = layer_class()
    input_tensor = away_from_zero(rng, input_shape)
    input_copy = input_tensor.copy()
    output = layer.forward(input_tensor)
    output_copy = output.copy()
    assert output.shape == output_shape
    error_tensor = rng.standard_normal(output_shape)
    error_copy = error_tensor.copy()
    assert layer.backward(error_tensor).shape == tuple(input_shape)
    for array, original in ((input_tensor, input_copy), (output, output_copy), (error_tensor, error_copy)):
        np.testing.assert_array_equal(array, original)

    testing = layer_class()
    testing.testing_phase = True
    np.testing.assert_array_equal(testing.forward(input_tensor), output)
    np.testing.assert_array_equal(testing.backward(error_tensor), layer.backward(error_tensor))

    float32 = layer_class()
    assert float32.forward(input_tensor.astype(np.float32)).dtype == np.float32
    assert float32.backward(error_tensor.astype(np.float32)).dtype == np.float32

    with pytest.raises(RuntimeError, match=name):
        layer_class().backward(error_tensor)
    wrong_shape = (output_shape[0] + 1,) + output_shape[1:]
    with pytest.raises(ValueError, match=rf"{name}.*\({', '.join(map(str, output_shape))}\).*"
                                         rf"\({', '.join(map(str, wrong_shape))}\)"):
        layer.backward(np.ones(wrong_shape))
