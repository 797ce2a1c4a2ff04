"""NeuralNetwork: building, optimizer copies, phases, the loss (data + regularization),
Norm Loss's pull to unit norm, and a small network trained on real MNIST."""
import copy
import math

import numpy as np
import pytest

from framework import NeuralNetwork
from layers.base import BaseLayer
from framework.initializers import Constant, He
from framework.losses import CrossEntropyLoss
from layers import FullyConnected, ReLU, SoftMax
from optimizers import Adam, Optimizer, Sgd, SgdWithMomentum
from regularizers import L1Regularizer, L2Regularizer, NormLoss, unit_norms
from tests.helpers import FixedBatch, RecordingInitializer, ShuffledBatches

# -- helpers ---------------------------------------------------------------------------






class PhaseRecorder(BaseLayer):
    """Identity layer that remembers the testing_phase it saw in each forward pass."""

    def __init__(self):
        super().__init__()
        self.seen = []

    def forward(self, input_tensor):
        self.seen.append(self.testing_phase)
        return input_tensor

    def backward(self, error_tensor):
        return error_tensor


def small_batch(rng, batch=6, features=4, classes=3):
    labels = np.eye(classes)[rng.integers(0, classes, size=batch)]
    return rng.standard_normal((batch, features)), labels


def small_network(optimizer, rng, weights_initializer=None):
    """FullyConnected 4→5, ReLU, FullyConnected 5→3, SoftMax, CrossEntropyLoss, on a fixed batch."""
    network = NeuralNetwork(optimizer, weights_initializer or He(rng=rng), Constant(0.1))
    network.data_layer = FixedBatch(*small_batch(rng))
    network.loss_layer = CrossEntropyLoss()
    for layer in (FullyConnected(4, 5), ReLU(), FullyConnected(5, 3), SoftMax()):
        network.append_layer(layer)
    return network


def optimizers_in(layer):
    return [value for value in vars(layer).values() if isinstance(value, Optimizer)]


# -- building ----------------------------------------------------------------------------


def test_append_layer_initializes_trainable_layers_with_the_network_initializers():
    weights_initializer, bias_initializer = RecordingInitializer(0.5), RecordingInitializer(-0.25)
    network = NeuralNetwork(Sgd(0.1), weights_initializer, bias_initializer)
    layers = [FullyConnected(4, 3), ReLU(), FullyConnected(3, 2), SoftMax()]
    for layer in layers:
        network.append_layer(layer)
    assert network.layers == layers
    # one call per trainable layer, in order, with the kernel shape (out, in), fan_in, fan_out
    assert weights_initializer.calls == [((3, 4), 4, 3), ((2, 3), 3, 2)]
    assert bias_initializer.calls == [((3,), 4, 3), ((2,), 3, 2)]
    for layer in (layers[0], layers[2]):
        assert np.all(layer.weights == 0.5)
        assert np.all(layer.bias == -0.25)


def test_every_trainable_layer_gets_its_own_optimizer_copies():
    prototype = Adam(0.01)
    network = small_network(prototype, np.random.default_rng(0))
    first, second = network.layers[0], network.layers[2]
    assert isinstance(first.optimizer, Adam)
    assert first.optimizer is not prototype and second.optimizer is not prototype
    assert first.optimizer is not second.optimizer
    # weights and bias of one layer hold two different optimizer objects
    for layer in (first, second):
        held = optimizers_in(layer)
        assert len(held) == 2 and held[0] is not held[1]
    network.forward()
    network.backward()
    # one update each: a shared Adam would have counted 2 (weights and bias) or 4 (both layers)
    assert first.optimizer.step == 1 and second.optimizer.step == 1
    assert first.optimizer.first_moment.shape == first.weights.shape   # not overwritten by the bias
    assert second.optimizer.first_moment.shape == second.weights.shape
    assert prototype.step == 0 and prototype.first_moment is None


def test_the_network_hands_the_regularizer_to_kernels_only():
    optimizer = Sgd(0.1)
    optimizer.add_regularizer(L2Regularizer(0.5))
    network = small_network(optimizer, np.random.default_rng(1))
    layer = network.layers[0]
    assert isinstance(layer.regularizer, L2Regularizer)
    bias, weights = layer.bias.copy(), layer.weights.copy()
    layer.forward(np.ones((2, 4)))
    layer.backward(np.zeros((2, 5)))
    np.testing.assert_array_equal(layer.bias, bias)
    np.testing.assert_allclose(layer.weights, (1 - 0.1 * 0.5) * weights, rtol=1e-15)  # shrinkage only


# -- phase -------------------------------------------------------------------------------


def test_train_and_test_set_the_phase_on_every_layer():
    rng = np.random.default_rng(2)
    network = small_network(Sgd(0.01), rng)
    recorder = PhaseRecorder()
    network.layers.insert(1, recorder)

    network.test(rng.standard_normal((2, 4)))
    assert network.phase == "test"
    assert all(layer.testing_phase for layer in network.layers)
    assert recorder.seen == [True]

    network.train(2)
    assert network.phase == "train"
    assert not any(layer.testing_phase for layer in network.layers)
    assert recorder.seen == [True, False, False]


def test_phase_property_sets_every_layer_and_new_layers():
    network = small_network(Sgd(0.01), np.random.default_rng(3))
    network.phase = "test"
    assert all(layer.testing_phase for layer in network.layers)
    late = ReLU()
    network.append_layer(late)
    assert late.testing_phase
    network.phase = "train"
    assert network.phase == "train"
    assert not any(layer.testing_phase for layer in network.layers)
    with pytest.raises(ValueError, match="NeuralNetwork.phase.*'validate'"):
        network.phase = "validate"


def test_test_returns_probabilities_of_the_input():
    rng = np.random.default_rng(4)
    network = small_network(Sgd(0.01), rng)
    output = network.test(rng.standard_normal((7, 4)))
    assert output.shape == (7, 3)
    np.testing.assert_allclose(output.sum(axis=1), 1.0, atol=1e-12)


# -- the loss --------------------------------------------------------------------------


def test_loss_history_has_one_entry_per_iteration_and_falls():
    network = small_network(Sgd(0.05), np.random.default_rng(5))
    assert network.loss == []
    network.train(3)
    network.train(27)
    assert len(network.loss) == 30
    assert all(isinstance(value, float) and math.isfinite(value) for value in network.loss)
    assert network.loss[-1] < network.loss[0]


def kernel_penalty(regularizer_class, alpha, weights):
    """The penalties L2, L1 and Norm Loss written out independently of regularizers/."""
    if regularizer_class is L2Regularizer:
        return alpha * np.sum(weights ** 2)
    if regularizer_class is L1Regularizer:
        return alpha * np.sum(np.abs(weights))
    rows = weights.reshape(weights.shape[0], -1)
    return alpha * np.sum((1 - np.sqrt(np.sum(rows ** 2, axis=1))) ** 2)


@pytest.mark.parametrize("regularizer_class", [L1Regularizer, L2Regularizer, NormLoss])
def test_loss_rises_by_exactly_the_regularization_term(regularizer_class):
    alpha = 0.3
    plain = small_network(Sgd(0.01), np.random.default_rng(6))
    regularized_optimizer = Sgd(0.01)
    regularized_optimizer.add_regularizer(regularizer_class(alpha))
    regularized = small_network(regularized_optimizer, np.random.default_rng(6))  # same weights, same batch
    for plain_layer, regularized_layer in zip(plain.layers, regularized.layers):
        if plain_layer.trainable:
            np.testing.assert_array_equal(plain_layer.weights, regularized_layer.weights)

    data_loss = plain.forward()
    total_loss = regularized.forward()
    # the kernels of both FullyConnected layers count; their biases (0.1 each) do not
    term = sum(kernel_penalty(regularizer_class, alpha, layer.weights)
               for layer in regularized.layers if layer.trainable)
    assert term > 0.1
    assert total_loss - data_loss == pytest.approx(term, rel=1e-12)

    # train records the same total (forward changes no weight)
    regularized.train(1)
    assert regularized.loss[0] == pytest.approx(total_loss, rel=1e-15)


def test_no_regularizer_adds_nothing():
    network = small_network(Sgd(0.01), np.random.default_rng(7))
    assert network.regularization_loss() == 0.0
    data_loss = CrossEntropyLoss().forward(network.test(network.data_layer.input_tensor),
                                           network.data_layer.label_tensor)
    network.phase = "train"
    assert network.forward() == pytest.approx(data_loss, rel=1e-15)


# -- Norm Loss alone steers every unit to norm 1 ---------------------------------------


def kernel_with_unit_norms(shape, norms, rng):
    weights = rng.standard_normal(shape)
    scale = np.asarray(norms) / unit_norms(weights)
    return weights * scale.reshape((-1,) + (1,) * (len(shape) - 1))


@pytest.mark.parametrize("shape, norms", [
    ((6, 8), [0.05, 0.3, 0.9, 1.1, 2.0, 7.0]),          # FullyConnected (out, in)
    ((5, 3, 3, 3), [0.1, 0.6, 1.0, 1.8, 4.0]),          # Conv (K, c, m, n)
], ids=["fully_connected", "conv"])
def test_minimizing_norm_loss_alone_drives_every_unit_to_norm_one(shape, norms):
    weights = kernel_with_unit_norms(shape, norms, np.random.default_rng(8))
    directions = weights.reshape(shape[0], -1) / np.reshape(norms, (-1, 1))
    optimizer = Sgd(0.1)
    optimizer.add_regularizer(NormLoss(1.0))
    # Each step maps a unit's norm n to n − 0.1·2·(n − 1), i.e. (n − 1) → 0.8·(n − 1):
    # after 100 steps the distance to 1 has shrunk by 0.8^100 ≈ 2e-10.
    for _ in range(100):
        weights = optimizer.calculate_update(weights, np.zeros(shape))
    np.testing.assert_allclose(unit_norms(weights), 1.0, atol=1e-8)
    # only the norms change, never the directions
    np.testing.assert_allclose(weights.reshape(shape[0], -1), directions, atol=1e-8)
    assert NormLoss(1.0).norm(weights) < 1e-15


def test_norm_loss_in_a_network_moves_kernel_norms_towards_one():
    optimizer = Sgd(1e-3)
    optimizer.add_regularizer(NormLoss(50.0))
    network = small_network(optimizer, np.random.default_rng(9), weights_initializer=Constant(1.0))
    # rows of ones: norms sqrt(4) = 2 and sqrt(5) ≈ 2.24
    network.train(200)
    for layer in (network.layers[0], network.layers[2]):
        np.testing.assert_allclose(unit_norms(layer.weights), 1.0, atol=0.1)


# -- errors ----------------------------------------------------------------------------


def test_non_finite_loss_in_train_raises_before_changing_weights():
    rng = np.random.default_rng(10)
    network = small_network(Sgd(0.1), rng)
    good_input, labels = network.data_layer.next()
    batches = iter([(good_input, labels), (np.full_like(good_input, np.nan), labels)])
    network.data_layer = type("TwoBatches", (), {"next": lambda self: next(batches)})()
    network.train(1)
    weights = [layer.weights.copy() for layer in network.layers if layer.trainable]
    with pytest.raises(FloatingPointError, match="loss became nan at iteration 1"):
        network.train(5)
    assert len(network.loss) == 1
    for before, layer in zip(weights, [layer for layer in network.layers if layer.trainable]):
        np.testing.assert_array_equal(layer.weights, before)


def test_forward_needs_data_and_loss_layers_and_backward_needs_forward():
    network = NeuralNetwork(Sgd(0.1), He(), Constant(0.1))
    network.append_layer(FullyConnected(2, 2))
    with pytest.raises(RuntimeError, match="NeuralNetwork.forward needs data_layer and loss_layer"):
        network.forward()
    with pytest.raises(RuntimeError, match="NeuralNetwork.backward called before forward"):
        network.backward()


def test_network_can_be_deep_copied_independently():
    network = small_network(SgdWithMomentum(0.01, 0.9), np.random.default_rng(11))
    twin = copy.deepcopy(network)
    twin.train(3)
    assert network.loss == [] and len(twin.loss) == 3
    assert not np.array_equal(network.layers[0].weights, twin.layers[0].weights)


# -- a small network learns real MNIST with every optimizer ----------------------------

# 600 iterations of 50 images = 5 epochs of the 6000 training images; learning rates for the
# summed cross entropy (gradient ∝ batch size). Reaches ≈ 92–94 % on the 2000 held-out images
# in about a second each on one core.
TRAINING = [(lambda: Sgd(4e-3), "Sgd"),
            (lambda: SgdWithMomentum(1e-3, 0.9), "SgdWithMomentum"),
            (lambda: Adam(2e-3, 0.9, 0.999), "Adam")]


@pytest.mark.slow
@pytest.mark.parametrize("make_optimizer", [make for make, _ in TRAINING], ids=[name for _, name in TRAINING])
def test_two_layer_network_learns_mnist(make_optimizer, mnist_small):
    train_images, train_labels, test_images, test_labels = mnist_small
    rng = np.random.default_rng(0)
    network = NeuralNetwork(make_optimizer(), He(rng=rng), Constant(0.1))
    network.data_layer = ShuffledBatches(train_images, train_labels, batch_size=50, rng=rng)
    network.loss_layer = CrossEntropyLoss()
    for layer in (FullyConnected(784, 64), ReLU(), FullyConnected(64, 10), SoftMax()):
        network.append_layer(layer)

    network.train(600)

    assert len(network.loss) == 600
    # the summed loss of a batch of 50 starts near 50·ln 10 ≈ 115 and must fall several-fold
    assert np.mean(network.loss[-50:]) < np.mean(network.loss[:10]) / 4
    accuracy = np.mean(network.test(test_images).argmax(axis=1) == test_labels)
    assert accuracy >= 0.90, f"test accuracy {accuracy:.3f}"
    assert network.phase == "test"
