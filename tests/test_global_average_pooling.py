"""Math tests of GlobalAveragePooling: golden values, gradient check, errors, dtype.

The fixture runs the teaching layer and the fast one (``layers.fast.GlobalAveragePooling``);
tests/fast/test_fast_layouts.py checks the fast one's batch-last route.
"""
import numpy as np
import pytest

from framework.gradient_check import assert_gradients, check_gradients
from tests.helpers import layer_fixture

GlobalAveragePooling = layer_fixture("GlobalAveragePooling")


def test_golden_values(GlobalAveragePooling):
    # One image, two channels of 2x2: means (1+2+3+4)/4 = 2.5 and (0+0+0+8)/4 = 2.
    input_tensor = np.array([[[[1.0, 2.0], [3.0, 4.0]], [[0.0, 0.0], [0.0, 8.0]]]])
    layer = GlobalAveragePooling()
    np.testing.assert_array_equal(layer.forward(input_tensor), [[2.5, 2.0]])
    # Backward spreads each channel's error evenly over its 4 positions: 4/4 = 1 and −2/4 = −0.5.
    np.testing.assert_array_equal(layer.backward(np.array([[4.0, -2.0]])),
                                  [[[[1.0, 1.0], [1.0, 1.0]], [[-0.5, -0.5], [-0.5, -0.5]]]])


def test_gradient_check_on_uneven_maps(GlobalAveragePooling):
    input_tensor = np.random.default_rng(0).standard_normal((3, 4, 5, 7))
    assert_gradients(GlobalAveragePooling(), input_tensor, tolerance=1e-8)


def test_a_wrong_backward_fails_the_check(GlobalAveragePooling):
    class Summing(GlobalAveragePooling):
        def backward(self, error_tensor):  # forgets the 1/(y·x) factor
            return np.broadcast_to(error_tensor[:, :, None, None], self.shape_seen).copy()

        def forward(self, input_tensor):
            self.shape_seen = input_tensor.shape
            return super().forward(input_tensor)

    input_tensor = np.random.default_rng(1).standard_normal((2, 3, 4, 4))
    assert check_gradients(Summing(), input_tensor)["input"] > 0.5


def test_float32_stays_float32(GlobalAveragePooling):
    layer = GlobalAveragePooling()
    output = layer.forward(np.ones((2, 3, 4, 4), dtype=np.float32))
    assert output.dtype == np.float32
    assert layer.backward(np.ones((2, 3), dtype=np.float32)).dtype == np.float32


def test_errors_name_the_layer_and_the_shapes(GlobalAveragePooling):
    layer = GlobalAveragePooling()
    with pytest.raises(ValueError, match=r"GlobalAveragePooling.*\(2, 3\)"):
        layer.forward(np.ones((2, 3)))
    with pytest.raises(RuntimeError, match="GlobalAveragePooling"):
        GlobalAveragePooling().backward(np.ones((2, 3)))
    layer.forward(np.ones((2, 3, 4, 4)))
    with pytest.raises(ValueError, match=r"GlobalAveragePooling.*\(2, 3\).*\(2, 4\)"):
        layer.backward(np.ones((2, 4)))
