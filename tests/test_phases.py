"""The training and testing phases: NeuralNetwork.phase, train and test switch every layer.

Dropout and BatchNormalization behave differently in the two phases; every
other layer carries ``testing_phase`` too so the network can switch all at once.
The last test trains FullyConnected → BatchNormalization → ReLU → Dropout →
FullyConnected → SoftMax on real MNIST and checks that testing is deterministic.
"""
import time

import numpy as np
import pytest

from framework import NeuralNetwork
from framework.initializers import Constant, He
from framework.losses import CrossEntropyLoss
from layers import BatchNormalization, Dropout, FullyConnected, ReLU, SoftMax
from optimizers import Adam
from tests.helpers import ShuffledBatches




def build_network(input_size, hidden, seed):
    rng = np.random.default_rng(seed)
    network = NeuralNetwork(Adam(1e-3), He(rng), Constant(0.1))
    for layer in (FullyConnected(input_size, hidden, rng=rng), BatchNormalization(hidden), ReLU(),
                  Dropout(0.8, rng=rng), FullyConnected(hidden, 10, rng=rng), SoftMax()):
        network.append_layer(layer)
    network.loss_layer = CrossEntropyLoss()
    return network


def test_phase_switches_every_layer():
    network = build_network(6, 5, seed=0)
    assert network.phase == "train"
    assert not any(layer.testing_phase for layer in network.layers)
    network.phase = "test"
    assert all(layer.testing_phase for layer in network.layers)
    network.phase = "train"
    assert not any(layer.testing_phase for layer in network.layers)
    with pytest.raises(ValueError, match="phase"):
        network.phase = "evaluate"


def test_test_and_train_set_the_phase():
    rng = np.random.default_rng(1)
    network = build_network(6, 5, seed=1)
    network.data_layer = ShuffledBatches(rng.standard_normal((40, 6)), rng.integers(0, 10, 40), 8, rng)
    network.test(rng.standard_normal((3, 6)))
    assert network.phase == "test" and all(layer.testing_phase for layer in network.layers)
    network.train(2)
    assert network.phase == "train" and not any(layer.testing_phase for layer in network.layers)
    # a layer appended while testing starts in the testing phase
    network.phase = "test"
    network.append_layer(Dropout(0.5))
    assert network.layers[-1].testing_phase


def test_training_is_random_and_testing_is_not():
    rng = np.random.default_rng(2)
    network = build_network(6, 50, seed=2)
    network.data_layer = ShuffledBatches(rng.standard_normal((40, 6)), rng.integers(0, 10, 40), 8, rng)
    network.train(3)
    input_tensor = rng.standard_normal((5, 6))
    # training phase: a new dropout mask on every pass
    network.phase = "train"
    assert not np.array_equal(network._propagate(input_tensor), network._propagate(input_tensor))
    # testing phase: the identity for dropout and the running moments for batch normalization
    np.testing.assert_array_equal(network.test(input_tensor), network.test(input_tensor))
    # and one sample alone gets the same answer as inside the batch (no batch statistics)
    np.testing.assert_allclose(network.test(input_tensor[:1]), network.test(input_tensor)[:1], rtol=1e-12)


@pytest.mark.slow
def test_batch_norm_and_dropout_network_learns_mnist(mnist_small):
    train_x, train_y, test_x, test_y = mnist_small
    network = build_network(784, 64, seed=3)
    network.data_layer = ShuffledBatches(train_x, train_y, batch_size=50, rng=np.random.default_rng(4))
    start = time.perf_counter()
    network.train(600)  # 5 epochs of the 6000 training images
    seconds = time.perf_counter() - start
    first = network.test(test_x)
    second = network.test(test_x)
    np.testing.assert_array_equal(first, second)
    accuracy = np.mean(first.argmax(axis=1) == test_y)
    assert accuracy > 0.90, f"test accuracy {accuracy:.3f} after {seconds:.1f} s of training"
    # the loss went down: the last 50 iterations average well below the first 50
    assert np.mean(network.loss[-50:]) < 0.5 * np.mean(network.loss[:50])
