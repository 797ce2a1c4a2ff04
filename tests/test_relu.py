"""Math tests of ReLU, run against the teaching and the fast layer.

Golden values worked out by hand, a float64 central-difference gradient check away
from the kink at 0, a deliberately wrong backward that the checker must reject, and errors.
"""
import numpy as np
import pytest

from framework.gradient_check import assert_gradients
from tests.helpers import assert_layer_contract, away_from_zero, layer_fixture

ReLU = layer_fixture("ReLU")

TOLERANCE = 1e-7  # float64 central differences with h = 1e-6 give ~1e-9 for a correct layer


@pytest.fixture
def rng():
    return np.random.default_rng(11)


def test_known_values(ReLU):
    layer = ReLU()
    output = layer.forward(np.array([[-2.0, -0.5, 0.5, 3.0]]))
    np.testing.assert_array_equal(output, [[0.0, 0.0, 0.5, 3.0]], err_msg="ReLU.forward: max(0, x)")
    # the error passes only where x > 0
    np.testing.assert_array_equal(layer.backward(np.array([[1.0, 2.0, 3.0, 4.0]])), [[0.0, 0.0, 3.0, 4.0]],
                                  err_msg="ReLU.backward: the error passes only where x > 0")


def test_the_derivative_at_exactly_zero_is_zero(ReLU):
    # The docstring's convention: [x > 0], so an input of exactly 0 (or −0) passes no error;
    # a mask x ≥ 0 would pass the 2 and the 3 below.
    layer = ReLU()
    output = layer.forward(np.array([[-1.0, 0.0, -0.0, 1.0]]))
    np.testing.assert_array_equal(output, [[0.0, 0.0, 0.0, 1.0]])
    previous_error = layer.backward(np.array([[1.0, 2.0, 3.0, 4.0]]))
    np.testing.assert_array_equal(previous_error, [[0.0, 0.0, 0.0, 4.0]],
                                  err_msg="ReLU.backward: the derivative at exactly x = 0 must be 0 (mask x > 0)")


def test_image_shaped_input(ReLU):
    layer = ReLU()
    image = np.array([[[[-1.0, 2.0], [3.0, -4.0]]]])
    np.testing.assert_array_equal(layer.forward(image), [[[[0.0, 2.0], [3.0, 0.0]]]])
    np.testing.assert_array_equal(layer.backward(np.ones((1, 1, 2, 2))), [[[[0.0, 1.0], [1.0, 0.0]]]])


def test_checker_rejects_a_relu_passing_everything(ReLU, rng):
    class PassingEverything(ReLU):
        def backward(self, error_tensor):
            super().backward(error_tensor)
            return np.array(error_tensor, copy=True)

    with pytest.raises(AssertionError, match="PassingEverything.*input"):
        assert_gradients(PassingEverything(), away_from_zero(rng, (4, 6)), tolerance=TOLERANCE)


def test_shapes_dtype_phases_and_errors(ReLU, rng):
    assert_layer_contract(ReLU, rng, (4, 6))
    assert_layer_contract(ReLU, rng, (2, 3, 4, 5))


def test_gradient_check(ReLU, rng):
    differences = assert_gradients(ReLU(), away_from_zero(rng, (4, 6)), tolerance=TOLERANCE)
    assert list(differences) == ["input"]
