"""Math tests of BatchNormalization, run against the teaching and the fast layer.

Golden values worked out by hand (forward, reformat, running moments), batch
statistics of the output, float64 central-difference gradient checks for input,
γ and β in the vector and the convolutional case, the backward pass against the
compact form of the exercise's formulas, a deliberately wrong backward that the
checker must reject, regularizers that must not touch γ, β, and a layer that learns.
"""
import copy
import re

import numpy as np
import pytest

from framework.gradient_check import assert_gradients, check_gradients
from framework.initializers import Constant, He
from optimizers import Adam, Sgd
from regularizers import L2Regularizer, NormLoss
from tests.helpers import assert_arguments_untouched, batch_last, layer_fixture

BatchNormalization = layer_fixture("BatchNormalization")

TOLERANCE = 1e-7  # float64 central differences; a correct layer gives ~1e-9


@pytest.fixture
def rng():
    return np.random.default_rng(2718)


def with_random_parameters(layer, rng):
    """γ and β away from 1 and 0, so the gradient checks see their effect."""
    layer.weights = rng.uniform(0.5, 2.0, size=layer.weights.shape)
    layer.bias = rng.standard_normal(layer.bias.shape)
    return layer


# -- construction and initialize ------------------------------------------------------------


def test_gamma_ones_beta_zeros_whatever_the_initializers(BatchNormalization):
    layer = BatchNormalization(4)
    np.testing.assert_array_equal(layer.weights, np.ones(4))
    np.testing.assert_array_equal(layer.bias, np.zeros(4))
    layer.initialize(Constant(0.7), He(np.random.default_rng(0)))
    np.testing.assert_array_equal(layer.weights, np.ones(4))
    np.testing.assert_array_equal(layer.bias, np.zeros(4))


def test_initialize_forgets_the_running_moments(BatchNormalization):
    layer = BatchNormalization(2)
    layer.forward(np.array([[1.0, 2.0], [3.0, 6.0]]))
    assert layer.running_mean is not None
    layer.initialize(Constant(), Constant())
    assert layer.running_mean is None and layer.running_variance is None


def test_shapes(BatchNormalization, rng):
    layer = BatchNormalization(3)
    assert layer.trainable
    assert layer.weights.shape == layer.bias.shape == (3,)
    assert layer.forward(rng.standard_normal((5, 3))).shape == (5, 3)
    assert layer.backward(rng.standard_normal((5, 3))).shape == (5, 3)
    assert layer.gradient_weights.shape == layer.gradient_bias.shape == (3,)
    assert layer.forward(rng.standard_normal((2, 3, 4, 5))).shape == (2, 3, 4, 5)
    assert layer.backward(rng.standard_normal((2, 3, 4, 5))).shape == (2, 3, 4, 5)
    assert layer.gradient_weights.shape == layer.gradient_bias.shape == (3,)


# -- forward in training ----------------------------------------------------------------------


def test_forward_known_values(BatchNormalization):
    input_tensor = np.array([[1.0, 0.0],
                             [3.0, 4.0]])
    # channel 0: μ = (1 + 3)/2 = 2, σ² = ((−1)² + 1²)/2 = 1 -> X̃ = [−1, 1]
    # channel 1: μ = (0 + 4)/2 = 2, σ² = ((−2)² + 2²)/2 = 4 -> X̃ = [−2/2, 2/2] = [−1, 1]
    # (ε = 1e-11 changes these by ~5e-12)
    layer = BatchNormalization(2)
    np.testing.assert_allclose(layer.forward(input_tensor), [[-1.0, -1.0], [1.0, 1.0]], atol=1e-10,
                               err_msg="BatchNormalization.forward (training): (X − μ_B) / sqrt(σ²_B + ε) per "
                                       "channel, σ²_B the biased variance (divided by B)")
    # γ = [2, 3], β = [0.5, −1]: Ŷ = γ X̃ + β = [[−2 + 0.5, −3 − 1], [2 + 0.5, 3 − 1]]
    layer.weights = [2.0, 3.0]
    layer.bias = [0.5, -1.0]
    np.testing.assert_allclose(layer.forward(input_tensor), [[-1.5, -4.0], [2.5, 2.0]], atol=1e-10)


def test_vector_output_has_zero_mean_unit_variance_per_feature(BatchNormalization, rng):
    input_tensor = rng.standard_normal((200, 5)) * [1.0, 3.0, 0.1, 10.0, 2.0] + [0.0, -4.0, 7.0, 1.0, 50.0]
    output = BatchNormalization(5).forward(input_tensor)
    # mean: rounding only (~1e-15); variance: σ²/(σ² + ε) = 1 − ε/σ², at most 1e-11/0.01 = 1e-9 off
    np.testing.assert_allclose(output.mean(axis=0), np.zeros(5), atol=1e-12,
                               err_msg="BatchNormalization.forward: the output's mean over the batch, per "
                                       "feature (subtract each feature's own mean over axis 0)")
    np.testing.assert_allclose(output.var(axis=0), np.ones(5), atol=2e-9,
                               err_msg="BatchNormalization.forward: the output's variance over the batch, "
                                       "per feature")


def test_image_output_has_zero_mean_unit_variance_per_channel(BatchNormalization, rng):
    input_tensor = rng.standard_normal((4, 3, 5, 6)) * np.array([1.0, 5.0, 0.2])[:, None, None] \
        + np.array([3.0, -1.0, 10.0])[:, None, None]
    output = BatchNormalization(3).forward(input_tensor)
    np.testing.assert_allclose(output.mean(axis=(0, 2, 3)), np.zeros(3), atol=1e-12,
                               err_msg="BatchNormalization.forward: the output's mean per channel over "
                                       "batch and positions")
    np.testing.assert_allclose(output.var(axis=(0, 2, 3)), np.ones(3), atol=1e-9,
                               err_msg="BatchNormalization.forward: the output's variance per channel over "
                                       "batch and positions")
    # per channel, not per pixel: single pixels across the batch are not normalized
    assert not np.allclose(output.mean(axis=0), 0.0)


def test_scale_and_shift_set_the_output_moments(BatchNormalization, rng):
    layer = BatchNormalization(2)
    layer.weights = [2.0, 0.5]
    layer.bias = [-1.0, 3.0]
    output = layer.forward(rng.standard_normal((500, 2)) * 7 + 2)
    np.testing.assert_allclose(output.mean(axis=0), [-1.0, 3.0], atol=1e-12)
    np.testing.assert_allclose(output.std(axis=0), [2.0, 0.5], atol=1e-9)


def test_one_dimensional_signals_normalize_per_channel(BatchNormalization, rng):
    output = BatchNormalization(2).forward(rng.standard_normal((3, 2, 7)) * 4 + 1)
    np.testing.assert_allclose(output.mean(axis=(0, 2)), np.zeros(2), atol=1e-12)
    np.testing.assert_allclose(output.var(axis=(0, 2)), np.ones(2), atol=1e-9)


# -- reformat -------------------------------------------------------------------------------


def test_reformat_known_values_and_sums(BatchNormalization):
    layer = BatchNormalization(3)
    image = np.arange(2 * 3 * 2 * 2, dtype=np.float64).reshape(2, 3, 2, 2)
    # image[b, h] holds 4 consecutive numbers starting at 12·b + 4·h:
    #   b=0: h=0 [0..3], h=1 [4..7],   h=2 [8..11]
    #   b=1: h=0 [12..15], h=1 [16..19], h=2 [20..23]
    vectors = layer.reformat(image)
    assert vectors.shape == (2 * 2 * 2, 3)  # (B·M·N, H)
    # row 0 is pixel (0, 0) of batch entry 0 across the channels: [0, 4, 8]
    np.testing.assert_array_equal(vectors[0], [0, 4, 8])
    # row 3 is pixel (1, 1) of batch entry 0: [3, 7, 11]; row 4 is pixel (0, 0) of entry 1
    np.testing.assert_array_equal(vectors[3], [3, 7, 11])
    np.testing.assert_array_equal(vectors[4], [12, 16, 20])
    # column sums: channel 0: (0+1+2+3) + (12+13+14+15) = 6 + 54 = 60
    #              channel 1: (4+5+6+7) + (16+17+18+19) = 22 + 70 = 92
    #              channel 2: (8+9+10+11) + (20+21+22+23) = 38 + 86 = 124
    np.testing.assert_array_equal(vectors.sum(axis=0), [60, 92, 124])
    np.testing.assert_array_equal(layer.reformat(vectors, image.shape), image)


def test_reformat_round_trip(BatchNormalization, rng):
    layer = BatchNormalization(4)
    image = rng.standard_normal((3, 4, 5, 7))
    vectors = layer.reformat(image)
    assert vectors.shape == (3 * 5 * 7, 4)
    np.testing.assert_array_equal(layer.reformat(vectors, image.shape), image)
    # the channel means are the same in both layouts
    np.testing.assert_allclose(vectors.mean(axis=0), image.mean(axis=(0, 2, 3)), rtol=1e-12)


def test_reformat_after_forward_turns_vectors_into_the_forward_input_shape(BatchNormalization, rng):
    # The exercise's use: forward(image), then reformat(image) and reformat(vectors) round trip.
    layer = BatchNormalization(2)
    image = rng.standard_normal((2, 2, 3, 4))
    layer.forward(image)
    np.testing.assert_array_equal(layer.reformat(layer.reformat(image)), image)


def test_reformat_has_no_side_effect(BatchNormalization, rng):
    layer = BatchNormalization(3)
    layer.forward(rng.standard_normal((2, 3, 2, 2)))
    layer.reformat(np.zeros((5, 3, 4, 4)))  # another image's shape must not replace the forward pass's
    np.testing.assert_array_equal(layer.reformat(np.ones((8, 3))), np.ones((2, 3, 2, 2)))


def test_reformat_needs_an_image_shape_and_matching_vectors(BatchNormalization):
    layer = BatchNormalization(3)
    with pytest.raises(RuntimeError, match="BatchNormalization"):
        layer.reformat(np.zeros((8, 3)))
    with pytest.raises(ValueError, match=r"BatchNormalization.*\(8, 3\).*\(9, 3\)"):
        layer.reformat(np.zeros((9, 3)), (2, 3, 2, 2))
    with pytest.raises(ValueError, match=r"BatchNormalization.*\(3,\)"):
        layer.reformat(np.zeros(3))


# -- running moments and the testing phase --------------------------------------------------


def test_testing_uses_running_moments_worked_example(BatchNormalization):
    layer = BatchNormalization(1)
    # batch 1: [1, 3] -> μ₁ = 2, σ²₁ = 1; the running moments start there: μ = 2, σ² = 1
    layer.forward(np.array([[1.0], [3.0]]))
    first = "BatchNormalization: after the first training batch, the running moments are that batch's"
    np.testing.assert_allclose(layer.running_mean, [2.0], err_msg=first)
    np.testing.assert_allclose(layer.running_variance, [1.0], err_msg=first)
    # batch 2: [2, 10] -> μ₂ = 6, σ²₂ = ((−4)² + 4²)/2 = 16
    #   μ  = 0.8·2 + 0.2·6  = 1.6 + 1.2 = 2.8
    #   σ² = 0.8·1 + 0.2·16 = 0.8 + 3.2 = 4   (so sqrt(σ²) = 2)
    layer.forward(np.array([[2.0], [10.0]]))
    moving = "BatchNormalization: running moments ← decay · old + (1 − decay) · batch, decay = 0.8"
    np.testing.assert_allclose(layer.running_mean, [2.8], rtol=1e-15, err_msg=moving)
    np.testing.assert_allclose(layer.running_variance, [4.0], rtol=1e-15, err_msg=moving)
    # testing, γ = 3, β = 0.5: x = [2.8, 4.8, 0.8] -> X̃ = [0, 1, −1] -> Ŷ = [0.5, 3.5, −2.5]
    layer.weights = [3.0]
    layer.bias = [0.5]
    layer.testing_phase = True
    output = layer.forward(np.array([[2.8], [4.8], [0.8]]))
    np.testing.assert_allclose(output, [[0.5], [3.5], [-2.5]], atol=1e-10)
    # testing does not move the running moments, and one row alone gives the same answer
    np.testing.assert_allclose(layer.running_mean, [2.8], rtol=1e-15)
    np.testing.assert_allclose(layer.forward(np.array([[4.8]])), [[3.5]], atol=1e-10)


def test_testing_image_uses_per_channel_running_moments(BatchNormalization, rng):
    layer = BatchNormalization(2)
    training_batch = rng.standard_normal((4, 2, 3, 3)) * np.array([2.0, 0.5])[:, None, None]
    layer.forward(training_batch)
    mean = training_batch.mean(axis=(0, 2, 3))
    variance = training_batch.var(axis=(0, 2, 3))
    layer.testing_phase = True
    test_batch = rng.standard_normal((1, 2, 3, 3))
    expected = (test_batch - mean[:, None, None]) / np.sqrt(variance[:, None, None] + layer.epsilon)
    np.testing.assert_allclose(layer.forward(test_batch), expected, rtol=1e-12)


def test_testing_is_deterministic(BatchNormalization, rng):
    layer = BatchNormalization(3)
    for _ in range(3):
        layer.forward(rng.standard_normal((10, 3)))
    layer.testing_phase = True
    input_tensor = rng.standard_normal((7, 3))
    np.testing.assert_array_equal(layer.forward(input_tensor), layer.forward(input_tensor))


def test_testing_before_any_training_batch_uses_mean_zero_variance_one(BatchNormalization, rng):
    layer = BatchNormalization(3)
    layer.testing_phase = True
    input_tensor = rng.standard_normal((4, 3))
    np.testing.assert_allclose(layer.forward(input_tensor), input_tensor / np.sqrt(1 + 1e-11), rtol=1e-15)


# -- gradients --------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(8, 4), (2, 3, 4, 5), (3, 2, 6)],
                         ids=["vector", "image", "signal"])
@pytest.mark.parametrize("testing", [False, True], ids=["training", "testing"])
def test_gradient_check(BatchNormalization, rng, shape, testing):
    layer = with_random_parameters(BatchNormalization(shape[1]), rng)
    input_tensor = rng.standard_normal(shape) * 2 + 1
    if testing:
        layer.forward(rng.standard_normal(shape) * 2 + 1)  # running moments from another batch
        layer.testing_phase = True
    differences = assert_gradients(layer, input_tensor, tolerance=TOLERANCE)
    assert set(differences) == {"input", "weights", "bias"}


def test_gradient_known_values(BatchNormalization):
    # X = [−1, −1, 1, 1]: μ = 0, σ² = 1, s = sqrt(1 + ε) ≈ 1, X̃ = X; γ = 1, E = [1, 0, 0, 0], B = 4
    layer = BatchNormalization(1)
    layer.forward(np.array([[-1.0], [-1.0], [1.0], [1.0]]))
    previous_error = layer.backward(np.array([[1.0], [0.0], [0.0], [0.0]]))
    # ∂L/∂β = ΣE = 1;  ∂L/∂γ = Σ E X̃ = 1·(−1) = −1
    np.testing.assert_allclose(layer.gradient_bias, [1.0])
    np.testing.assert_allclose(layer.gradient_weights, [-1.0], rtol=1e-10)
    # seed formulas:  ∂L/∂X̃ = E γ = [1, 0, 0, 0]
    #   ∂L/∂σ² = Σ ∂L/∂X̃ (x − μ) (−½) s⁻³ = 1·(−1)·(−½) = 0.5
    #   ∂L/∂μ  = Σ ∂L/∂X̃ (−1/s) + ∂L/∂σ²·Σ −2(x − μ)/B = −1 + 0.5·0 = −1
    #   ∂L/∂X  = ∂L/∂X̃ / s + ∂L/∂σ²·2(X − μ)/B + ∂L/∂μ / B
    #          = [1, 0, 0, 0] + 0.5·2·[−1, −1, 1, 1]/4 − 1/4
    #          = [1, 0, 0, 0] + [−0.25, −0.25, 0.25, 0.25] − 0.25 = [0.5, −0.5, 0, 0]
    np.testing.assert_allclose(previous_error, [[0.5], [-0.5], [0.0], [0.0]], atol=1e-10)


def test_two_samples_give_no_input_gradient(BatchNormalization):
    # With B = 2 the normalized output is [−1, 1] or [1, −1] whatever X is (if x₀ ≠ x₁),
    # so no input change can alter it: compact form with X̃ = [−1, 1], γ = 2, E = [1, 0]:
    # γ/(B s) · (B E − ΣE − X̃ Σ E X̃) = 2/2 · ([2, 0] − 1 − [−1, 1]·(−1)) = [2 − 1 − 1, 0 − 1 + 1] = [0, 0]
    layer = BatchNormalization(1)
    layer.weights = [2.0]
    layer.forward(np.array([[1.0], [3.0]]))
    np.testing.assert_allclose(layer.backward(np.array([[1.0], [0.0]])), [[0.0], [0.0]], atol=1e-10)


def compact_input_gradient(error_tensor, input_tensor, weights, epsilon):
    """∂L/∂X = γ / (B s) · (B E − Σ_b E_b − X̃ ⊙ Σ_b E_b ⊙ X̃), s = sqrt(σ²_B + ε), for vectors (B, H):
    the exercise's formulas for ∂L/∂σ²_B, ∂L/∂μ_B and ∂L/∂X collapsed, using X − μ_B = s X̃ and
    Σ_b (x_b − μ_B) = 0. An independent reference for the layers' backward pass."""
    batch_size = error_tensor.shape[0]
    std = np.sqrt(input_tensor.var(axis=0) + epsilon)
    normalized = (input_tensor - input_tensor.mean(axis=0)) / std
    return weights / (batch_size * std) * (batch_size * error_tensor - error_tensor.sum(axis=0)
                                           - normalized * np.sum(error_tensor * normalized, axis=0))


def as_vectors(image):
    """(B, H, M, N) → (B·M·N, H), written out independently of the layers' reformat."""
    return np.moveaxis(image, 1, -1).reshape(-1, image.shape[1])


@pytest.mark.parametrize("shape", [(50, 6), (4, 3, 5, 7), (3, 2, 9)], ids=["vector", "image", "signal"])
def test_backward_equals_the_compact_form(BatchNormalization, shape, rng):
    layer = with_random_parameters(BatchNormalization(shape[1]), rng)
    input_tensor = rng.standard_normal(shape) * 3 - 1
    error_tensor = rng.standard_normal(shape)
    expected = compact_input_gradient(as_vectors(error_tensor) if len(shape) > 2 else error_tensor,
                                      as_vectors(input_tensor) if len(shape) > 2 else input_tensor,
                                      layer.weights.copy(), layer.epsilon)
    layer.forward(input_tensor)
    previous_error = layer.backward(error_tensor)
    if len(shape) > 2:
        expected = np.moveaxis(expected.reshape((shape[0],) + shape[2:] + (shape[1],)), -1, 1)
    np.testing.assert_allclose(previous_error, expected, rtol=1e-9, atol=1e-12)


def test_any_memory_layout_gives_the_same_results(BatchNormalization, rng):
    layer = with_random_parameters(BatchNormalization(3), rng)
    input_tensor, error_tensor = rng.standard_normal((4, 3, 5, 6)), rng.standard_normal((4, 3, 5, 6))
    output, previous_error = layer.forward(input_tensor), layer.backward(error_tensor)
    for layout in (batch_last, np.asfortranarray):
        np.testing.assert_allclose(layer.forward(layout(input_tensor)), output, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(layer.backward(layout(error_tensor)), previous_error, rtol=1e-12, atol=1e-12)


def test_gradient_check_rejects_a_backward_that_ignores_the_batch_moments(BatchNormalization, rng):
    class WithoutMomentTerms(BatchNormalization):  # deliberately wrong: ∂L/∂X = E γ / s in training
        def forward(self, input_tensor):
            self.std = np.sqrt(np.var(input_tensor, axis=0) + self.epsilon)
            return super().forward(input_tensor)

        def backward(self, error_tensor):
            weights = self.weights.copy()
            super().backward(error_tensor)
            return error_tensor * weights / self.std

    layer = with_random_parameters(WithoutMomentTerms(4), rng)
    differences = check_gradients(layer, rng.standard_normal((8, 4)))
    assert differences["input"] > 0.1
    with pytest.raises(AssertionError, match="input"):
        assert_gradients(layer, rng.standard_normal((8, 4)))


# -- optimizer and regularizers --------------------------------------------------------------


@pytest.mark.parametrize("regularizer", [L2Regularizer(alpha=0.5), NormLoss(alpha=0.5)])
def test_gamma_and_beta_are_never_regularized(BatchNormalization, rng, regularizer):
    optimizer = Sgd(1.0)
    optimizer.add_regularizer(regularizer)
    layer = BatchNormalization(3)
    layer.optimizer = optimizer
    assert optimizer.regularizer is regularizer  # the prototype keeps its regularizer
    assert layer.regularizer is None
    assert layer.regularization_loss() == 0.0
    # a zero error gives zero gradients: only a regularizer could move γ = 1 (L2: 1 − 1·0.5·1 = 0.5)
    layer.forward(rng.standard_normal((5, 3)))
    layer.backward(np.zeros((5, 3)))
    np.testing.assert_array_equal(layer.weights, np.ones(3))
    np.testing.assert_array_equal(layer.bias, np.zeros(3))


def test_backward_updates_gamma_and_beta_with_the_optimizer(BatchNormalization):
    layer = BatchNormalization(1)
    layer.optimizer = Sgd(0.1)
    # X̃ = [−1, 1] (see test_forward_known_values), E = [1, 3]
    layer.forward(np.array([[1.0], [3.0]]))
    layer.backward(np.array([[1.0], [3.0]]))
    # ∂L/∂γ = 1·(−1) + 3·1 = 2 -> γ = 1 − 0.1·2 = 0.8;  ∂L/∂β = 1 + 3 = 4 -> β = 0 − 0.1·4 = −0.4
    np.testing.assert_allclose(layer.weights, [0.8], rtol=1e-10)
    np.testing.assert_allclose(layer.bias, [-0.4], rtol=1e-15)


def test_layer_learns_a_target_scale_and_shift(BatchNormalization, rng):
    # Fit Ŷ to γ* X̃ + β* with the loss L = ½ Σ (Ŷ − target)², whose error is E = Ŷ − target.
    # ∂L/∂γ = Σ_b (γ − γ*) X̃_b² = B (γ − γ*) since X̃ has unit variance, so with η = 0.01 and
    # B = 32 every step shrinks γ − γ* by the factor 1 − 0.32: 100 steps leave 0.68¹⁰⁰ ≈ 1e-17.
    input_tensor = rng.standard_normal((32, 2)) * [3.0, 0.2] + [5.0, -1.0]
    target_gamma, target_beta = np.array([3.0, -0.5]), np.array([2.0, 1.0])
    normalized = (input_tensor - input_tensor.mean(axis=0)) / np.sqrt(input_tensor.var(axis=0) + 1e-11)
    target = target_gamma * normalized + target_beta
    layer = BatchNormalization(2)
    layer.optimizer = Sgd(0.01)
    for _ in range(100):
        layer.backward(layer.forward(input_tensor) - target)
    np.testing.assert_allclose(layer.weights, target_gamma, atol=1e-9)
    np.testing.assert_allclose(layer.bias, target_beta, atol=1e-9)


def test_gamma_and_beta_have_independent_optimizer_state(BatchNormalization):
    layer = BatchNormalization(2)
    layer.optimizer = Adam(0.1)
    layer.forward(np.array([[1.0, 0.0], [3.0, 4.0]]))
    layer.backward(np.array([[1.0, 2.0], [3.0, 4.0]]))
    assert layer.weights_optimizer is not layer.bias_optimizer
    assert not np.array_equal(layer.weights_optimizer.first_moment, layer.bias_optimizer.first_moment)


# -- dtype, inputs untouched, errors -----------------------------------------------------------


@pytest.mark.parametrize("shape", [(6, 3), (2, 3, 4, 4)])
def test_float32_stays_float32(BatchNormalization, rng, shape):
    layer = BatchNormalization(3, dtype=np.float32)
    layer.optimizer = Adam(0.01)
    assert layer.weights.dtype == layer.bias.dtype == np.float32
    for _ in range(2):  # the second batch exercises the moving average
        output = layer.forward(rng.standard_normal(shape).astype(np.float32))
        previous_error = layer.backward(np.ones(shape, dtype=np.float32))
    assert output.dtype == previous_error.dtype == np.float32
    assert layer.gradient_weights.dtype == layer.gradient_bias.dtype == np.float32
    assert layer.running_mean.dtype == layer.running_variance.dtype == np.float32
    assert layer.weights.dtype == layer.bias.dtype == np.float32
    layer.testing_phase = True
    assert layer.forward(rng.standard_normal(shape).astype(np.float32)).dtype == np.float32


def test_float64_input_to_a_float32_layer_is_refused(BatchNormalization):
    with pytest.raises(TypeError, match="BatchNormalization.*float32.*float64"):
        BatchNormalization(3, dtype=np.float32).forward(np.zeros((2, 3)))


def test_inputs_are_not_mutated(BatchNormalization, rng):
    layer = with_random_parameters(BatchNormalization(3), rng)
    layer.optimizer = Sgd(0.1)
    input_tensor = rng.standard_normal((2, 3, 4, 4))
    error_tensor = rng.standard_normal((2, 3, 4, 4))
    assert_arguments_untouched(layer, input_tensor, error_tensor)


def test_channel_count_must_match(BatchNormalization):
    layer = BatchNormalization(3)
    with pytest.raises(ValueError, match=r"BatchNormalization.*3.*\(5, 4\)"):
        layer.forward(np.zeros((5, 4)))
    with pytest.raises(ValueError, match=r"BatchNormalization.*3.*\(5, 2, 4, 4\)"):
        layer.forward(np.zeros((5, 2, 4, 4)))


@pytest.mark.parametrize("shape", [(3,), (2, 3, 4, 4, 4)])
def test_wrong_rank_is_refused(BatchNormalization, shape):
    with pytest.raises(ValueError, match=rf"BatchNormalization.*3.*{re.escape(str(shape))}"):
        BatchNormalization(3).forward(np.zeros(shape))


def test_backward_errors(BatchNormalization):
    layer = BatchNormalization(3)
    with pytest.raises(RuntimeError, match="BatchNormalization"):
        layer.backward(np.zeros((2, 3)))
    layer.forward(np.ones((2, 3, 4, 4)))
    with pytest.raises(ValueError, match=r"BatchNormalization.*\(2, 3, 4, 4\).*\(32, 3\)"):
        layer.backward(np.zeros((32, 3)))


@pytest.mark.parametrize("channels", [0, -2, 2.5, True])
def test_bad_channel_count(BatchNormalization, channels):
    with pytest.raises(ValueError, match="BatchNormalization.*channels"):
        BatchNormalization(channels)


@pytest.mark.parametrize("epsilon", [0.0, -1e-5, float("nan")])
def test_bad_epsilon(BatchNormalization, epsilon):
    with pytest.raises(ValueError, match="BatchNormalization.*epsilon"):
        BatchNormalization(3, epsilon=epsilon)


def test_deep_copy_keeps_running_moments(BatchNormalization, rng):
    layer = BatchNormalization(2)
    layer.forward(rng.standard_normal((4, 2)))
    duplicate = copy.deepcopy(layer)
    np.testing.assert_array_equal(duplicate.running_mean, layer.running_mean)
    assert duplicate.running_mean is not layer.running_mean
