"""Math tests of CrossEntropyLoss (framework.losses): golden values, the gradient, eps, errors.

CrossEntropyLoss has one implementation; its SoftMax partner is computed here in plain
NumPy, so these tests need no layer.
"""
import math

import numpy as np
import pytest

from framework.gradient_check import check_loss_gradient, relative_difference
from framework.losses import CrossEntropyLoss

TOLERANCE = 1e-7

PREDICTION = np.array([[0.5, 0.25, 0.25],
                       [0.1, 0.8, 0.1]])
LABELS = np.array([[1.0, 0.0, 0.0],
                   [0.0, 0.0, 1.0]])


def softmax(scores):
    exponentials = np.exp(scores - scores.max(axis=1, keepdims=True))
    return exponentials / exponentials.sum(axis=1, keepdims=True)


def score_gradient(prediction, error):
    """SoftMax's backward pass applied to ``error`` row by row: ŷ ⊙ (E − Σ_j E_j ŷ_j)."""
    return prediction * (error - np.sum(error * prediction, axis=1, keepdims=True))


def test_sum_known_value():
    # −ln 0.5 − ln 0.1 = ln 2 + ln 10 = ln 20 ≈ 2.995732 (eps = 2.2e-16 changes the 16th digit)
    assert CrossEntropyLoss().forward(PREDICTION, LABELS) == pytest.approx(math.log(20.0), rel=1e-12)


def test_mean_known_value():
    # ln 20 / 2 (two batch items)
    loss = CrossEntropyLoss(reduction="mean").forward(PREDICTION, LABELS)
    assert loss == pytest.approx(math.log(20.0) / 2, rel=1e-12)


@pytest.mark.parametrize("reduction", ["sum", "mean"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_the_loss_is_a_python_float(reduction, dtype):
    # The docstring promises a Python float; np.float64 subclasses float but is not one.
    loss = CrossEntropyLoss(reduction=reduction).forward(PREDICTION.astype(dtype), LABELS.astype(dtype))
    assert type(loss) is float, f"CrossEntropyLoss.forward returned {type(loss).__name__}, expected float"


def test_logits_gradient_known_values():
    # ŷ − y: [0.5 − 1, 0.25, 0.25] = [−0.5, 0.25, 0.25];  [0.1, 0.8, 0.1 − 1] = [0.1, 0.8, −0.9]
    loss = CrossEntropyLoss()
    loss.forward(PREDICTION, LABELS)
    np.testing.assert_allclose(loss.logits_gradient(LABELS), [[-0.5, 0.25, 0.25], [0.1, 0.8, -0.9]], rtol=1e-12)
    mean_loss = CrossEntropyLoss(reduction="mean")
    mean_loss.forward(PREDICTION, LABELS)
    # divided by the batch size 2
    np.testing.assert_allclose(mean_loss.logits_gradient(LABELS), [[-0.25, 0.125, 0.125], [0.05, 0.4, -0.45]],
                               rtol=1e-12)


def test_logits_gradient_is_finite_where_the_prediction_underflowed_and_keeps_float32():
    # ŷ = 0 for the right class (an underflow): ŷ − y = [−1, 1], no division anywhere
    prediction = np.array([[0.0, 1.0]], dtype=np.float32)
    labels = np.array([[1.0, 0.0]], dtype=np.float32)
    loss = CrossEntropyLoss()
    loss.forward(prediction, labels)
    gradient = loss.logits_gradient(labels)
    assert gradient.dtype == np.float32
    np.testing.assert_array_equal(gradient, [[-1.0, 1.0]])


def test_logits_gradient_is_the_score_gradient_through_softmax():
    rng = np.random.default_rng(18)
    prediction = softmax(rng.standard_normal((4, 5)))
    labels = np.eye(5)[[1, 0, 4, 4]]
    loss = CrossEntropyLoss(reduction="mean")
    loss.forward(prediction, labels)
    # SoftMax's backward pass applied to the loss's backward pass gives the same
    np.testing.assert_allclose(loss.logits_gradient(labels), score_gradient(prediction, loss.backward(labels)),
                               atol=1e-12)


def test_backward_known_values():
    loss = CrossEntropyLoss()
    loss.forward(PREDICTION, LABELS)
    # −y / ŷ: [−1/0.5, 0, 0] = [−2, 0, 0];  [0, 0, −1/0.1] = [0, 0, −10]
    np.testing.assert_allclose(loss.backward(LABELS), [[-2.0, 0.0, 0.0], [0.0, 0.0, -10.0]], rtol=1e-12)
    mean_loss = CrossEntropyLoss(reduction="mean")
    mean_loss.forward(PREDICTION, LABELS)
    # divided by the batch size 2
    np.testing.assert_allclose(mean_loss.backward(LABELS), [[-1.0, 0.0, 0.0], [0.0, 0.0, -5.0]], rtol=1e-12)


def test_a_zero_probability_is_finite():
    # log(0 + eps) = log(2.22e-16) ≈ −36.04: large, but finite
    loss = CrossEntropyLoss()
    value = loss.forward(np.array([[0.0, 1.0]]), np.array([[1.0, 0.0]]))
    assert value == pytest.approx(-math.log(np.finfo(np.float64).eps), rel=1e-12)
    assert np.all(np.isfinite(loss.backward(np.array([[1.0, 0.0]]))))


def test_a_confidently_wrong_prediction_gets_a_huge_error_float64():
    # The right class got ŷ = 1e-44: E = −1/1e-44 = −1e44, and through SoftMax
    # ŷ ⊙ (E − Σ E ŷ) = [1e-44 · (−1e44 + 1), 1 · (0 + 1)] ≈ [−1, 1] = ŷ − y.
    # −y/(ŷ + ε) with ε = 2.2e-16 would give E ≈ −4.5e15 and a score gradient of ~4.5e-29:
    # the network would learn nothing from its worst mistake.
    prediction, labels = np.array([[1e-44, 1.0]]), np.array([[1.0, 0.0]])
    loss = CrossEntropyLoss()
    loss.forward(prediction, labels)
    error = loss.backward(labels)
    np.testing.assert_allclose(error, [[-1e44, 0.0]], rtol=1e-12,
                               err_msg="CrossEntropyLoss.backward: E = −y/ŷ exactly, no eps in the division")
    np.testing.assert_allclose(score_gradient(prediction, error), prediction - labels, atol=1e-12)


def test_a_confidently_wrong_prediction_gets_a_huge_error_float32():
    # ŷ = 1e-30 is a normal float32: E = −1e30, and through SoftMax ≈ ŷ − y = [−1, 1].
    # An eps in the division fails whether it is float64's 2.2e-16 (E ≈ −4.5e15) or
    # float32's 1.2e-7 (E ≈ −8.4e6).
    prediction, labels = np.array([[1e-30, 1.0]], dtype=np.float32), np.array([[1.0, 0.0]], dtype=np.float32)
    loss = CrossEntropyLoss()
    loss.forward(prediction, labels)
    error = loss.backward(labels)
    assert error.dtype == np.float32
    np.testing.assert_allclose(error, [[-1e30, 0.0]], rtol=1e-6,
                               err_msg="CrossEntropyLoss.backward: E = −y/ŷ exactly, no eps in the division")
    np.testing.assert_allclose(score_gradient(prediction, error), prediction - labels, atol=1e-6)


def test_a_prediction_below_the_smallest_normal_number_is_read_as_it_float32():
    # ŷ ≈ 1e-44 is subnormal in float32 and 1/ŷ ≈ 1e44 overflows float32 (max ≈ 3.4e38):
    # the docstring's rule reads ŷ as the smallest normal float32, 1.18e-38, so
    # E = −1/1.18e-38 ≈ −8.5e37, finite and still huge (ε = 1.2e-7 would give −8.4e6).
    tiny = np.finfo(np.float32).tiny
    prediction = np.array([[1e-44, 1.0]], dtype=np.float32)
    labels = np.array([[1.0, 0.0]], dtype=np.float32)
    loss = CrossEntropyLoss()
    loss.forward(prediction, labels)
    error = loss.backward(labels)
    assert error.dtype == np.float32
    np.testing.assert_allclose(error, [[-1 / tiny, 0.0]], rtol=1e-6,
                               err_msg="CrossEntropyLoss.backward: ŷ below the smallest normal number "
                                       "is read as that number")


@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_gradient_check(reduction):
    rng = np.random.default_rng(16)
    prediction = rng.uniform(0.1, 1.0, size=(4, 5))
    labels = np.eye(5)[rng.integers(0, 5, size=4)]
    assert check_loss_gradient(CrossEntropyLoss(reduction=reduction), prediction, labels) < TOLERANCE


def test_after_softmax_the_score_gradient_is_prediction_minus_label():
    rng = np.random.default_rng(17)
    scores = rng.standard_normal((4, 5))
    labels = np.eye(5)[[0, 3, 3, 1]]
    prediction = softmax(scores)
    loss = CrossEntropyLoss()
    loss.forward(prediction, labels)
    error = loss.backward(labels)
    # SoftMax's Jacobian applied to −y/ŷ row by row: ŷ ⊙ (E − Σ_j E_j ŷ_j) = ŷ − y
    score_error = prediction * (error - np.sum(error * prediction, axis=1, keepdims=True))
    np.testing.assert_allclose(score_error, prediction - labels, atol=1e-10)

    def composed(values):
        return CrossEntropyLoss().forward(softmax(values), labels)

    step = 1e-6
    numerical = np.zeros_like(scores)
    for index in np.ndindex(scores.shape):
        plus, minus = scores.copy(), scores.copy()
        plus[index] += step
        minus[index] -= step
        numerical[index] = (composed(plus) - composed(minus)) / (2 * step)
    assert relative_difference(score_error, numerical) < TOLERANCE


def test_does_not_mutate_prediction_or_labels():
    prediction, labels = PREDICTION.copy(), LABELS.copy()
    loss = CrossEntropyLoss(reduction="mean")
    loss.forward(prediction, labels)
    loss.backward(labels)
    loss.logits_gradient(labels)
    np.testing.assert_array_equal(prediction, PREDICTION)
    np.testing.assert_array_equal(labels, LABELS)


def test_keeps_float32():
    loss = CrossEntropyLoss()
    assert math.isclose(loss.forward(PREDICTION.astype(np.float32), LABELS.astype(np.float32)), math.log(20.0),
                        rel_tol=1e-6)
    assert loss.backward(LABELS.astype(np.float32)).dtype == np.float32


def test_rejects_an_unknown_reduction():
    with pytest.raises(ValueError, match="CrossEntropyLoss.*reduction"):
        CrossEntropyLoss(reduction="average")


def test_labels_of_wrong_shape_name_the_loss_and_the_shapes():
    with pytest.raises(ValueError, match=r"CrossEntropyLoss.*\(2, 3\).*\(2,\)"):
        CrossEntropyLoss().forward(PREDICTION, np.array([0, 2]))
    loss = CrossEntropyLoss()
    loss.forward(PREDICTION, LABELS)
    with pytest.raises(ValueError, match=r"CrossEntropyLoss.*\(2, 3\).*\(3, 2\)"):
        loss.backward(LABELS.T)


def test_backward_before_forward():
    with pytest.raises(RuntimeError, match="CrossEntropyLoss"):
        CrossEntropyLoss().backward(LABELS)
    with pytest.raises(RuntimeError, match="CrossEntropyLoss.logits_gradient"):
        CrossEntropyLoss().logits_gradient(LABELS)
