"""The fast layers' memory layouts and replicas: what keeps a batch-last Conv stack cheap.

The fast Conv hands out batch-last arrays (memory order c, y, x, b); Pooling, ReLU, Flatten,
FullyConnected's input gradient, BatchNormalization and GlobalAveragePooling's input gradient
keep whatever layout they are given, so that element-wise work downstream runs on matching
layouts.
"""
import numpy as np
import pytest

from layers.fast import BatchNormalization, FullyConnected, GlobalAveragePooling, Pooling, ReLU
from layers.global_average_pooling import GlobalAveragePooling as TeachingGlobalAveragePooling
from framework.models import build_lenet
from tests.helpers import batch_last, distinct_values


@pytest.fixture
def rng():
    return np.random.default_rng(21)


def test_pooling_keeps_the_memory_layout_of_its_input(rng):
    values = distinct_values(rng, (4, 3, 6, 6))
    layer = Pooling((2, 2), (2, 2))
    output = layer.forward(batch_last(values))
    assert np.argmin(output.strides) == 0  # the batch axis is the fastest-varying one
    assert np.argmin(layer.backward(np.ones(output.shape)).strides) == 0
    # an error in another layout is copied into the output's layout, with the same result
    np.testing.assert_array_equal(layer.backward(np.ones(output.shape)), layer.backward(batch_last(np.ones(output.shape))))


@pytest.mark.parametrize("values, route", [("distinct", "every window at once"), ("tied", "view by view")])
def test_pooling_finds_the_winners_of_tiling_windows_at_once_unless_they_tie(values, route, rng, monkeypatch):
    shape = (4, 3, 6, 8)
    input_tensor = distinct_values(rng, shape) if values == "distinct" else rng.integers(0, 2, shape).astype(float)
    layer = Pooling((2, 2), (2, 2))
    output = layer.forward(batch_last(input_tensor))
    views = []
    original = layer._window_entries
    monkeypatch.setattr(layer, "_window_entries", lambda *arguments: views.append(1) or original(*arguments))
    input_gradient = layer.backward(batch_last(rng.standard_normal(output.shape)))
    assert (views == []) == (route == "every window at once")
    assert np.argmin(input_gradient.strides) == 0  # the gradient comes back batch-last either way


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_global_average_pooling_sums_batch_last_maps_by_blas_and_keeps_their_layout(dtype, rng):
    values = rng.standard_normal((4, 3, 5, 6)).astype(dtype)
    error = rng.standard_normal((4, 3)).astype(dtype)
    teaching = TeachingGlobalAveragePooling()
    expected_output, expected_gradient = teaching.forward(values), teaching.backward(error)
    tolerance = 1e-12 if dtype == np.float64 else 1e-5
    layer = GlobalAveragePooling()
    output = layer.forward(batch_last(values))
    assert layer.batch_last and output.dtype == dtype and output.flags.c_contiguous
    np.testing.assert_allclose(output, expected_output, rtol=tolerance, atol=tolerance)
    gradient = layer.backward(error)
    assert np.argmin(gradient.strides) == 0 and gradient.dtype == dtype
    np.testing.assert_allclose(gradient, expected_gradient, rtol=tolerance, atol=tolerance)
    # Any other layout, or integers, take the teaching layer's route, with its results.
    for other in (values, values.astype(np.int64)):
        layer = GlobalAveragePooling()
        output = layer.forward(batch_last(other) if other.dtype == np.int64 else other)
        assert not layer.batch_last
        np.testing.assert_allclose(output, TeachingGlobalAveragePooling().forward(other), rtol=tolerance)


def test_relu_keeps_the_memory_layout(rng):
    layer = ReLU()
    output = layer.forward(batch_last(rng.standard_normal((4, 3, 5, 5))))
    assert np.argmin(output.strides) == 0
    assert np.argmin(layer.backward(batch_last(np.ones(output.shape))).strides) == 0


def test_fully_connected_input_gradient_keeps_the_input_layout(rng):
    # Behind Flatten of a batch-last Conv stack the input is column-major; the input gradient
    # comes back in that layout with the same values as for a row-major input.
    layer = FullyConnected(5, 3, rng=rng)
    row_major = rng.standard_normal((4, 5))
    error_tensor = rng.standard_normal((4, 3))
    layer.forward(row_major)
    expected = layer.backward(error_tensor)
    layer.forward(np.asfortranarray(row_major))
    column_major = layer.backward(error_tensor)
    assert column_major.flags.f_contiguous and expected.flags.c_contiguous
    np.testing.assert_allclose(column_major, expected, rtol=1e-15, atol=1e-15)


def test_batch_normalization_returns_images_in_the_input_layout(rng):
    layer = BatchNormalization(3)
    output = layer.forward(batch_last(rng.standard_normal((4, 3, 5, 5))))
    assert np.argmin(output.strides) == 0


def test_a_lenet_passes_batch_last_arrays_from_layer_to_layer(rng):
    network = build_lenet(rng=rng)
    tensor = rng.random((4, 1, 28, 28))
    for layer in network.layers[:6]:  # Conv, Pooling, ReLU, Conv, Pooling, ReLU
        tensor = layer.forward(tensor)
        assert np.argmin(tensor.strides) == 0, type(layer).__name__


def test_replicas_of_a_lenet_compute_what_the_network_does(rng):
    network = build_lenet(batch_norm=True, rng=rng)
    network.phase = "test"
    images = rng.random((6, 1, 28, 28))
    expected = network.test(images)
    replicas = [layer.replica() for layer in network.layers]
    tensor = images
    for layer in replicas:
        tensor = layer.forward(tensor)
    np.testing.assert_array_equal(tensor, expected)


def test_batch_normalization_replica_keeps_its_own_scratch(rng):
    # The centered input lives in a buffer reused from call to call; a replica's forward pass
    # must not write into the original's, whose backward pass still needs it.
    layer = BatchNormalization(3)
    input_tensor = batch_last(rng.standard_normal((4, 3, 5, 5)))
    error_tensor = batch_last(rng.standard_normal((4, 3, 5, 5)))
    reference = BatchNormalization(3)
    reference.forward(input_tensor)
    expected = reference.backward(error_tensor)
    layer.forward(input_tensor)
    layer.replica().forward(batch_last(rng.standard_normal((4, 3, 5, 5))))
    np.testing.assert_array_equal(layer.backward(error_tensor), expected)


@pytest.mark.parametrize("length", [7, 10_000, 20_001])
@pytest.mark.parametrize("layout", ["rows contiguous", "rows strided"])
@pytest.mark.parametrize("numpy_version", ["this NumPy", "NumPy 1, without vecdot"])
def test_batch_normalization_row_dots_take_every_route_to_the_same_sums(length, layout, numpy_version, rng,
                                                                         monkeypatch):
    # Contiguous rows go to vecdot (NumPy 2) or, without it, long ones to one BLAS dot per row;
    # the rest to einsum.
    from layers.fast.batch_normalization import LONG_ROW, _row_dots

    if numpy_version != "this NumPy":
        monkeypatch.delattr(np, "vecdot", raising=False)
    first, second = rng.standard_normal((2, 3, length))
    if layout == "rows strided":
        first, second = np.asfortranarray(first), np.asfortranarray(second)
    assert 7 < LONG_ROW <= 10_000  # so that the lengths above take both of NumPy 1's routes
    sums = _row_dots(first, second)
    assert sums.shape == (3,) and sums.dtype == first.dtype
    np.testing.assert_allclose(sums, (first * second).sum(axis=1), rtol=1e-10)
