"""Math tests of Dropout (inverted and classic, training and testing), run against the teaching and the fast layer.

Golden values worked out by hand with a fixed "random" source, statistical
checks on large batches with tolerances derived from the binomial spread, a
central-difference gradient check with a fixed mask, and a deliberately wrong
backward that the checker must reject.
"""
import math

import numpy as np
import pytest

from framework.gradient_check import assert_gradients, check_gradients
from tests.helpers import assert_arguments_untouched, layer_fixture

Dropout = layer_fixture("Dropout")

TOLERANCE = 1e-7  # float64 central differences; a correct layer gives ~1e-10


class FixedUniform:
    """A stand-in for a numpy Generator whose ``random`` returns chosen values."""

    def __init__(self, values):
        self.values = np.asarray(values, dtype=np.float64)

    def random(self, shape):
        assert tuple(shape) == self.values.shape
        return self.values.copy()


def nonzero_input(rng, shape):
    """Values with |x| in [0.5, 1.5): no exact zeros, so a zero output means a dropped unit."""
    return rng.uniform(0.5, 1.5, size=shape) * rng.choice([-1.0, 1.0], size=shape)


# -- golden values ---------------------------------------------------------------------


def test_inverted_training_known_values(Dropout):
    # u = [0.1, 0.9, 0.5, 0.7], p = 0.6: kept where u < 0.6 -> [kept, dropped, kept, dropped]
    layer = Dropout(0.6, rng=FixedUniform([[0.1, 0.9, 0.5, 0.7]]))
    output = layer.forward(np.array([[1.0, 2.0, 3.0, 4.0]]))
    # kept units scaled by 1/p: [1/0.6, 0, 3/0.6, 0] = [1.6667, 0, 5, 0]
    np.testing.assert_allclose(output, [[1 / 0.6, 0.0, 5.0, 0.0]], rtol=1e-15,
                               err_msg="Dropout.forward (inverted, training): x ⊙ m / p with m = [u < p], "
                                       "u drawn from the layer's rng")
    # backward routes E = [10, 20, 30, 40] through the same mask and scale:
    # [10/0.6, 0, 30/0.6, 0] = [16.667, 0, 50, 0]
    error = layer.backward(np.array([[10.0, 20.0, 30.0, 40.0]]))
    np.testing.assert_allclose(error, [[10 / 0.6, 0.0, 50.0, 0.0]], rtol=1e-15,
                               err_msg="Dropout.backward (inverted, training): E ⊙ m / p, the forward pass's mask")


def test_classic_training_known_values(Dropout):
    # same draw, classic dropout: kept units are not scaled
    layer = Dropout(0.6, inverted=False, rng=FixedUniform([[0.1, 0.9, 0.5, 0.7]]))
    output = layer.forward(np.array([[1.0, 2.0, 3.0, 4.0]]))
    np.testing.assert_array_equal(output, [[1.0, 0.0, 3.0, 0.0]])
    error = layer.backward(np.array([[10.0, 20.0, 30.0, 40.0]]))
    np.testing.assert_array_equal(error, [[10.0, 0.0, 30.0, 0.0]])


def test_boundary_draw_equal_to_p_is_dropped(Dropout):
    # m = [u < p]: u = p exactly is dropped, so P(kept) = p for u uniform on [0, 1)
    layer = Dropout(0.5, rng=FixedUniform([[0.5, 0.4999]]))
    np.testing.assert_array_equal(layer.forward(np.array([[1.0, 1.0]])), [[0.0, 2.0]],
                                  err_msg="Dropout.forward: a unit is kept where u < p, strictly")


# -- testing phase -----------------------------------------------------------------------


def test_inverted_testing_is_exact_identity(Dropout):
    rng = np.random.default_rng(0)
    input_tensor = rng.standard_normal((50, 40))
    layer = Dropout(0.3)
    layer.testing_phase = True
    output = layer.forward(input_tensor)
    np.testing.assert_array_equal(output, input_tensor)
    error_tensor = rng.standard_normal((50, 40))
    np.testing.assert_array_equal(layer.backward(error_tensor), error_tensor)


def test_classic_testing_scales_exactly_by_p(Dropout):
    rng = np.random.default_rng(0)
    input_tensor = rng.standard_normal((50, 40))
    layer = Dropout(0.3, inverted=False)
    layer.testing_phase = True
    np.testing.assert_array_equal(layer.forward(input_tensor), input_tensor * 0.3,
                                  err_msg="Dropout.forward (classic, testing): p · x")
    error_tensor = rng.standard_normal((50, 40))
    np.testing.assert_array_equal(layer.backward(error_tensor), error_tensor * 0.3,
                                  err_msg="Dropout.backward (classic, after a testing pass): p · E")


@pytest.mark.parametrize("inverted", [True, False])
def test_testing_is_deterministic(Dropout, inverted):
    input_tensor = np.random.default_rng(0).standard_normal((20, 30))
    layer = Dropout(0.5, inverted=inverted)
    layer.testing_phase = True
    np.testing.assert_array_equal(layer.forward(input_tensor), layer.forward(input_tensor))


# -- statistics in training --------------------------------------------------------------


@pytest.mark.parametrize("probability", [0.2, 0.5, 0.8])
def test_inverted_training_preserves_mean_activation(Dropout, probability):
    # n = 10⁶ ones. Each output is 1/p with probability p, else 0: mean 1, variance (1 − p)/p.
    # The sample mean has standard deviation sqrt((1 − p)/(p n)) <= sqrt(4/10⁶) = 0.002
    # (p = 0.2); 0.01 is five of those, and the seeded draw makes the test repeatable.
    layer = Dropout(probability, rng=np.random.default_rng(42))
    output = layer.forward(np.ones((1000, 1000)))
    assert abs(output.mean() - 1.0) < 0.01
    # and the test-time output (the identity) has exactly that mean
    layer.testing_phase = True
    assert layer.forward(np.ones((1000, 1000))).mean() == 1.0


@pytest.mark.parametrize("probability", [0.2, 0.5, 0.8])
def test_classic_training_mean_matches_testing(Dropout, probability):
    # classic: training outputs are 1 with probability p, so their mean is p ± sqrt(p(1−p)/n)
    # (at most 0.0005 for n = 10⁶); testing outputs are exactly p.
    layer = Dropout(probability, inverted=False, rng=np.random.default_rng(42))
    assert abs(layer.forward(np.ones((1000, 1000))).mean() - probability) < 0.0025
    layer.testing_phase = True
    np.testing.assert_allclose(layer.forward(np.ones((1000, 1000))).mean(), probability, rtol=1e-12)


def test_fraction_kept_and_kept_values(Dropout):
    rng = np.random.default_rng(7)
    input_tensor = nonzero_input(rng, (400, 500))
    layer = Dropout(0.7, rng=rng)
    output = layer.forward(input_tensor)
    kept = output != 0
    # fraction kept: 0.7 ± sqrt(0.7·0.3/200000) = 0.7 ± 0.001; five standard deviations
    assert abs(kept.mean() - 0.7) < 0.005
    np.testing.assert_array_equal(kept, layer.mask)
    np.testing.assert_allclose(output[kept], input_tensor[kept] / 0.7, rtol=1e-15)


def test_every_forward_draws_a_new_mask(Dropout):
    layer = Dropout(0.5, rng=np.random.default_rng(3))
    first = layer.forward(np.ones((10, 10)))
    second = layer.forward(np.ones((10, 10)))
    assert not np.array_equal(first, second)


# -- backward ----------------------------------------------------------------------------


@pytest.mark.parametrize("inverted", [True, False])
def test_zeros_of_forward_and_backward_coincide(Dropout, inverted):
    rng = np.random.default_rng(11)
    input_tensor = nonzero_input(rng, (30, 40))
    layer = Dropout(0.5, inverted=inverted, rng=rng)
    output = layer.forward(input_tensor)
    error = layer.backward(nonzero_input(rng, (30, 40)))
    assert (output == 0).any() and (output != 0).any()
    np.testing.assert_array_equal(output == 0, error == 0)


def fixed_mask(seed):
    """before_forward hook: the same mask on every forward pass of the gradient check."""
    def reset(layer):
        layer.rng = np.random.default_rng(seed)
    return reset


@pytest.mark.parametrize("inverted", [True, False])
def test_gradient_check_with_fixed_mask(Dropout, inverted):
    input_tensor = np.random.default_rng(5).standard_normal((6, 7))
    layer = Dropout(0.6, inverted=inverted, rng=np.random.default_rng(9))
    assert_gradients(layer, input_tensor, tolerance=TOLERANCE, before_forward=fixed_mask(9))


@pytest.mark.parametrize("inverted", [True, False])
def test_gradient_check_in_testing_phase(Dropout, inverted):
    layer = Dropout(0.6, inverted=inverted)
    layer.testing_phase = True
    assert_gradients(layer, np.random.default_rng(5).standard_normal((6, 7)), tolerance=TOLERANCE)


def test_gradient_check_rejects_a_wrong_backward(Dropout):
    class ForgettingTheScale(Dropout):  # deliberately wrong: routes the error through the mask, forgets 1/p
        def backward(self, error_tensor):
            return np.where(super().backward(error_tensor) != 0, error_tensor, 0.0)

    layer = ForgettingTheScale(0.5, rng=np.random.default_rng(9))
    differences = check_gradients(layer, np.random.default_rng(5).standard_normal((6, 7)),
                                  before_forward=fixed_mask(9))
    # analytic = numerical / 2 (scale 1 instead of 1/0.5): relative difference 1/3
    assert differences["input"] > 0.3
    with pytest.raises(AssertionError, match="ForgettingTheScale"):
        assert_gradients(layer, np.random.default_rng(5).standard_normal((6, 7)),
                         before_forward=fixed_mask(9))


# -- p = 1, randomness, dtype ---------------------------------------------------------------


@pytest.mark.parametrize("inverted", [True, False])
def test_keeping_everything_is_the_identity(Dropout, inverted):
    rng = np.random.default_rng(2)
    input_tensor = rng.standard_normal((20, 30))
    error_tensor = rng.standard_normal((20, 30))
    layer = Dropout(1.0, inverted=inverted, rng=rng)
    for testing in (False, True):
        layer.testing_phase = testing
        np.testing.assert_array_equal(layer.forward(input_tensor), input_tensor)
        np.testing.assert_array_equal(layer.backward(error_tensor), error_tensor)


def test_same_generator_seed_gives_same_masks(Dropout):
    first = Dropout(0.5, rng=np.random.default_rng(123))
    second = Dropout(0.5, rng=np.random.default_rng(123))
    other = Dropout(0.5, rng=np.random.default_rng(124))
    input_tensor = np.ones((20, 20))
    outputs = [layer.forward(input_tensor) for layer in (first, second, other)]
    np.testing.assert_array_equal(outputs[0], outputs[1])
    assert not np.array_equal(outputs[0], outputs[2])


def test_global_seed_gives_same_masks(Dropout):
    layer = Dropout(0.5)
    input_tensor = np.ones((20, 20))
    np.random.seed(2024)
    first = layer.forward(input_tensor)
    np.random.seed(2024)
    second = layer.forward(input_tensor)
    np.testing.assert_array_equal(first, second)


def test_a_passed_generator_leaves_the_global_state_alone(Dropout):
    np.random.seed(0)
    state = np.random.get_state()[1].copy()
    Dropout(0.5, rng=np.random.default_rng(1)).forward(np.ones((10, 10)))
    np.testing.assert_array_equal(np.random.get_state()[1], state)


@pytest.mark.parametrize("inverted", [True, False])
@pytest.mark.parametrize("testing", [False, True])
def test_float32_stays_float32(Dropout, inverted, testing):
    input_tensor = np.random.default_rng(0).standard_normal((8, 9)).astype(np.float32)
    layer = Dropout(0.7, inverted=inverted, rng=np.random.default_rng(1))
    layer.testing_phase = testing
    assert layer.forward(input_tensor).dtype == np.float32
    assert layer.backward(np.ones((8, 9), dtype=np.float32)).dtype == np.float32


def test_inputs_are_not_mutated(Dropout):
    rng = np.random.default_rng(0)
    input_tensor = rng.standard_normal((8, 9))
    error_tensor = rng.standard_normal((8, 9))
    layer = Dropout(0.5, rng=rng)
    assert_arguments_untouched(layer, input_tensor, error_tensor)


def test_image_shaped_input(Dropout):
    layer = Dropout(0.5, rng=np.random.default_rng(0))
    output = layer.forward(np.ones((2, 3, 4, 5)))
    assert output.shape == (2, 3, 4, 5)
    assert set(np.unique(output)) <= {0.0, 2.0}


# -- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize("probability", [0, 0.0, -0.1, 1.0000001, 2, math.nan, math.inf])
def test_probability_outside_zero_one_is_refused(Dropout, probability):
    with pytest.raises(ValueError, match=r"Dropout.*probability.*\(0, 1\]"):
        Dropout(probability)


@pytest.mark.parametrize("probability", ["half", None, True])
def test_probability_must_be_a_number(Dropout, probability):
    with pytest.raises(TypeError, match="Dropout"):
        Dropout(probability)


def test_inverted_must_be_a_bool(Dropout):
    with pytest.raises(TypeError, match="Dropout.*inverted"):
        Dropout(0.5, inverted="no")


def test_backward_before_forward_and_wrong_shape(Dropout):
    layer = Dropout(0.5)
    with pytest.raises(RuntimeError, match="Dropout"):
        layer.backward(np.ones((2, 3)))
    layer.forward(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"Dropout.*\(2, 3\).*\(3, 2\)"):
        layer.backward(np.ones((3, 2)))
