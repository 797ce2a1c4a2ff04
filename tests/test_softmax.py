"""Math tests of SoftMax, run against the teaching and the fast layer.

Golden values worked out by hand, stability for huge scores, float64 central-difference
gradient checks, and errors naming the layer.
"""
import math

import numpy as np
import pytest

from framework.gradient_check import assert_gradients, check_gradients
from tests.helpers import assert_layer_contract, layer_fixture

SoftMax = layer_fixture("SoftMax")

TOLERANCE = 1e-7


@pytest.fixture
def rng():
    return np.random.default_rng(14)


def test_known_values(SoftMax):
    layer = SoftMax()
    # row 0: exp([0, ln 2, ln 3]) = [1, 2, 3], sum 6 → [1/6, 1/3, 1/2]
    # row 1: equal scores → equal probabilities
    output = layer.forward(np.array([[0.0, math.log(2.0), math.log(3.0)],
                                     [5.0, 5.0, 5.0]]))
    np.testing.assert_allclose(output, [[1 / 6, 1 / 3, 1 / 2], [1 / 3, 1 / 3, 1 / 3]], atol=1e-12)
    # row 0 with E = [1, 0, 0]: Σ E ŷ = 1/6, ∂L/∂x = ŷ ⊙ (E − 1/6)
    #   = [1/6 · 5/6, 1/3 · (−1/6), 1/2 · (−1/6)] = [5/36, −2/36, −3/36]
    # row 1 with E = [1, 1, 1]: Σ E ŷ = 1, ∂L/∂x = ŷ ⊙ 0 = 0
    previous_error = layer.backward(np.array([[1.0, 0.0, 0.0], [1.0, 1.0, 1.0]]))
    np.testing.assert_allclose(previous_error, [[5 / 36, -2 / 36, -3 / 36], [0.0, 0.0, 0.0]], atol=1e-12)


def test_is_stable_for_huge_inputs(SoftMax):
    layer = SoftMax()
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        output = layer.forward(np.array([[1e4, 0.0, -1e4],
                                         [1e4, 1e4, 1e4],
                                         [1e4, 1e4 - math.log(2.0), -1e4]]))
    # row 2: exp([0, −ln 2, −2e4]) relative to the max = [1, 1/2, 0] → [2/3, 1/3, 0]
    np.testing.assert_allclose(output, [[1.0, 0.0, 0.0],
                                        [1 / 3, 1 / 3, 1 / 3],
                                        [2 / 3, 1 / 3, 0.0]], rtol=0, atol=1e-10)
    np.testing.assert_allclose(output.sum(axis=1), 1.0, atol=1e-12)
    assert np.all(np.isfinite(layer.backward(np.ones((3, 3)))))


def test_shapes_dtype_phases_and_errors(SoftMax, rng):
    assert_layer_contract(SoftMax, rng, (4, 6))


def test_gradient_check(SoftMax, rng):
    assert list(assert_gradients(SoftMax(), rng.standard_normal((4, 6)), tolerance=TOLERANCE)) == ["input"]


def test_gradient_check_with_large_scores(SoftMax, rng):
    # shifted by 1e3: the stable formula must still give the right Jacobian
    assert_gradients(SoftMax(), 1e3 + rng.standard_normal((3, 5)), tolerance=1e-6)


def test_checker_rejects_a_diagonal_only_jacobian(SoftMax, rng):
    class DiagonalOnly(SoftMax):  # ŷ(1 − ŷ) E: forgets that every score moves every probability
        def forward(self, input_tensor):
            self.probabilities = super().forward(input_tensor)
            return self.probabilities

        def backward(self, error_tensor):
            super().backward(error_tensor)
            return self.probabilities * (1 - self.probabilities) * error_tensor

    assert check_gradients(DiagonalOnly(), rng.standard_normal((4, 6)))["input"] > 1e-2


def test_rejects_a_vector(SoftMax):
    with pytest.raises(ValueError, match=r"SoftMax.*\(3,\)"):
        SoftMax().forward(np.ones(3))
