"""Exercise code's conventions: parameters assigned and then reshaped through the property,
and the full gradient for confidently wrong predictions (ŷ − y, never swamped by ε)."""
import re

import numpy as np
import pytest

from framework import NeuralNetwork
from framework.initializers import Constant
from framework.losses import CrossEntropyLoss
from layers import BatchNormalization, Conv, FullyConnected, SoftMax
from optimizers import Sgd
from tests.helpers import FixedBatch


@pytest.fixture
def rng():
    return np.random.default_rng(14)


# -- assigning parameters -------------------------------------------------------------------

def test_kernel_assigned_then_expanded_through_the_property(rng):
    # The exercise's two-step assignment: a (3, 3) kernel first, then expand_dims to (1, 3, 3).
    conv = Conv((1, 1), (1, 3, 3), 1)
    conv.weights = (1. / 15.) * np.array([[1, 2, 1], [2, 3, 2], [1, 2, 1]])
    conv.weights = np.expand_dims(conv.weights, 0)
    conv.weights = np.expand_dims(conv.weights, 0)        # (1, 1, 3, 3): the layer's shape
    conv.bias = np.array([0])
    assert conv.weights.dtype == np.float64 and conv.bias.dtype == np.float64
    image = np.zeros((1, 1, 5, 5))
    image[0, 0, 2, 2] = 15.0
    # An impulse of 15 reproduces the kernel (times 15) around it: 1 2 1 / 2 3 2 / 1 2 1.
    output = conv.forward(image)
    np.testing.assert_allclose(output[0, 0, 1:4, 1:4], [[1, 2, 1], [2, 3, 2], [1, 2, 1]])


def test_assignment_converts_to_the_layers_dtype():
    layer = FullyConnected(3, 2, dtype=np.float32)
    layer.weights = [[1, 2, 3], [4, 5, 6]]
    layer.bias = (0, 1)
    assert layer.weights.dtype == np.float32 and layer.bias.dtype == np.float32


def test_assignment_of_something_that_is_not_numbers_names_the_layer():
    with pytest.raises(TypeError, match="FullyConnected.*weights.*array of numbers"):
        FullyConnected(3, 2).weights = [["a", "b", "c"]]


@pytest.mark.parametrize("make_layer, parameter, wrong, input_shape", [
    (lambda: Conv((1, 1), (1, 3, 3), 2), "weights", np.ones((2, 3, 3)), (1, 1, 4, 4)),
    (lambda: Conv((1, 1), (1, 3, 3), 2), "bias", np.ones((3,)), (1, 1, 4, 4)),
    (lambda: FullyConnected(3, 2), "weights", np.ones((3, 2)), (4, 3)),
    (lambda: FullyConnected(3, 2), "bias", np.ones((1, 2)), (4, 3)),
    (lambda: BatchNormalization(3), "weights", np.ones((4,)), (5, 3)),
])
def test_a_parameter_left_at_a_wrong_shape_fails_clearly_at_forward(rng, make_layer, parameter, wrong,
                                                                      input_shape):
    layer = make_layer()
    expected = getattr(layer, parameter).shape
    setattr(layer, parameter, wrong)                        # accepted: it may be reshaped next
    # The error names the layer, the expected shape and the shape that came.
    message = rf"{layer.name}.*{parameter}.*{re.escape(str(expected))}.*got {re.escape(str(wrong.shape))}"
    with pytest.raises(ValueError, match=message):
        layer.forward(rng.standard_normal(input_shape))


def test_saving_a_network_with_a_wrongly_shaped_kernel_is_refused(tmp_path):
    from framework import save

    network = NeuralNetwork(Sgd(0.1), Constant(0.1), Constant(0.0))
    network.append_layer(FullyConnected(3, 2))
    network.layers[0].weights = np.ones((2, 2))
    with pytest.raises(ValueError, match=r"FullyConnected.*\(2, 3\).*got \(2, 2\)"):
        save(tmp_path / "net.npz", network)
    assert not (tmp_path / "net.npz").exists()


# -- confidently wrong predictions ----------------------------------------------------------

def _confidently_wrong(gap, dtype):
    """Two items, four classes: the right class (0) at 0, the three wrong ones at ``gap``."""
    logits = np.array([[0.0, gap, gap, gap], [gap, gap, 0.0, gap]], dtype=dtype)
    labels = np.array([[1, 0, 0, 0], [0, 0, 1, 0]], dtype=dtype)
    return logits, labels


def _softmax(logits):
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("reduction, scale", [("sum", 1.0), ("mean", 0.5)])
def test_layer_by_layer_gap_100_float64_gives_prediction_minus_label(reduction, scale):
    logits, labels = _confidently_wrong(100.0, np.float64)
    softmax, loss = SoftMax(), CrossEntropyLoss(reduction)
    prediction = softmax.forward(logits)
    loss.forward(prediction, labels)
    gradient = softmax.backward(loss.backward(labels))
    # ŷ ≈ [e⁻¹⁰⁰/3, 1/3, 1/3, 1/3] per row, so ŷ − y ≈ [−1, 1/3, 1/3, 1/3] (rearranged for row 2).
    np.testing.assert_allclose(gradient, scale * (_softmax(logits) - labels), rtol=0, atol=1e-9)
    np.testing.assert_allclose(gradient[0], scale * np.array([-1, 1 / 3, 1 / 3, 1 / 3]), atol=1e-9)


def test_the_reported_loss_keeps_its_epsilon():
    logits, labels = _confidently_wrong(1e4, np.float64)
    prediction = SoftMax().forward(logits)                     # the right class underflows to 0
    # −log(0 + eps) = −log(2.22e-16) = 36.04 per item: finite, the classic exercise's value.
    assert CrossEntropyLoss("sum").forward(prediction, labels) == pytest.approx(2 * 36.0437, abs=1e-3)




class _Recorder(FullyConnected):
    """A FullyConnected that keeps the error tensor that reaches it."""

    def backward(self, error_tensor):
        self.received_error = np.array(error_tensor)
        return super().backward(error_tensor)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("gap", [100.0, 1e4])
@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_network_hands_the_last_layer_prediction_minus_label_for_any_gap(dtype, gap, reduction):
    logits, labels = _confidently_wrong(gap, dtype)
    network = NeuralNetwork(Sgd(1e-3), Constant(0.0), Constant(0.0))
    last = _Recorder(4, 4, dtype=dtype)
    network.append_layer(last)
    last.weights = np.eye(4, dtype=dtype)                  # the logits pass through unchanged
    network.append_layer(SoftMax())
    network.loss_layer = CrossEntropyLoss(reduction)
    network.data_layer = FixedBatch(logits, labels)
    network.train(1)
    assert np.isfinite(network.loss[-1])
    expected = _softmax(logits.astype(np.float64)) - labels
    if reduction == "mean":
        expected /= len(labels)
    assert np.all(np.isfinite(last.received_error))
    assert last.received_error.dtype == dtype
    np.testing.assert_allclose(last.received_error, expected, rtol=0, atol=1e-5)
