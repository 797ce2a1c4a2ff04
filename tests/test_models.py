"""The modified LeNet and the all-convolutional network: architecture, defaults, dtype."""
import numpy as np
import pytest

from framework.initializers import He
from framework.losses import CrossEntropyLoss
from framework.models import build_allconv, build_lenet, make_initializer
import layers
from layers.fast import BatchNormalization, Conv, Dropout, Flatten, FullyConnected, Pooling, ReLU, SoftMax
from optimizers import Adam, SgdWithMomentum
from regularizers import L1Regularizer, L2Regularizer, NormLoss
from tests.helpers import FixedBatch


def test_lenet_architecture_matches_the_slides():
    network = build_lenet()
    kinds = [type(layer) for layer in network.layers]
    # Pooling before ReLU: the same function as the slides' "ReLU, pool" (next test).
    assert kinds == [Conv, Pooling, ReLU, Conv, Pooling, ReLU, Flatten,
                     FullyConnected, ReLU, FullyConnected, ReLU, FullyConnected, SoftMax]
    conv1, conv2 = network.layers[0], network.layers[3]
    assert conv1.weights.shape == (6, 1, 5, 5) and conv2.weights.shape == (16, 6, 5, 5)
    assert [layer.weights.shape for layer in network.layers if isinstance(layer, FullyConnected)] == \
        [(120, 16 * 7 * 7), (84, 120), (10, 84)]
    assert isinstance(network.loss_layer, CrossEntropyLoss)
    # The first layer's input gradient would flow into the data: it is not computed.
    assert conv1.compute_input_gradient is False and conv2.compute_input_gradient is True


@pytest.mark.parametrize("builder, options", [(build_lenet, {"batch_norm": True, "dropout": 0.5}),
                                              (build_allconv, {"width": 4})])
def test_teaching_layers_build_the_same_network(builder, options):
    """fast=False: the same architecture from the teaching layers, with the same parameters and outputs."""
    fast = builder(rng=np.random.default_rng(0), **options)
    teaching = builder(rng=np.random.default_rng(0), fast=False, **options)
    assert [type(layer).__name__ for layer in teaching.layers] == [type(layer).__name__ for layer in fast.layers]
    assert all(type(layer) is layers.LAYERS[type(layer).__name__] for layer in teaching.layers)
    assert not hasattr(teaching.layers[0], "compute_input_gradient")  # a fast Conv's switch only
    for ours, theirs in zip(teaching.layers, fast.layers):
        if ours.trainable:
            np.testing.assert_array_equal(ours.weights, theirs.weights)
    images = np.random.default_rng(1).random((3, 1, 28, 28))
    np.testing.assert_allclose(teaching.test(images), fast.test(images), rtol=1e-12, atol=1e-15)


def _training_step(network, images, labels):
    """One forward and backward pass layer by layer; the network's output."""
    tensor = images
    for layer in network.layers:
        tensor = layer.forward(tensor)
    network.loss_layer.forward(tensor, labels)
    error = network.loss_layer.backward(labels)
    for layer in reversed(network.layers):
        error = layer.backward(error)
    return tensor


@pytest.mark.parametrize("batch_norm", [False, True])
def test_pooling_before_relu_is_the_slides_network_exactly(batch_norm):
    """max-pool then ReLU equals ReLU then max-pool bit for bit: outputs, gradients, updates."""
    pool_first = build_lenet(batch_norm=batch_norm, rng=np.random.default_rng(0))
    relu_first = build_lenet(batch_norm=batch_norm, rng=np.random.default_rng(0))
    layers = relu_first.layers
    for index in [index for index, layer in enumerate(layers) if isinstance(layer, Pooling)]:
        layers[index], layers[index + 1] = layers[index + 1], layers[index]
    assert sum(isinstance(before, ReLU) and isinstance(after, Pooling)
               for before, after in zip(layers, layers[1:])) == 2
    rng = np.random.default_rng(1)
    # Integer-valued images make exact ties and exact zeros before the ReLU common.
    images = rng.integers(-2, 3, size=(6, 1, 28, 28)).astype(np.float64)
    labels = np.eye(10)[rng.integers(0, 10, 6)]
    for _ in range(2):  # the second step starts from parameters both networks updated
        np.testing.assert_array_equal(_training_step(pool_first, images, labels),
                                      _training_step(relu_first, images, labels))
        for ours, slides in zip(*[[layer for layer in network.layers if layer.trainable]
                                  for network in (pool_first, relu_first)]):
            np.testing.assert_array_equal(ours.gradient_weights, slides.gradient_weights)
            np.testing.assert_array_equal(ours.gradient_bias, slides.gradient_bias)
            np.testing.assert_array_equal(ours.weights, slides.weights)


def test_lenet_defaults_adam_l2_he():
    network = build_lenet()
    assert isinstance(network.optimizer, Adam) and network.optimizer.learning_rate == 1e-3
    assert isinstance(network.optimizer.regularizer, L2Regularizer)
    assert network.optimizer.regularizer.alpha == 4e-4
    assert isinstance(network.weights_initializer, He)
    # He: every unit's E‖w‖² = fan_in · 2/fan_in = 2; the first FullyConnected has 784 inputs,
    # so its row norms concentrate near sqrt(2).
    norms = np.linalg.norm(network.layers[7].weights, axis=1)
    assert abs(norms.mean() - np.sqrt(2)) < 0.05


def test_lenet_forward_shapes_and_probabilities():
    network = build_lenet(rng=np.random.default_rng(0))
    images = np.random.default_rng(1).random((5, 1, 28, 28))
    probabilities = network.test(images)
    assert probabilities.shape == (5, 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-12)


@pytest.mark.parametrize("name, kind", [("l1", L1Regularizer), ("l2", L2Regularizer), ("normloss", NormLoss)])
def test_lenet_regularizer_reaches_every_kernel_but_no_bias(name, kind):
    network = build_lenet(regularizer=name, alpha=1e-3, optimizer="momentum", learning_rate=0.01)
    trainable = [layer for layer in network.layers if layer.trainable]
    assert len(trainable) == 5
    for layer in trainable:
        assert isinstance(layer.optimizer, SgdWithMomentum)
        assert isinstance(layer.regularizer, kind) and layer.regularizer.alpha == 1e-3
        assert layer.bias_optimizer.regularizer is None


def test_lenet_without_regularizer():
    network = build_lenet(regularizer="none")
    assert all(layer.regularizer is None for layer in network.layers if layer.trainable)
    assert network.regularization_loss() == 0


def test_lenet_with_dropout_and_batch_norm():
    network = build_lenet(dropout=0.5, batch_norm=True)
    kinds = [type(layer) for layer in network.layers]
    assert kinds.count(Dropout) == 2 and kinds.count(BatchNormalization) == 2
    assert kinds.index(BatchNormalization) == 1  # after the first convolution, before its ReLU
    # Batch norm's γ and β are never regularized.
    for layer in network.layers:
        if isinstance(layer, BatchNormalization):
            assert layer.regularizer is None


@pytest.mark.parametrize("builder", [build_lenet, build_allconv])
def test_float32_end_to_end(builder):
    """float32 parameters, activations, errors and updates: nothing is silently upcast."""
    rng = np.random.default_rng(0)
    network = builder(dtype=np.float32, rng=rng, regularizer="normloss", alpha=1e-3)
    images = rng.random((8, 1, 28, 28)).astype(np.float32)
    labels = np.eye(10, dtype=np.float32)[rng.integers(0, 10, 8)]


    network.data_layer = FixedBatch(images, labels)
    network.train(2)
    assert network.test(images).dtype == np.float32
    for layer in network.layers:
        if layer.trainable:
            assert layer.weights.dtype == np.float32 and layer.bias.dtype == np.float32
            assert layer.gradient_weights.dtype == np.float32
    with pytest.raises(TypeError, match="float32"):
        network.test(images.astype(np.float64))


def test_allconv_architecture():
    network = build_allconv(width=8)
    convolutions = [layer for layer in network.layers if isinstance(layer, Conv)]
    assert [conv.weights.shape for conv in convolutions] == \
        [(8, 1, 3, 3), (8, 8, 3, 3), (16, 8, 3, 3), (16, 16, 3, 3), (10, 16, 1, 1)]
    assert sum(isinstance(layer, BatchNormalization) for layer in network.layers) == 4
    assert network.test(np.zeros((2, 1, 28, 28))).shape == (2, 10)


def test_unknown_names_are_refused():
    with pytest.raises(ValueError, match="unknown optimizer 'rmsprop'"):
        build_lenet(optimizer="rmsprop")
    with pytest.raises(ValueError, match="unknown regularizer 'l3'"):
        build_lenet(regularizer="l3")
    with pytest.raises(ValueError, match="unknown initializer"):
        make_initializer("orthogonal")


def test_small_initializer_starts_units_below_norm_one():
    network = build_lenet(initializer="small", rng=np.random.default_rng(0))
    for layer in network.layers:
        if layer.trainable:
            assert np.linalg.norm(layer.weights.reshape(len(layer.weights), -1), axis=1).max() < 0.5
