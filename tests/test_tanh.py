"""Math tests of TanH, run against the teaching and the fast layer.

Golden values worked out by hand, a float64 central-difference gradient check, and errors.
"""
import math

import numpy as np
import pytest

from framework.gradient_check import assert_gradients, check_gradients
from tests.helpers import assert_layer_contract, away_from_zero, layer_fixture

TanH = layer_fixture("TanH")

TOLERANCE = 1e-7  # float64 central differences with h = 1e-6 give ~1e-9 for a correct layer


@pytest.fixture
def rng():
    return np.random.default_rng(12)


def test_known_values(TanH):
    layer = TanH()
    log2 = math.log(2.0)
    # tanh(ln 2) = (2 − 1/2) / (2 + 1/2) = 1.5 / 2.5 = 0.6, tanh is odd, tanh(0) = 0
    output = layer.forward(np.array([[0.0, log2, -log2]]))
    np.testing.assert_allclose(output, [[0.0, 0.6, -0.6]], rtol=0, atol=1e-12)
    # derivative 1 − y²: [1, 1 − 0.36, 1 − 0.36] = [1, 0.64, 0.64]; times E = [1, 2, 3]
    np.testing.assert_allclose(layer.backward(np.array([[1.0, 2.0, 3.0]])), [[1.0, 1.28, 1.92]], atol=1e-12)


def test_saturates_without_overflow(TanH):
    layer = TanH()
    with np.errstate(all="raise"):
        np.testing.assert_allclose(layer.forward(np.array([[-1e4, 1e4]])), [[-1.0, 1.0]], atol=1e-12)
        np.testing.assert_allclose(layer.backward(np.ones((1, 2))), [[0.0, 0.0]], atol=1e-12)


def test_checker_rejects_a_wrong_derivative(TanH, rng):
    class ForgetsTheSquare(TanH):  # 1 − y instead of 1 − y²
        def backward(self, error_tensor):
            super().backward(error_tensor)
            return error_tensor * (1 - self.forward_output)

        def forward(self, input_tensor):
            self.forward_output = super().forward(input_tensor)
            return self.forward_output

    assert check_gradients(ForgetsTheSquare(), away_from_zero(rng, (4, 6)))["input"] > 1e-2


def test_shapes_dtype_phases_and_errors(TanH, rng):
    assert_layer_contract(TanH, rng, (4, 6))
    assert_layer_contract(TanH, rng, (2, 3, 4, 5))


def test_gradient_check(TanH, rng):
    differences = assert_gradients(TanH(), away_from_zero(rng, (4, 6)), tolerance=TOLERANCE)
    assert list(differences) == ["input"]
