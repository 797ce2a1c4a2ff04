"""Exercise-style tests of FullyConnected, the activations, Flatten and CrossEntropyLoss.

Three kinds of evidence (STYLE.md point 8): golden values worked out by hand
(arithmetic in the comments), float64 central-difference gradient checks with
random upstream errors, and a deliberately wrong backward that the checker must
reject, so we know it can fail.
"""
import copy
import math

import numpy as np
import pytest

from framework.gradient_check import (assert_gradients, check_gradients, check_loss_gradient,
                                      relative_difference)
from framework.losses import CrossEntropyLoss
from layers import Flatten, FullyConnected, ReLU, Sigmoid, SoftMax, TanH
from optimizers import Sgd
from tests.helpers import RecordingInitializer

TOLERANCE = 1e-7  # float64 central differences with h = 1e-6 give ~1e-9 for a correct layer


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def away_from_zero(rng, shape, low=0.1, high=2.0):
    """Random values with |x| in [low, high): keeps ReLU's kink out of the central differences."""
    return rng.uniform(low, high, size=shape) * rng.choice([-1.0, 1.0], size=shape)


def hand_made_fully_connected():
    layer = FullyConnected(3, 2)
    layer.weights = np.array([[1.0, 2.0, 3.0],
                              [-1.0, 0.0, 1.0]])
    layer.bias = np.array([0.5, -0.5])
    return layer


# -- FullyConnected ------------------------------------------------------------------


def test_fully_connected_output_shape(rng):
    layer = FullyConnected(7, 4)
    output = layer.forward(rng.standard_normal((5, 7)))
    assert output.shape == (5, 4)
    assert layer.backward(np.ones((5, 4))).shape == (5, 7)
    assert layer.gradient_weights.shape == (4, 7)
    assert layer.gradient_bias.shape == (4,)


def test_fully_connected_forward_known_values():
    layer = hand_made_fully_connected()
    input_tensor = np.array([[1.0, 1.0, 1.0],
                             [2.0, 0.0, -1.0]])
    # y = x Wᵀ + b
    # row 0: [1+2+3 + 0.5, -1+0+1 - 0.5] = [6.5, -0.5]
    # row 1: [2+0-3 + 0.5, -2+0-1 - 0.5] = [-0.5, -3.5]
    expected = np.array([[6.5, -0.5],
                         [-0.5, -3.5]])
    np.testing.assert_allclose(layer.forward(input_tensor), expected, rtol=0, atol=1e-12)


def test_fully_connected_backward_known_values():
    layer = hand_made_fully_connected()
    layer.forward(np.array([[1.0, 1.0, 1.0],
                            [2.0, 0.0, -1.0]]))
    error_tensor = np.array([[1.0, 0.0],
                             [0.0, 2.0]])
    previous_error = layer.backward(error_tensor)
    # ∂L/∂x = E W: row 0 = 1·W[0] = [1, 2, 3]; row 1 = 2·W[1] = [-2, 0, 2]
    np.testing.assert_allclose(previous_error, [[1.0, 2.0, 3.0], [-2.0, 0.0, 2.0]], atol=1e-12)
    # ∂L/∂W = Eᵀ x: row 0 = 1·x[0] = [1, 1, 1]; row 1 = 2·x[1] = [4, 0, -2]
    np.testing.assert_allclose(layer.gradient_weights, [[1.0, 1.0, 1.0], [4.0, 0.0, -2.0]], atol=1e-12)
    # ∂L/∂b = Σ_b E = [1 + 0, 0 + 2]
    np.testing.assert_allclose(layer.gradient_bias, [1.0, 2.0], atol=1e-12)


def test_fully_connected_backward_with_optimizer_updates_after_computing_the_error():
    layer = hand_made_fully_connected()
    layer.optimizer = Sgd(0.5)
    layer.forward(np.array([[1.0, 1.0, 1.0],
                            [2.0, 0.0, -1.0]]))
    previous_error = layer.backward(np.array([[1.0, 0.0], [0.0, 2.0]]))
    # The error uses the weights of the forward pass: E W_old = [[1, 2, 3], [-2, 0, 2]].
    np.testing.assert_allclose(previous_error, [[1.0, 2.0, 3.0], [-2.0, 0.0, 2.0]], atol=1e-12)
    # W_new = W − 0.5·∂L/∂W = [[1-0.5, 2-0.5, 3-0.5], [-1-2, 0-0, 1+1]]
    np.testing.assert_allclose(layer.weights, [[0.5, 1.5, 2.5], [-3.0, 0.0, 2.0]], atol=1e-12)
    # b_new = [0.5 − 0.5·1, −0.5 − 0.5·2] = [0, −1.5]
    np.testing.assert_allclose(layer.bias, [0.0, -1.5], atol=1e-12)


def test_fully_connected_gradient_check(rng):
    layer = FullyConnected(5, 3, rng=rng)
    differences = assert_gradients(layer, rng.standard_normal((4, 5)), tolerance=TOLERANCE)
    assert set(differences) == {"input", "weights", "bias"}


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


def test_fully_connected_weights_are_out_by_in_and_usable_at_once(rng):
    layer = FullyConnected(6, 2)
    assert layer.weights.shape == (2, 6)
    assert layer.bias.shape == (2,)
    # UniformRandom [0, 1) until a network re-initializes them.
    assert np.all((layer.weights >= 0) & (layer.weights < 1))
    assert np.all((layer.bias >= 0) & (layer.bias < 1))
    assert layer.trainable
    output = layer.forward(rng.standard_normal((3, 6)))
    assert output.shape == (3, 2) and np.all(np.isfinite(output))


def test_fully_connected_initialize_passes_fans_to_the_initializers():
    layer = FullyConnected(6, 2)
    weights_initializer = RecordingInitializer(0.25)
    bias_initializer = RecordingInitializer(-1.0)
    layer.initialize(weights_initializer, bias_initializer)
    assert weights_initializer.calls == [((2, 6), 6, 2)]  # (out, in), fan_in = in, fan_out = out
    assert bias_initializer.calls == [((2,), 6, 2)]
    np.testing.assert_array_equal(layer.weights, np.full((2, 6), 0.25))
    np.testing.assert_array_equal(layer.bias, np.full(2, -1.0))


# -- activations and Flatten: known values ------------------------------------------


def test_relu_known_values():
    layer = ReLU()
    output = layer.forward(np.array([[-2.0, -0.5, 0.5, 3.0]]))
    np.testing.assert_array_equal(output, [[0.0, 0.0, 0.5, 3.0]])
    # the error passes only where x > 0
    np.testing.assert_array_equal(layer.backward(np.array([[1.0, 2.0, 3.0, 4.0]])), [[0.0, 0.0, 3.0, 4.0]])


def test_tanh_known_values():
    layer = TanH()
    log2 = math.log(2.0)
    # tanh(ln 2) = (2 − 1/2) / (2 + 1/2) = 1.5 / 2.5 = 0.6, tanh is odd, tanh(0) = 0
    output = layer.forward(np.array([[0.0, log2, -log2]]))
    np.testing.assert_allclose(output, [[0.0, 0.6, -0.6]], rtol=0, atol=1e-12)
    # derivative 1 − y²: [1, 1 − 0.36, 1 − 0.36] = [1, 0.64, 0.64]; times E = [1, 2, 3]
    np.testing.assert_allclose(layer.backward(np.array([[1.0, 2.0, 3.0]])), [[1.0, 1.28, 1.92]], atol=1e-12)


def test_sigmoid_known_values():
    layer = Sigmoid()
    log3 = math.log(3.0)
    # σ(0) = 1/2, σ(ln 3) = 1/(1 + 1/3) = 3/4, σ(−ln 3) = 1/(1 + 3) = 1/4
    output = layer.forward(np.array([[0.0, log3, -log3]]))
    np.testing.assert_allclose(output, [[0.5, 0.75, 0.25]], rtol=0, atol=1e-12)
    # derivative y(1 − y): [1/4, 3/16, 3/16]; times E = [4, 1, 2] → [1, 0.1875, 0.375]
    np.testing.assert_allclose(layer.backward(np.array([[4.0, 1.0, 2.0]])), [[1.0, 0.1875, 0.375]],
                               atol=1e-12)


def test_sigmoid_saturates_without_overflow():
    with np.errstate(all="raise"):
        output = Sigmoid().forward(np.array([[-1e4, 1e4]]))
    np.testing.assert_allclose(output, [[0.0, 1.0]], atol=1e-12)


def test_softmax_known_values():
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


def test_softmax_is_stable_for_huge_inputs():
    layer = SoftMax()
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        output = layer.forward(np.array([[1e4, 0.0, -1e4],
                                         [1e4, 1e4, 1e4],
                                         [1e4, 1e4 - math.log(2.0), -1e4]]))
    assert np.all(np.isfinite(output))
    # row 2: exp([0, −ln 2, −2e4]) relative to the max = [1, 1/2, 0] → [2/3, 1/3, 0]
    np.testing.assert_allclose(output, [[1.0, 0.0, 0.0],
                                        [1 / 3, 1 / 3, 1 / 3],
                                        [2 / 3, 1 / 3, 0.0]], rtol=0, atol=1e-10)
    np.testing.assert_allclose(output.sum(axis=1), 1.0, atol=1e-12)
    assert np.all(np.isfinite(layer.backward(np.ones((3, 3)))))


def test_flatten_known_values():
    layer = Flatten()
    input_tensor = np.arange(2 * 3 * 4 * 5, dtype=np.float64).reshape(2, 3, 4, 5)
    output = layer.forward(input_tensor)
    assert output.shape == (2, 60)
    # item 1 starts at 1·60 and runs through 119 in C order
    np.testing.assert_array_equal(output[1], np.arange(60, 120))
    restored = layer.backward(output * 2)
    assert restored.shape == (2, 3, 4, 5)
    np.testing.assert_array_equal(restored, input_tensor * 2)


@pytest.mark.parametrize("make_layer, shape", [(ReLU, (4, 6)), (TanH, (4, 6)), (Sigmoid, (4, 6)),
                                               (SoftMax, (4, 6)), (Flatten, (2, 3, 4, 5))])
def test_activations_keep_the_shape(make_layer, shape, rng):
    layer = make_layer()
    output = layer.forward(away_from_zero(rng, shape))
    expected = (shape[0], int(np.prod(shape[1:]))) if make_layer is Flatten else shape
    assert output.shape == expected
    assert layer.backward(np.ones(expected)).shape == shape


# -- gradient checks -----------------------------------------------------------------


@pytest.mark.parametrize("make_layer, shape", [(ReLU, (4, 6)), (TanH, (4, 6)), (Sigmoid, (4, 6)),
                                               (SoftMax, (4, 6)), (Flatten, (2, 3, 2, 2))])
def test_activation_gradient_check(make_layer, shape, rng):
    differences = assert_gradients(make_layer(), away_from_zero(rng, shape), tolerance=TOLERANCE)
    assert list(differences) == ["input"]


def test_softmax_gradient_check_with_large_scores(rng):
    # shifted by 1e3: the stable formula must still give the right Jacobian
    assert_gradients(SoftMax(), 1e3 + rng.standard_normal((3, 5)), tolerance=1e-6)


# -- CrossEntropyLoss ----------------------------------------------------------------

PREDICTION = np.array([[0.5, 0.25, 0.25],
                       [0.1, 0.8, 0.1]])
LABELS = np.array([[1.0, 0.0, 0.0],
                   [0.0, 0.0, 1.0]])


def test_cross_entropy_sum_known_value():
    # −ln 0.5 − ln 0.1 = ln 2 + ln 10 = ln 20 ≈ 2.995732 (eps = 2.2e-16 changes the 16th digit)
    assert CrossEntropyLoss().forward(PREDICTION, LABELS) == pytest.approx(math.log(20.0), rel=1e-12)


def test_cross_entropy_mean_known_value():
    # ln 20 / 2 (two batch items)
    loss = CrossEntropyLoss(reduction="mean").forward(PREDICTION, LABELS)
    assert loss == pytest.approx(math.log(20.0) / 2, rel=1e-12)


def test_cross_entropy_backward_known_values():
    loss = CrossEntropyLoss()
    loss.forward(PREDICTION, LABELS)
    # −y / ŷ: [−1/0.5, 0, 0] = [−2, 0, 0];  [0, 0, −1/0.1] = [0, 0, −10]
    np.testing.assert_allclose(loss.backward(LABELS), [[-2.0, 0.0, 0.0], [0.0, 0.0, -10.0]], rtol=1e-12)
    mean_loss = CrossEntropyLoss(reduction="mean")
    mean_loss.forward(PREDICTION, LABELS)
    # divided by the batch size 2
    np.testing.assert_allclose(mean_loss.backward(LABELS), [[-1.0, 0.0, 0.0], [0.0, 0.0, -5.0]], rtol=1e-12)


def test_cross_entropy_of_a_zero_probability_is_finite():
    # log(0 + eps) = log(2.22e-16) ≈ −36.04: large, but finite
    loss = CrossEntropyLoss()
    value = loss.forward(np.array([[0.0, 1.0]]), np.array([[1.0, 0.0]]))
    assert value == pytest.approx(-math.log(np.finfo(np.float64).eps), rel=1e-12)
    assert np.all(np.isfinite(loss.backward(np.array([[1.0, 0.0]]))))


@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_cross_entropy_gradient_check(reduction, rng):
    prediction = rng.uniform(0.1, 1.0, size=(4, 5))
    labels = np.eye(5)[rng.integers(0, 5, size=4)]
    assert check_loss_gradient(CrossEntropyLoss(reduction=reduction), prediction, labels) < TOLERANCE


def test_cross_entropy_rejects_an_unknown_reduction():
    with pytest.raises(ValueError, match="CrossEntropyLoss.*reduction"):
        CrossEntropyLoss(reduction="average")


def test_softmax_with_cross_entropy_gives_prediction_minus_label(rng):
    scores = rng.standard_normal((4, 5))
    labels = np.eye(5)[[0, 3, 3, 1]]
    softmax, loss = SoftMax(), CrossEntropyLoss()
    prediction = softmax.forward(scores)
    loss.forward(prediction, labels)
    score_error = softmax.backward(loss.backward(labels))
    # the classic combined derivative of sum-reduced cross entropy after SoftMax: ŷ − y
    np.testing.assert_allclose(score_error, prediction - labels, atol=1e-10)

    # and the same against central differences of the composed loss
    def composed(values):
        return CrossEntropyLoss().forward(SoftMax().forward(values), labels)

    step = 1e-6
    numerical = np.zeros_like(scores)
    for index in np.ndindex(scores.shape):
        plus, minus = scores.copy(), scores.copy()
        plus[index] += step
        minus[index] -= step
        numerical[index] = (composed(plus) - composed(minus)) / (2 * step)
    assert relative_difference(score_error, numerical) < TOLERANCE


# -- the checker can fail ------------------------------------------------------------


class FullyConnectedWithWrongInputError(FullyConnected):
    """Bug: forgets the weights in ∂L/∂x (returns E summed instead of E W)."""

    def backward(self, error_tensor):
        super().backward(error_tensor)
        return np.repeat(error_tensor.sum(axis=1, keepdims=True), self.input_size, axis=1)


class FullyConnectedWithWrongWeightsGradient(FullyConnected):
    """Bug: ∂L/∂W computed from the input without the error's sign (|E|ᵀ x)."""

    def backward(self, error_tensor):
        previous_error = super().backward(error_tensor)
        self.gradient_weights = np.abs(error_tensor).T @ self.input_tensor
        return previous_error


class FullyConnectedWithWrongBiasGradient(FullyConnected):
    """Bug: ∂L/∂b averaged over the batch instead of summed."""

    def backward(self, error_tensor):
        previous_error = super().backward(error_tensor)
        self.gradient_bias = error_tensor.mean(axis=0)
        return previous_error


class ReLUPassingEverything(ReLU):
    """Bug: the error passes also where x < 0."""

    def backward(self, error_tensor):
        super().backward(error_tensor)
        return np.array(error_tensor, copy=True)


@pytest.mark.parametrize("layer_class, broken", [(FullyConnectedWithWrongInputError, "input"),
                                                 (FullyConnectedWithWrongWeightsGradient, "weights"),
                                                 (FullyConnectedWithWrongBiasGradient, "bias")])
def test_gradient_checker_reports_a_wrong_backward(layer_class, broken, rng):
    layer = layer_class(5, 3, rng=rng)
    input_tensor = rng.standard_normal((4, 5))
    differences = check_gradients(layer, input_tensor)
    assert differences[broken] > 1e-2, differences
    healthy = {name: value for name, value in differences.items() if name != broken}
    assert all(value < TOLERANCE for value in healthy.values()), differences
    with pytest.raises(AssertionError, match=f"gradient check failed.*{broken}"):
        assert_gradients(layer, input_tensor, tolerance=TOLERANCE)


def test_gradient_checker_reports_a_wrong_activation(rng):
    with pytest.raises(AssertionError, match="ReLUPassingEverything.*input"):
        assert_gradients(ReLUPassingEverything(), away_from_zero(rng, (4, 6)), tolerance=TOLERANCE)


def test_gradient_checker_leaves_the_layer_and_its_optimizer_alone(rng):
    layer = FullyConnected(4, 3, rng=rng)
    layer.optimizer = Sgd(0.1)
    weights, bias = layer.weights.copy(), layer.bias.copy()
    assert_gradients(layer, rng.standard_normal((2, 4)), tolerance=TOLERANCE)
    np.testing.assert_array_equal(layer.weights, weights)
    np.testing.assert_array_equal(layer.bias, bias)
    assert layer.optimizer is not None


# -- no layer mutates its error or its cached input ----------------------------------

ALL_LAYERS = [lambda: FullyConnected(6, 6, rng=np.random.default_rng(0)), ReLU, TanH, Sigmoid, SoftMax,
              Flatten]


@pytest.mark.parametrize("make_layer", ALL_LAYERS, ids=["FullyConnected", "ReLU", "TanH", "Sigmoid",
                                                        "SoftMax", "Flatten"])
def test_no_layer_mutates_the_error_or_its_input(make_layer, rng):
    layer = make_layer()
    if layer.trainable:
        layer.optimizer = Sgd(0.1)  # the parameter update must not touch them either
    input_tensor = away_from_zero(rng, (3, 6))
    input_copy = input_tensor.copy()
    output = layer.forward(input_tensor)
    cached = {name: np.array(value, copy=True) for name, value in vars(layer).items()
              if isinstance(value, np.ndarray) and not name.startswith("_")}
    error_tensor = rng.standard_normal(output.shape)
    error_copy = error_tensor.copy()
    layer.backward(error_tensor)
    np.testing.assert_array_equal(error_tensor, error_copy)
    np.testing.assert_array_equal(input_tensor, input_copy)
    for name in cached:
        if name in ("gradient_weights", "gradient_bias"):
            continue
        np.testing.assert_array_equal(getattr(layer, name), cached[name], err_msg=f"cache {name} changed")


def test_cross_entropy_does_not_mutate_prediction_or_labels():
    prediction, labels = PREDICTION.copy(), LABELS.copy()
    loss = CrossEntropyLoss(reduction="mean")
    loss.forward(prediction, labels)
    loss.backward(labels)
    np.testing.assert_array_equal(prediction, PREDICTION)
    np.testing.assert_array_equal(labels, LABELS)


# -- shape validation: the error names the layer and the shapes ----------------------


def test_wrong_feature_count_names_layer_and_shapes():
    with pytest.raises(ValueError, match=r"FullyConnected.*\(batch, 3\).*\(4, 5\)"):
        FullyConnected(3, 2).forward(np.ones((4, 5)))


def test_fully_connected_wrong_error_shape_names_layer_and_shapes():
    layer = FullyConnected(3, 2)
    layer.forward(np.ones((4, 3)))
    with pytest.raises(ValueError, match=r"FullyConnected\.backward.*\(4, 2\).*\(4, 3\)"):
        layer.backward(np.ones((4, 3)))


@pytest.mark.parametrize("make_layer", [lambda: FullyConnected(3, 2), ReLU, TanH, Sigmoid, SoftMax, Flatten],
                         ids=["FullyConnected", "ReLU", "TanH", "Sigmoid", "SoftMax", "Flatten"])
def test_backward_before_forward_names_the_layer(make_layer):
    layer = make_layer()
    with pytest.raises(RuntimeError, match=f"{type(layer).__name__}.backward called before forward"):
        layer.backward(np.ones((4, 2)))


@pytest.mark.parametrize("make_layer", [ReLU, TanH, Sigmoid, SoftMax])
def test_activation_wrong_error_shape_names_layer_and_shapes(make_layer):
    layer = make_layer()
    layer.forward(np.ones((2, 3)))
    with pytest.raises(ValueError, match=rf"{make_layer.__name__}\.backward.*\(2, 3\).*\(3, 2\)"):
        layer.backward(np.ones((3, 2)))


def test_softmax_rejects_a_vector():
    with pytest.raises(ValueError, match=r"SoftMax.*\(batch, classes\).*\(3,\)"):
        SoftMax().forward(np.ones(3))


def test_cross_entropy_labels_of_wrong_shape_name_the_layer_and_shapes():
    with pytest.raises(ValueError, match=r"CrossEntropyLoss\.forward.*\(2, 3\).*\(2,\)"):
        CrossEntropyLoss().forward(PREDICTION, np.array([0, 2]))
    loss = CrossEntropyLoss()
    loss.forward(PREDICTION, LABELS)
    with pytest.raises(ValueError, match=r"CrossEntropyLoss\.backward.*\(2, 3\).*\(3, 2\)"):
        loss.backward(LABELS.T)


def test_cross_entropy_backward_before_forward():
    with pytest.raises(RuntimeError, match="CrossEntropyLoss.backward called before forward"):
        CrossEntropyLoss().backward(LABELS)


def test_fully_connected_rejects_bad_sizes():
    with pytest.raises(ValueError, match="FullyConnected: input_size"):
        FullyConnected(0, 3)
    with pytest.raises(ValueError, match="FullyConnected: output_size"):
        FullyConnected(3, 2.5)


# -- dtype -----------------------------------------------------------------------------


@pytest.mark.parametrize("make_layer, shape", [
    (lambda: FullyConnected(6, 4, dtype=np.float32), (3, 6)),
    (ReLU, (3, 6)), (TanH, (3, 6)), (Sigmoid, (3, 6)), (SoftMax, (3, 6)), (Flatten, (3, 2, 3)),
], ids=["FullyConnected", "ReLU", "TanH", "Sigmoid", "SoftMax", "Flatten"])
def test_float32_in_float32_out(make_layer, shape, rng):
    layer = make_layer()
    if layer.trainable:
        layer.optimizer = Sgd(0.01)
    output = layer.forward(away_from_zero(rng, shape).astype(np.float32))
    assert output.dtype == np.float32
    previous_error = layer.backward(rng.standard_normal(output.shape).astype(np.float32))
    assert previous_error.dtype == np.float32
    if layer.trainable:
        for name in ("weights", "bias", "gradient_weights", "gradient_bias"):
            assert getattr(layer, name).dtype == np.float32, name


def test_cross_entropy_keeps_float32():
    loss = CrossEntropyLoss()
    prediction = PREDICTION.astype(np.float32)
    assert math.isclose(loss.forward(prediction, LABELS.astype(np.float32)), math.log(20.0), rel_tol=1e-6)
    assert loss.backward(LABELS.astype(np.float32)).dtype == np.float32


def test_float64_into_float32_fully_connected_is_a_clear_type_error():
    layer = FullyConnected(3, 2, dtype=np.float32)
    with pytest.raises(TypeError, match="FullyConnected.*float32.*float64"):
        layer.forward(np.ones((2, 3), dtype=np.float64))


def test_integer_input_is_converted_to_the_layer_dtype():
    layer = FullyConnected(3, 2, dtype=np.float32)
    assert layer.forward(np.ones((2, 3), dtype=np.int64)).dtype == np.float32


def test_float32_fully_connected_passes_a_loose_gradient_check(rng):
    # float32 has ~7 digits; with h = 3e-3 the check agrees to ~1e-3, not 1e-7
    layer = FullyConnected(4, 3, dtype=np.float32, rng=rng)
    differences = check_gradients(layer, rng.standard_normal((2, 4)).astype(np.float32))
    assert max(differences.values()) < 1e-2, differences


def test_deep_copied_layer_is_independent(rng):
    layer = FullyConnected(3, 2, rng=rng)
    twin = copy.deepcopy(layer)
    twin.weights = np.zeros((2, 3))
    assert np.any(layer.weights != 0)
