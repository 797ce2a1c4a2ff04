"""L1, L2 and Norm Loss, and how every optimizer applies them.

The formulas (the exercise slides "Regularization"; Georgiou et al., ICPR 2020):
    L2:        norm = α·Σw²,               gradient α·w      (weight-decay convention)
    L1:        norm = α·Σ|w|,              gradient α·sign(w)
    Norm Loss: norm = α·Σ_o (1 − ‖w_o‖)²,  gradient α·2·w_o·(1 − 1/‖w_o‖)   (eq. 3, 4, 6)
Applied by the optimizer as shrinkage on the current weights, outside its
moment estimates: w ← w − η·regularizer.calculate_gradient(w) − (optimizer's step).
"""
import math
import warnings

import numpy as np
import pytest

from framework.gradient_check import relative_difference
from layers import FullyConnected
from optimizers import Adam, Sgd, SgdWithMomentum
from regularizers import L1Regularizer, L2Regularizer, NormLoss, Regularizer, unit_norms

TOLERANCE = 1e-7
KERNEL_SHAPES = [(4, 5), (3, 2, 3, 3), (3, 2, 5)]  # FullyConnected (out, in), Conv 2-D, Conv 1-D
KERNEL_IDS = ["fully_connected", "conv2d", "conv1d"]


def central_differences(function, weights, step=1e-6):
    """∂function/∂w by central differences in float64."""
    weights = np.array(weights, dtype=np.float64, copy=True)
    gradient = np.zeros_like(weights)
    for index in np.ndindex(weights.shape):
        original = weights[index]
        weights[index] = original + step
        plus = function(weights)
        weights[index] = original - step
        minus = function(weights)
        weights[index] = original
        gradient[index] = (plus - minus) / (2 * step)
    return gradient


def away_from_zero(rng, shape):
    """|w| in [0.1, 1.5): keeps L1's kink at 0 out of the central differences."""
    return rng.uniform(0.1, 1.5, size=shape) * rng.choice([-1.0, 1.0], size=shape)


# -- gradients against central differences of the norm -------------------------------


@pytest.mark.parametrize("shape", KERNEL_SHAPES, ids=KERNEL_IDS)
def test_l1_gradient_matches_central_differences(shape):
    regularizer = L1Regularizer(0.3)
    weights = away_from_zero(np.random.default_rng(0), shape)
    numerical = central_differences(regularizer.norm, weights)
    assert relative_difference(regularizer.calculate_gradient(weights), numerical) < TOLERANCE


@pytest.mark.parametrize("shape", KERNEL_SHAPES, ids=KERNEL_IDS)
def test_norm_loss_gradient_matches_central_differences(shape):
    regularizer = NormLoss(0.3)
    # each unit rescaled to a norm between 0.4 and 2.5: both sides of 1
    weights = np.random.default_rng(1).standard_normal(shape)
    targets = np.linspace(0.4, 2.5, shape[0])
    weights *= (targets / unit_norms(weights)).reshape((-1,) + (1,) * (len(shape) - 1))
    np.testing.assert_allclose(unit_norms(weights), targets, rtol=1e-12)
    numerical = central_differences(regularizer.norm, weights)
    assert relative_difference(regularizer.calculate_gradient(weights), numerical) < TOLERANCE


def test_norm_loss_checker_can_fail():
    # a deliberately wrong Norm Loss gradient (weight decay's 2αw, no (1 − 1/‖w‖) factor) fails
    regularizer = NormLoss(0.3)
    weights = np.random.default_rng(2).standard_normal((4, 5))
    numerical = central_differences(regularizer.norm, weights)
    assert relative_difference(2 * 0.3 * weights, numerical) > 0.1


def test_norm_loss_groups_by_output_unit_not_by_row_of_a_conv_kernel():
    # per-unit grouping: the conv kernel (2, 3, 4) must not be treated as 6 rows of 4
    regularizer = NormLoss(1.0)
    weights = np.random.default_rng(3).standard_normal((2, 3, 4))
    flat_gradient = regularizer.calculate_gradient(weights.reshape(2, 12)).reshape(2, 3, 4)
    np.testing.assert_allclose(regularizer.calculate_gradient(weights), flat_gradient, rtol=1e-14)
    assert regularizer.norm(weights) == pytest.approx(regularizer.norm(weights.reshape(2, 12)), rel=1e-14)
    assert regularizer.norm(weights) != pytest.approx(regularizer.norm(weights.reshape(6, 4)), rel=1e-3)


# -- L2 and L1 by hand ---------------------------------------------------------------

HAND_WEIGHTS = np.array([[1.0, -2.0],
                         [3.0, 0.0]])


def test_l2_by_hand():
    regularizer = L2Regularizer(0.5)
    # norm = 0.5·(1 + 4 + 9 + 0) = 7
    assert regularizer.norm(HAND_WEIGHTS) == pytest.approx(7.0, abs=1e-15)
    # gradient = 0.5·w
    np.testing.assert_allclose(regularizer.calculate_gradient(HAND_WEIGHTS), [[0.5, -1.0], [1.5, 0.0]], atol=1e-15)


@pytest.mark.parametrize("shape", KERNEL_SHAPES, ids=KERNEL_IDS)
def test_l2_gradient_is_alpha_w_half_the_derivative_of_its_norm(shape):
    regularizer = L2Regularizer(0.3)
    weights = np.random.default_rng(4).standard_normal(shape)
    np.testing.assert_allclose(regularizer.calculate_gradient(weights), 0.3 * weights, rtol=1e-15)
    assert regularizer.norm(weights) == pytest.approx(0.3 * np.sum(weights ** 2), rel=1e-13)
    # the weight-decay convention: d/dw (α·Σw²) = 2αw, twice what calculate_gradient returns
    numerical = central_differences(regularizer.norm, weights)
    assert relative_difference(2 * regularizer.calculate_gradient(weights), numerical) < TOLERANCE


def test_l1_by_hand():
    regularizer = L1Regularizer(0.5)
    # norm = 0.5·(1 + 2 + 3 + 0) = 3
    assert regularizer.norm(HAND_WEIGHTS) == pytest.approx(3.0, abs=1e-15)
    # gradient = 0.5·sign(w), sign(0) = 0
    np.testing.assert_array_equal(regularizer.calculate_gradient(HAND_WEIGHTS), [[0.5, -0.5], [0.5, 0.0]])


# -- Norm Loss on hand-made kernels --------------------------------------------------


def test_norm_loss_unit_rows_give_zero_loss_and_gradient():
    regularizer = NormLoss(0.7)
    weights = np.array([[1.0, 0.0, 0.0],
                        [0.0, 0.6, 0.8],    # 0.36 + 0.64 = 1
                        [0.0, -1.0, 0.0]])
    assert regularizer.norm(weights) == pytest.approx(0.0, abs=1e-15)
    np.testing.assert_allclose(regularizer.calculate_gradient(weights), np.zeros((3, 3)), atol=1e-15)


def test_norm_loss_row_of_norm_two():
    regularizer = NormLoss(0.3)
    weights = np.array([[0.0, 2.0, 0.0],    # norm 2
                        [0.6, 0.0, 0.8]])   # norm 1
    # loss = 0.3·((1 − 2)² + (1 − 1)²) = 0.3·1 = 0.3
    assert regularizer.norm(weights) == pytest.approx(0.3, abs=1e-15)
    # row 0: 0.3·2·w·(1 − 1/2) = 0.3·w = [0, 0.6, 0];  row 1: factor (1 − 1/1) = 0
    np.testing.assert_allclose(regularizer.calculate_gradient(weights), [[0.0, 0.6, 0.0], [0.0, 0.0, 0.0]],
                               atol=1e-15)


def test_norm_loss_row_of_norm_two_on_an_integer_kernel():
    # a student's hand-made kernel of ints: same numbers as above, not truncated to 0
    regularizer = NormLoss(1.0)
    weights = np.array([[2, 0], [0, 1]])
    # row 0: 1·2·[2, 0]·(1 − 1/2) = [2, 0];  row 1: norm 1 → 0
    np.testing.assert_allclose(regularizer.calculate_gradient(weights), [[2.0, 0.0], [0.0, 0.0]], atol=1e-15)
    assert regularizer.norm(weights) == pytest.approx(1.0, abs=1e-15)


def test_norm_loss_row_of_norm_one_half_grows():
    regularizer = NormLoss(1.0)
    weights = np.array([[0.3, 0.4]])        # norm 0.5
    # loss = (1 − 0.5)² = 0.25;  gradient 2·w·(1 − 1/0.5) = 2·w·(−1) = [−0.6, −0.8]
    assert regularizer.norm(weights) == pytest.approx(0.25, abs=1e-15)
    np.testing.assert_allclose(regularizer.calculate_gradient(weights), [[-0.6, -0.8]], atol=1e-15)


def test_norm_loss_conv_kernel_by_hand():
    regularizer = NormLoss(0.5)
    weights = np.stack([np.ones((1, 2, 2)),         # kernel 0: sqrt(4·1) = 2
                        np.full((1, 2, 2), 0.5)])   # kernel 1: sqrt(4·0.25) = 1
    # loss = 0.5·((1 − 2)² + 0) = 0.5;  gradient kernel 0: 0.5·2·1·(1 − 1/2) = 0.5, kernel 1: 0
    assert regularizer.norm(weights) == pytest.approx(0.5, abs=1e-15)
    expected = np.stack([np.full((1, 2, 2), 0.5), np.zeros((1, 2, 2))])
    np.testing.assert_allclose(regularizer.calculate_gradient(weights), expected, atol=1e-15)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_norm_loss_zero_norm_unit_is_safe(dtype):
    regularizer = NormLoss(1.0)
    weights = np.array([[0.0, 0.0, 0.0],
                        [3.0, 4.0, 0.0]], dtype=dtype)   # norms 0 and 5
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        gradient = regularizer.calculate_gradient(weights)
        loss = regularizer.norm(weights)
    assert np.all(np.isfinite(gradient))
    # row 0: gradient set to 0 at the kink;  row 1: 2·[3, 4, 0]·(1 − 1/5) = 1.6·[3, 4, 0] = [4.8, 6.4, 0]
    np.testing.assert_allclose(gradient, [[0.0, 0.0, 0.0], [4.8, 6.4, 0.0]], rtol=1e-6)
    # loss = (1 − 0)² + (1 − 5)² = 1 + 16 = 17
    assert loss == pytest.approx(17.0, rel=1e-6)


def test_norm_loss_all_zero_kernel_through_an_optimizer_is_safe():
    optimizer = Sgd(0.1)
    optimizer.add_regularizer(NormLoss(1.0))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        updated = optimizer.calculate_update(np.zeros((2, 3, 3)), np.zeros((2, 3, 3)))
    np.testing.assert_array_equal(updated, np.zeros((2, 3, 3)))


def test_unit_norms_per_output_unit():
    # (2, 1, 2, 2): kernel 0 = four 1s → 2;  kernel 1 = [3, 4, 0, 0] → 5
    weights = np.array([[[[1.0, 1.0], [1.0, 1.0]]], [[[3.0, 4.0], [0.0, 0.0]]]])
    np.testing.assert_allclose(unit_norms(weights), [2.0, 5.0], rtol=1e-15)


# -- alpha ---------------------------------------------------------------------------

REGULARIZERS = [L1Regularizer, L2Regularizer, NormLoss]


@pytest.mark.parametrize("regularizer_class", REGULARIZERS)
@pytest.mark.parametrize("alpha", [-0.1, math.nan, math.inf, -math.inf])
def test_bad_alpha_is_rejected(regularizer_class, alpha):
    with pytest.raises(ValueError, match=f"{regularizer_class.__name__}: alpha"):
        regularizer_class(alpha)


@pytest.mark.parametrize("regularizer_class", REGULARIZERS)
def test_non_numeric_alpha_is_a_type_error(regularizer_class):
    with pytest.raises(TypeError, match=f"{regularizer_class.__name__}: alpha must be a number"):
        regularizer_class("strong")


@pytest.mark.parametrize("regularizer_class", REGULARIZERS)
def test_alpha_zero_does_nothing(regularizer_class):
    regularizer = regularizer_class(0)
    weights = np.random.default_rng(5).standard_normal((3, 4))
    assert isinstance(regularizer, Regularizer)
    assert regularizer.alpha == 0.0
    assert regularizer.norm(weights) == 0.0
    np.testing.assert_array_equal(regularizer.calculate_gradient(weights), np.zeros((3, 4)))


# -- dtype -----------------------------------------------------------------------------


@pytest.mark.parametrize("regularizer_class", REGULARIZERS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_norm_is_a_python_float(regularizer_class, dtype):
    # The docstrings promise a Python float (the network adds it to the reported loss):
    # a NumPy scalar such as np.float64 is not one, though it subclasses float.
    weights = np.random.default_rng(7).standard_normal((3, 4)).astype(dtype)
    norm = regularizer_class(0.1).norm(weights)
    assert type(norm) is float, f"{regularizer_class.__name__}.norm returned {type(norm).__name__}, expected float"


@pytest.mark.parametrize("regularizer_class", REGULARIZERS)
def test_float32_kernels_keep_float32(regularizer_class):
    weights = np.random.default_rng(6).standard_normal((3, 2, 3, 3)).astype(np.float32)
    regularizer = regularizer_class(0.1)
    assert regularizer.calculate_gradient(weights).dtype == np.float32
    assert isinstance(regularizer.norm(weights), float)
    for optimizer in (Sgd(0.1), SgdWithMomentum(0.1, 0.9), Adam(0.1)):
        optimizer.add_regularizer(regularizer)
        updated = optimizer.calculate_update(weights, np.ones_like(weights))
        assert updated.dtype == np.float32


# -- the optimizers apply the regularizers: two steps worked out by hand ---------------
#
# Common setup: one unit w0 = [[3, 4]] (‖w0‖ = 5), learning rate η = 0.1, α = 0.5, and
# the data gradient g = [[0.6, 0.8]] on both steps (parallel to w0, which keeps Norm
# Loss's norms round). The regularizer's shrinkage is η·α·w (L2), η·α·sign(w) = 0.05
# (L1) and η·α·2·w·(1 − 1/‖w‖) = 0.1·w·(1 − 1/‖w‖) (Norm Loss).

W0 = np.array([[3.0, 4.0]])
G = np.array([[0.6, 0.8]])
LR, ALPHA = 0.1, 0.5


def two_steps(optimizer, regularizer):
    optimizer.add_regularizer(regularizer)
    w1 = optimizer.calculate_update(W0, G)
    w2 = optimizer.calculate_update(w1, G)
    return w1, w2


def test_sgd_with_l2_two_steps():
    w1, w2 = two_steps(Sgd(LR), L2Regularizer(ALPHA))
    # w1 = (1 − 0.05)·[3, 4] − 0.1·[0.6, 0.8] = [2.85 − 0.06, 3.8 − 0.08] = [2.79, 3.72]
    np.testing.assert_allclose(w1, [[2.79, 3.72]], atol=1e-14)
    # w2 = 0.95·[2.79, 3.72] − [0.06, 0.08] = [2.6505 − 0.06, 3.534 − 0.08] = [2.5905, 3.454]
    np.testing.assert_allclose(w2, [[2.5905, 3.454]], atol=1e-14)


def test_sgd_with_l2_is_exactly_the_seed_shrinkage():
    # w(k+1) = (1 − ηα)·w(k) − η·∂L/∂w(k), on random data, for three steps
    rng = np.random.default_rng(7)
    optimizer = Sgd(0.05)
    optimizer.add_regularizer(L2Regularizer(0.2))
    weights = rng.standard_normal((4, 3, 2, 2))
    for _ in range(3):
        gradient = rng.standard_normal(weights.shape)
        expected = (1 - 0.05 * 0.2) * weights - 0.05 * gradient
        weights = optimizer.calculate_update(weights, gradient)
        np.testing.assert_allclose(weights, expected, rtol=1e-14, atol=1e-15)


def test_sgd_with_l1_two_steps():
    w1, w2 = two_steps(Sgd(LR), L1Regularizer(ALPHA))
    # w1 = [3 − 0.05 − 0.06, 4 − 0.05 − 0.08] = [2.89, 3.87]
    np.testing.assert_allclose(w1, [[2.89, 3.87]], atol=1e-14)
    # w2 = [2.89 − 0.05 − 0.06, 3.87 − 0.05 − 0.08] = [2.78, 3.74]
    np.testing.assert_allclose(w2, [[2.78, 3.74]], atol=1e-14)


def test_sgd_with_norm_loss_two_steps():
    w1, w2 = two_steps(Sgd(LR), NormLoss(ALPHA))
    # step 1: shrink 0.1·[3, 4]·(1 − 1/5) = [0.24, 0.32]
    #   w1 = [3 − 0.24 − 0.06, 4 − 0.32 − 0.08] = [2.7, 3.6]   (norm 4.5)
    np.testing.assert_allclose(w1, [[2.7, 3.6]], atol=1e-14)
    # step 2: shrink 0.1·[2.7, 3.6]·(1 − 1/4.5) = 0.1·[2.1, 2.8] = [0.21, 0.28]
    #   w2 = [2.7 − 0.21 − 0.06, 3.6 − 0.28 − 0.08] = [2.43, 3.24]   (norm 4.05)
    np.testing.assert_allclose(w2, [[2.43, 3.24]], atol=1e-14)


# Momentum, decoupled: v(k) = 0.9·v(k−1) − 0.1·g, so v1 = [−0.06, −0.08] and
# v2 = 0.9·v1 − 0.1·g = [−0.054 − 0.06, −0.072 − 0.08] = [−0.114, −0.152] whatever the
# regularizer (coupled, L2 would give v1 = −0.1·(g + 0.5·w0) = [−0.21, −0.28]).
VELOCITY_2 = [[-0.114, -0.152]]


def test_momentum_with_l2_two_steps():
    optimizer = SgdWithMomentum(LR, 0.9)
    w1, w2 = two_steps(optimizer, L2Regularizer(ALPHA))
    # w1 = w0 + v1 − 0.05·w0 = [3 − 0.06 − 0.15, 4 − 0.08 − 0.2] = [2.79, 3.72]
    np.testing.assert_allclose(w1, [[2.79, 3.72]], atol=1e-14)
    # w2 = w1 + v2 − 0.05·w1 = [2.79 − 0.114 − 0.1395, 3.72 − 0.152 − 0.186] = [2.5365, 3.382]
    np.testing.assert_allclose(w2, [[2.5365, 3.382]], atol=1e-14)
    np.testing.assert_allclose(optimizer.velocity, VELOCITY_2, atol=1e-15)


def test_momentum_with_l1_two_steps():
    optimizer = SgdWithMomentum(LR, 0.9)
    w1, w2 = two_steps(optimizer, L1Regularizer(ALPHA))
    # w1 = [3 − 0.06 − 0.05, 4 − 0.08 − 0.05] = [2.89, 3.87]
    np.testing.assert_allclose(w1, [[2.89, 3.87]], atol=1e-14)
    # w2 = [2.89 − 0.114 − 0.05, 3.87 − 0.152 − 0.05] = [2.726, 3.668]
    np.testing.assert_allclose(w2, [[2.726, 3.668]], atol=1e-14)
    np.testing.assert_allclose(optimizer.velocity, VELOCITY_2, atol=1e-15)


def test_momentum_with_norm_loss_two_steps():
    optimizer = SgdWithMomentum(LR, 0.9)
    w1, w2 = two_steps(optimizer, NormLoss(ALPHA))
    # w1 = [3 − 0.06 − 0.24, 4 − 0.08 − 0.32] = [2.7, 3.6]   (norm 4.5)
    np.testing.assert_allclose(w1, [[2.7, 3.6]], atol=1e-14)
    # shrink 0.1·[2.7, 3.6]·(7/9) = [0.21, 0.28]
    # w2 = [2.7 − 0.114 − 0.21, 3.6 − 0.152 − 0.28] = [2.376, 3.168]
    np.testing.assert_allclose(w2, [[2.376, 3.168]], atol=1e-14)
    np.testing.assert_allclose(optimizer.velocity, VELOCITY_2, atol=1e-15)


# Adam(0.1, 0.9, 0.999), decoupled. With the constant g, the bias-corrected moments are
# m̂ = g and r̂ = g² on both steps (m1 = 0.1·g, m̂ = m1/0.1; m2 = 0.19·g, m̂ = m2/0.19; likewise
# r2 = 0.001999·g²), so Adam's own step is a = 0.1·g/(|g| + 1e-8) ≈ [0.1, 0.1] both times.
# The moments hold the data gradient only: m2 = 0.19·g = [0.114, 0.152],
# r2 = 0.001999·g² = 0.001999·[0.36, 0.64].
ADAM_STEP = 0.1 * G / (np.abs(G) + 1e-8)


def check_adam_moments(optimizer):
    np.testing.assert_allclose(optimizer.first_moment, [[0.114, 0.152]], rtol=1e-12)
    np.testing.assert_allclose(optimizer.second_moment, 0.001999 * np.array([[0.36, 0.64]]), rtol=1e-12)
    assert optimizer.step == 2


def test_adam_with_l2_two_steps():
    optimizer = Adam(LR, 0.9, 0.999)
    w1, w2 = two_steps(optimizer, L2Regularizer(ALPHA))
    # w1 = w0 − 0.05·w0 − a = [2.85, 3.8] − a ≈ [2.75, 3.7]
    expected_1 = 0.95 * W0 - ADAM_STEP
    np.testing.assert_allclose(expected_1, [[2.75, 3.7]], atol=1e-7)
    np.testing.assert_allclose(w1, expected_1, rtol=1e-14)
    # w2 = 0.95·w1 − a ≈ [2.6125 − 0.1, 3.515 − 0.1] = [2.5125, 3.415]
    expected_2 = 0.95 * expected_1 - ADAM_STEP
    np.testing.assert_allclose(expected_2, [[2.5125, 3.415]], atol=1e-7)
    np.testing.assert_allclose(w2, expected_2, rtol=1e-14)
    check_adam_moments(optimizer)


def test_adam_with_l1_two_steps():
    optimizer = Adam(LR, 0.9, 0.999)
    w1, w2 = two_steps(optimizer, L1Regularizer(ALPHA))
    # w1 = w0 − 0.05 − a ≈ [2.85, 3.85];  w2 = w1 − 0.05 − a ≈ [2.7, 3.7]
    expected_1 = W0 - 0.05 - ADAM_STEP
    expected_2 = expected_1 - 0.05 - ADAM_STEP
    np.testing.assert_allclose(expected_2, [[2.7, 3.7]], atol=1e-7)
    np.testing.assert_allclose(w1, expected_1, rtol=1e-14)
    np.testing.assert_allclose(w2, expected_2, rtol=1e-14)
    check_adam_moments(optimizer)


def test_adam_with_norm_loss_two_steps():
    optimizer = Adam(LR, 0.9, 0.999)
    w1, w2 = two_steps(optimizer, NormLoss(ALPHA))
    # w1 = w0 − 0.1·w0·(1 − 1/5) − a = [3 − 0.24, 4 − 0.32] − a ≈ [2.66, 3.58]
    expected_1 = W0 - 0.1 * W0 * (1 - 1 / 5) - ADAM_STEP
    np.testing.assert_allclose(expected_1, [[2.66, 3.58]], atol=1e-7)
    # ‖w1‖ ≈ sqrt(2.66² + 3.58²) = sqrt(7.0756 + 12.8164) = sqrt(19.892) ≈ 4.46004
    norm_1 = math.sqrt(np.sum(expected_1 ** 2))
    assert norm_1 == pytest.approx(4.46004, abs=1e-5)
    # w2 = w1 − 0.1·w1·(1 − 1/‖w1‖) − a ≈ [2.66 − 0.20636, 3.58 − 0.27773] − a ≈ [2.35364, 3.20227]
    expected_2 = expected_1 - 0.1 * expected_1 * (1 - 1 / norm_1) - ADAM_STEP
    np.testing.assert_allclose(expected_2, [[2.35364, 3.20227]], atol=1e-5)
    np.testing.assert_allclose(w1, expected_1, rtol=1e-14)
    np.testing.assert_allclose(w2, expected_2, rtol=1e-13)
    check_adam_moments(optimizer)


# -- biases are never regularized ------------------------------------------------------


@pytest.mark.parametrize("make_optimizer", [lambda: Sgd(0.1), lambda: SgdWithMomentum(0.1, 0.9),
                                            lambda: Adam(0.1)], ids=["Sgd", "SgdWithMomentum", "Adam"])
@pytest.mark.parametrize("regularizer", [L1Regularizer(0.5), L2Regularizer(0.5), NormLoss(0.5)],
                         ids=["L1", "L2", "NormLoss"])
def test_bias_untouched_and_kernel_shrunk(make_optimizer, regularizer):
    layer = FullyConnected(20, 3, rng=np.random.default_rng(8))   # UniformRandom [0, 1)
    optimizer = make_optimizer()
    optimizer.add_regularizer(regularizer)
    layer.optimizer = optimizer
    bias, weights = layer.bias.copy(), layer.weights.copy()
    layer.forward(np.random.default_rng(9).standard_normal((4, 20)))
    layer.backward(np.zeros((4, 3)))   # zero data gradient: only the regularizer moves anything
    np.testing.assert_array_equal(layer.bias, bias)
    # rows of 20 uniform [0, 1) weights have norms ≈ sqrt(20/3) ≈ 2.6 > 1: every regularizer shrinks
    assert np.all(unit_norms(layer.weights) < unit_norms(weights))
    np.testing.assert_allclose(layer.weights, weights - 0.1 * regularizer.calculate_gradient(weights),
                               rtol=1e-14)
    # the layer reports (its own copy of) the regularizer acting on its kernel
    assert type(layer.regularizer) is type(regularizer) and layer.regularizer.alpha == 0.5


# -- the coupled form (the penalty's gradient through the optimizer's state) ----------------

@pytest.mark.parametrize("coupled", [False, True])
def test_sgd_applies_both_forms_identically(coupled):
    # w = 1, g = 0.5, α = 0.1, η = 0.1: decoupled 1 − 0.1·0.5 − 0.1·0.1·1 = 0.94,
    # coupled 1 − 0.1·(0.5 + 0.1·1) = 0.94.
    optimizer = Sgd(0.1)
    optimizer.add_regularizer(L2Regularizer(0.1), coupled=coupled)
    assert optimizer.calculate_update(1.0, 0.5) == pytest.approx(0.94, abs=1e-15)


def test_momentum_coupled_puts_the_penalty_into_the_velocity():
    # η = 0.1, μ = 0.9, α = 0.1 (L2: gradient α·w), w₀ = 1, data gradient 0.5 twice.
    # Coupled:   g₁ = 0.5 + 0.1·1 = 0.6,    v₁ = −0.06,                   w₁ = 0.94
    #            g₂ = 0.5 + 0.1·0.94 = 0.594, v₂ = 0.9·(−0.06) − 0.0594 = −0.1134, w₂ = 0.8266
    # Decoupled: v₁ = −0.05, w₁ = 1 − 0.05 − 0.01 = 0.94
    #            v₂ = −0.045 − 0.05 = −0.095, w₂ = 0.94 − 0.095 − 0.1·0.1·0.94 = 0.8356
    coupled, decoupled = SgdWithMomentum(0.1, 0.9), SgdWithMomentum(0.1, 0.9)
    coupled.add_regularizer(L2Regularizer(0.1), coupled=True)
    decoupled.add_regularizer(L2Regularizer(0.1))
    w_coupled = coupled.calculate_update(coupled.calculate_update(1.0, 0.5), 0.5)
    w_decoupled = decoupled.calculate_update(decoupled.calculate_update(1.0, 0.5), 0.5)
    assert w_coupled == pytest.approx(0.8266, abs=1e-12)
    assert w_decoupled == pytest.approx(0.8356, abs=1e-12)
    assert coupled.velocity == pytest.approx(-0.1134, abs=1e-12)


def test_adam_coupled_rescales_the_penalty_like_any_gradient():
    # No data gradient, w = 2, α = 0.01, η = 0.1. Coupled: Adam's first step has magnitude
    # η·|g|/(|g| + ε) ≈ 0.1 whatever the size of g = α·w = 0.02, so w₁ ≈ 1.9.
    # Decoupled: w₁ = 2 − η·α·w = 2 − 0.1·0.01·2 = 1.998 (Adam's own step is 0 for g = 0).
    coupled, decoupled = Adam(0.1), Adam(0.1)
    coupled.add_regularizer(L2Regularizer(0.01), coupled=True)
    decoupled.add_regularizer(L2Regularizer(0.01))
    assert coupled.calculate_update(2.0, 0.0) == pytest.approx(1.9, abs=1e-6)
    assert decoupled.calculate_update(2.0, 0.0) == pytest.approx(1.998, abs=1e-12)


def test_the_form_survives_the_layers_copies_and_biases_stay_unregularized():
    optimizer = SgdWithMomentum(0.1, 0.9)
    optimizer.add_regularizer(NormLoss(0.1), coupled=True)
    layer = FullyConnected(3, 2)
    layer.optimizer = optimizer
    assert layer.weights_optimizer.coupled_regularization
    assert layer.bias_optimizer.regularizer is None


def test_coupled_must_be_a_bool():
    with pytest.raises(TypeError, match="coupled must be True or False"):
        Sgd(0.1).add_regularizer(L2Regularizer(0.1), coupled="yes")
