"""Math tests of Sigmoid, run against the teaching and the fast layer.

Golden values worked out by hand, a float64 central-difference gradient check, and errors.
"""
import math

import numpy as np
import pytest

from framework.gradient_check import assert_gradients, check_gradients
from tests.helpers import assert_layer_contract, away_from_zero, layer_fixture

Sigmoid = layer_fixture("Sigmoid")

TOLERANCE = 1e-7  # float64 central differences with h = 1e-6 give ~1e-9 for a correct layer


@pytest.fixture
def rng():
    return np.random.default_rng(13)


def test_known_values(Sigmoid):
    layer = Sigmoid()
    log3 = math.log(3.0)
    # σ(0) = 1/2, σ(ln 3) = 1/(1 + 1/3) = 3/4, σ(−ln 3) = 1/(1 + 3) = 1/4
    output = layer.forward(np.array([[0.0, log3, -log3]]))
    np.testing.assert_allclose(output, [[0.5, 0.75, 0.25]], rtol=0, atol=1e-12)
    # derivative y(1 − y): [1/4, 3/16, 3/16]; times E = [4, 1, 2] → [1, 0.1875, 0.375]
    np.testing.assert_allclose(layer.backward(np.array([[4.0, 1.0, 2.0]])), [[1.0, 0.1875, 0.375]],
                               atol=1e-12)


def test_saturates_without_overflow(Sigmoid):
    with np.errstate(all="raise"):
        output = Sigmoid().forward(np.array([[-1e4, 1e4]]))
    np.testing.assert_allclose(output, [[0.0, 1.0]], atol=1e-12)


def test_checker_rejects_a_wrong_derivative(Sigmoid, rng):
    class ForgetsTheFactor(Sigmoid):  # y instead of y (1 − y)
        def forward(self, input_tensor):
            self.forward_output = super().forward(input_tensor)
            return self.forward_output

        def backward(self, error_tensor):
            super().backward(error_tensor)
            return error_tensor * self.forward_output

    assert check_gradients(ForgetsTheFactor(), away_from_zero(rng, (4, 6)))["input"] > 1e-2


def test_shapes_dtype_phases_and_errors(Sigmoid, rng):
    assert_layer_contract(Sigmoid, rng, (4, 6))
    assert_layer_contract(Sigmoid, rng, (2, 3, 4, 5))


def test_gradient_check(Sigmoid, rng):
    differences = assert_gradients(Sigmoid(), away_from_zero(rng, (4, 6)), tolerance=TOLERANCE)
    assert list(differences) == ["input"]
