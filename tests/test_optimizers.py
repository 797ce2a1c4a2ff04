"""Sgd, SgdWithMomentum and Adam against updates worked out by hand.

Each test injects known weights and gradients and checks two or more steps
exactly, with the arithmetic in the comments (the scikit-learn style).
"""
import math

import numpy as np
import pytest

from optimizers import Adam, Optimizer, Sgd, SgdWithMomentum
from regularizers import L2Regularizer

# -- Sgd -------------------------------------------------------------------------------


def test_sgd_two_steps_on_floats():
    optimizer = Sgd(0.1)
    # w1 = 1 − 0.1·2 = 0.8
    w1 = optimizer.calculate_update(1.0, 2.0)
    assert w1 == pytest.approx(0.8, abs=1e-15)
    # w2 = 0.8 − 0.1·(−1) = 0.9
    assert optimizer.calculate_update(w1, -1.0) == pytest.approx(0.9, abs=1e-15)


def test_sgd_two_steps_on_arrays():
    optimizer = Sgd(0.1)
    # w1 = [1, −2] − 0.1·[0.5, 1] = [0.95, −2.1]
    w1 = optimizer.calculate_update(np.array([1.0, -2.0]), np.array([0.5, 1.0]))
    np.testing.assert_allclose(w1, [0.95, -2.1], atol=1e-15)
    # w2 = [0.95, −2.1] − 0.1·[1, 1] = [0.85, −2.2]
    np.testing.assert_allclose(optimizer.calculate_update(w1, np.array([1.0, 1.0])), [0.85, -2.2], atol=1e-15)


def test_sgd_does_not_change_its_inputs():
    weights, gradient = np.array([1.0, 2.0]), np.array([3.0, 4.0])
    Sgd(0.1).calculate_update(weights, gradient)
    np.testing.assert_array_equal(weights, [1.0, 2.0])
    np.testing.assert_array_equal(gradient, [3.0, 4.0])


# -- SgdWithMomentum -------------------------------------------------------------------


def test_momentum_three_steps_on_floats():
    optimizer = SgdWithMomentum(0.1, 0.9)
    assert optimizer.velocity is None
    # v1 = 0.9·0 − 0.1·2 = −0.2;          w1 = 1 − 0.2 = 0.8
    w1 = optimizer.calculate_update(1.0, 2.0)
    assert w1 == pytest.approx(0.8, abs=1e-15)
    assert optimizer.velocity == pytest.approx(-0.2, abs=1e-15)
    # v2 = 0.9·(−0.2) − 0.1·2 = −0.38;    w2 = 0.8 − 0.38 = 0.42
    w2 = optimizer.calculate_update(w1, 2.0)
    assert w2 == pytest.approx(0.42, abs=1e-15)
    # v3 = 0.9·(−0.38) − 0.1·(−1) = −0.342 + 0.1 = −0.242;   w3 = 0.42 − 0.242 = 0.178
    w3 = optimizer.calculate_update(w2, -1.0)
    assert w3 == pytest.approx(0.178, abs=1e-15)
    assert optimizer.velocity == pytest.approx(-0.242, abs=1e-15)


def test_momentum_two_steps_on_arrays():
    optimizer = SgdWithMomentum(0.5, 0.5)
    weights = np.array([[1.0, -1.0], [0.0, 2.0]])
    gradient = np.array([[1.0, 2.0], [-2.0, 0.0]])
    # v1 = −0.5·g = [[−0.5, −1], [1, 0]];   w1 = w + v1 = [[0.5, −2], [1, 2]]
    w1 = optimizer.calculate_update(weights, gradient)
    np.testing.assert_allclose(w1, [[0.5, -2.0], [1.0, 2.0]], atol=1e-15)
    # v2 = 0.5·v1 − 0.5·g = [[−0.25−0.5, −0.5−1], [0.5+1, 0]] = [[−0.75, −1.5], [1.5, 0]]
    # w2 = w1 + v2 = [[−0.25, −3.5], [2.5, 2]]
    w2 = optimizer.calculate_update(w1, gradient)
    np.testing.assert_allclose(w2, [[-0.25, -3.5], [2.5, 2.0]], atol=1e-15)
    np.testing.assert_allclose(optimizer.velocity, [[-0.75, -1.5], [1.5, 0.0]], atol=1e-15)


def test_momentum_zero_is_sgd():
    momentum, sgd = SgdWithMomentum(0.1, 0.0), Sgd(0.1)
    w_momentum = w_sgd = np.array([1.0, -3.0])
    for gradient in ([1.0, 2.0], [-4.0, 0.5], [0.25, 0.25]):
        w_momentum = momentum.calculate_update(w_momentum, np.array(gradient))
        w_sgd = sgd.calculate_update(w_sgd, np.array(gradient))
    np.testing.assert_allclose(w_momentum, w_sgd, atol=1e-15)


# -- Adam ------------------------------------------------------------------------------

ADAM_EPSILON = 1e-8


def test_adam_two_steps_on_floats():
    optimizer = Adam(0.1, 0.9, 0.999)
    assert optimizer.step == 0
    # step 1, g = 2:  m1 = 0.1·2 = 0.2,  r1 = 0.001·4 = 0.004
    #   m̂ = 0.2/(1−0.9) = 2,  r̂ = 0.004/(1−0.999) = 4
    #   w1 = 1 − 0.1·2/(sqrt(4) + 1e-8) = 1 − 0.2/2.00000001 ≈ 0.9000000005
    w1 = optimizer.calculate_update(1.0, 2.0)
    assert w1 == pytest.approx(1 - 0.1 * 2 / (2 + ADAM_EPSILON), abs=1e-15)
    assert optimizer.step == 1
    assert optimizer.first_moment == pytest.approx(0.2, abs=1e-15)
    assert optimizer.second_moment == pytest.approx(0.004, abs=1e-15)
    # step 2, g = −1: m2 = 0.9·0.2 + 0.1·(−1) = 0.08
    #                 r2 = 0.999·0.004 + 0.001·1 = 0.003996 + 0.001 = 0.004996
    #   m̂ = 0.08/(1 − 0.81) = 0.08/0.19 ≈ 0.421053
    #   r̂ = 0.004996/(1 − 0.998001) = 0.004996/0.001999 ≈ 2.499250,  sqrt ≈ 1.580902
    #   w2 = w1 − 0.1·0.421053/1.580902 ≈ w1 − 0.0266337 ≈ 0.8733663
    w2 = optimizer.calculate_update(w1, -1.0)
    expected_step = 0.1 * (0.08 / 0.19) / (math.sqrt(0.004996 / 0.001999) + ADAM_EPSILON)
    assert expected_step == pytest.approx(0.0266337, abs=1e-7)
    assert w2 == pytest.approx(w1 - expected_step, abs=1e-14)
    assert optimizer.step == 2
    assert optimizer.first_moment == pytest.approx(0.08, abs=1e-15)
    assert optimizer.second_moment == pytest.approx(0.004996, abs=1e-15)


def test_adam_two_steps_on_arrays():
    optimizer = Adam(0.01, 0.5, 0.75)
    weights = np.array([1.0, -1.0])
    # step 1, g = [4, −2]: m1 = 0.5·g = [2, −1],  r1 = 0.25·g² = [4, 1]
    #   m̂ = m1/0.5 = [4, −2],  r̂ = r1/0.25 = [16, 4] → sqrt = [4, 2]
    #   w1 = w − 0.01·[4/4, −2/2] = [0.99, −0.99]  (ε = 1e-8 shifts the 10th digit)
    w1 = optimizer.calculate_update(weights, np.array([4.0, -2.0]))
    np.testing.assert_allclose(w1, [1 - 0.01 * 4 / (4 + ADAM_EPSILON), -1 + 0.01 * 2 / (2 + ADAM_EPSILON)],
                               rtol=0, atol=1e-15)
    # step 2, g = [0, 2]: m2 = 0.5·[2, −1] + 0.5·[0, 2] = [1, 0.5]
    #                      r2 = 0.75·[4, 1] + 0.25·[0, 4] = [3, 1.75]
    #   m̂ = m2/(1 − 0.25) = [4/3, 2/3],  r̂ = r2/(1 − 0.5625) = [3/0.4375, 1.75/0.4375] = [6.857143, 4]
    #   step = 0.01·[ (4/3)/sqrt(6.857143), (2/3)/2 ] ≈ [0.0050918, 0.0033333]
    w2 = optimizer.calculate_update(w1, np.array([0.0, 2.0]))
    expected_step = 0.01 * np.array([(4 / 3) / (math.sqrt(3 / 0.4375) + ADAM_EPSILON),
                                     (2 / 3) / (math.sqrt(1.75 / 0.4375) + ADAM_EPSILON)])
    np.testing.assert_allclose(expected_step, [0.0050918, 0.0033333], atol=1e-7)
    np.testing.assert_allclose(w2, w1 - expected_step, rtol=0, atol=1e-15)
    np.testing.assert_allclose(optimizer.first_moment, [1.0, 0.5], atol=1e-15)
    np.testing.assert_allclose(optimizer.second_moment, [3.0, 1.75], atol=1e-15)


@pytest.mark.parametrize("gradient", [1e-3, 0.5, 7.0, -1e3, -0.02])
def test_adam_first_update_has_magnitude_learning_rate(gradient):
    # bias correction: m̂ = g, r̂ = g² on step 1, so the step is lr·g/(|g| + ε) ≈ lr·sign(g)
    # (relative deviation ε/|g| ≤ 1e-5 for |g| ≥ 1e-3). Without the correction it would be
    # lr·0.1·g/(sqrt(0.001)·|g|) ≈ 3.16·lr.
    weights = 5.0
    updated = Adam(0.01, 0.9, 0.999).calculate_update(weights, gradient)
    assert abs(weights - updated) == pytest.approx(0.01, rel=1e-5)
    assert np.sign(weights - updated) == np.sign(gradient)


def test_adam_steps_by_learning_rate_while_the_gradient_is_constant():
    # with a constant g, m_k = (1 − μ^k)·g and r_k = (1 − ρ^k)·g², so m̂ = g and r̂ = g² at every
    # step k: each step is lr·g/(|g| + ε); after 5 steps per element 5·0.02·g/(|g| + 1e-8)
    optimizer = Adam(0.02, 0.9, 0.999)
    gradient = np.array([0.3, -4.0, 1e-2])
    weights = np.zeros(3)
    for _ in range(5):
        weights = optimizer.calculate_update(weights, gradient)
    np.testing.assert_allclose(weights, -5 * 0.02 * gradient / (np.abs(gradient) + ADAM_EPSILON), rtol=1e-12)
    assert optimizer.step == 5


def test_adam_zero_gradient_does_not_move_and_is_finite():
    # m = r = 0: step = lr·0/(0 + ε) = 0 (ε keeps it finite)
    updated = Adam(0.1).calculate_update(np.array([1.0, 2.0]), np.zeros(2))
    np.testing.assert_array_equal(updated, [1.0, 2.0])


# -- common behaviour ------------------------------------------------------------------

OPTIMIZERS = [lambda: Sgd(0.1), lambda: SgdWithMomentum(0.1, 0.9), lambda: Adam(0.1, 0.9, 0.999)]
IDS = ["Sgd", "SgdWithMomentum", "Adam"]


@pytest.mark.parametrize("make_optimizer", OPTIMIZERS, ids=IDS)
def test_plain_python_floats_give_floats(make_optimizer):
    optimizer = make_optimizer()
    weights = 1.0
    for gradient in (0.5, -0.25):
        weights = optimizer.calculate_update(weights, gradient)
        assert isinstance(weights, float)
        assert np.ndim(weights) == 0
    assert weights < 1.0


@pytest.mark.parametrize("make_optimizer", OPTIMIZERS, ids=IDS)
def test_float32_stays_float32(make_optimizer):
    optimizer = make_optimizer()
    optimizer.add_regularizer(L2Regularizer(0.01))
    weights = np.array([[1.0, -2.0], [0.5, 3.0]], dtype=np.float32)
    for _ in range(2):
        weights = optimizer.calculate_update(weights, np.ones((2, 2), dtype=np.float32))
        assert weights.dtype == np.float32
    for state in ("velocity", "first_moment", "second_moment"):
        if getattr(optimizer, state, None) is not None:
            assert getattr(optimizer, state).dtype == np.float32, state


@pytest.mark.parametrize("make_optimizer", OPTIMIZERS, ids=IDS)
def test_gradient_of_wrong_shape_is_rejected(make_optimizer):
    with pytest.raises(ValueError, match=r"calculate_update.*\(2, 3\).*\(3, 2\)"):
        make_optimizer().calculate_update(np.ones((2, 3)), np.ones((3, 2)))


def test_state_names():
    momentum = SgdWithMomentum(0.1, 0.9)
    momentum.calculate_update(np.ones(3), np.ones(3))
    assert momentum.velocity.shape == (3,)
    adam = Adam(0.1)
    adam.calculate_update(np.ones(3), np.ones(3))
    assert adam.first_moment.shape == (3,) and adam.second_moment.shape == (3,)
    assert adam.step == 1
    # the documented defaults: Adam(lr, mu, rho), ε = 1e-8 (see Adam's docstring)
    assert (adam.mu, adam.rho, adam.epsilon) == (0.9, 0.999, 1e-8)


@pytest.mark.parametrize("make_optimizer", OPTIMIZERS, ids=IDS)
def test_learning_rate_and_regularizer_attributes(make_optimizer):
    optimizer = make_optimizer()
    assert isinstance(optimizer, Optimizer)
    assert optimizer.learning_rate == 0.1
    assert optimizer.regularizer is None
    regularizer = L2Regularizer(0.5)
    optimizer.add_regularizer(regularizer)
    assert optimizer.regularizer is regularizer


def test_add_regularizer_rejects_something_else():
    with pytest.raises(TypeError, match="Sgd.add_regularizer"):
        Sgd(0.1).add_regularizer(0.5)


@pytest.mark.parametrize("learning_rate", [0.0, -0.1, math.nan, math.inf])
@pytest.mark.parametrize("optimizer_class", [Sgd, SgdWithMomentum, Adam])
def test_bad_learning_rate_is_rejected(optimizer_class, learning_rate):
    with pytest.raises(ValueError, match=f"{optimizer_class.__name__}: learning_rate"):
        optimizer_class(learning_rate)


def test_non_numeric_learning_rate_is_a_type_error():
    with pytest.raises(TypeError, match="Sgd: learning_rate must be a number"):
        Sgd("fast")


@pytest.mark.parametrize("momentum", [1.0, -0.1, 1.5, math.nan])
def test_bad_momentum_is_rejected(momentum):
    with pytest.raises(ValueError, match="SgdWithMomentum: momentum_rate"):
        SgdWithMomentum(0.1, momentum)


@pytest.mark.parametrize("mu, rho, name", [(1.0, 0.999, "mu"), (-0.1, 0.999, "mu"),
                                           (0.9, 1.0, "rho"), (0.9, 1.5, "rho"), (0.9, math.inf, "rho")])
def test_bad_adam_rates_are_rejected(mu, rho, name):
    with pytest.raises(ValueError, match=f"Adam: {name}"):
        Adam(0.1, mu, rho)


def test_optimizer_base_has_no_step_of_its_own():
    with pytest.raises(NotImplementedError):
        Optimizer(0.1).calculate_update(1.0, 1.0)
