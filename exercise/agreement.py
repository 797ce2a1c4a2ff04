"""The grader's own check: the student's part against the reference, on inputs drawn afresh
for every grading run.

The public tests use fixed inputs and golden values, so a submission could answer them from
a table, and a layer whose output is constant passes a gradient check (both gradients are 0).
This module closes that: the grader adds it to every part's tests (``exercise.grading``), and
it runs in the trusted process, where it loads the reference of the part being graded under a
private name and compares forward passes, backward passes, gradients and updates of the
student's code with it on random inputs from a seed drawn now (printed on failure).

``NORMNET_GRADING_PART`` names the part's key (``exercise.points``); the runner sets it.
"""
import importlib
import os
import sys
from pathlib import Path

import numpy as np
import pytest

from exercise.sources import import_file

PART = os.environ.get("NORMNET_GRADING_PART", "")
PROJECT = Path(__file__).resolve().parent.parent
SEED = int.from_bytes(os.urandom(4), "little")
TOLERANCE = {"rtol": 1e-6, "atol": 1e-9}


def reference(module_name):
    """The reference module ``module_name`` of this project, loaded under a private name."""
    private = "normnet_reference." + module_name
    if private not in sys.modules:
        import_file(private, PROJECT / (module_name.replace(".", "/") + ".py"))
    return sys.modules[private]


def student(module_name):
    return importlib.import_module(module_name)


def close(what, obtained, expected):
    np.testing.assert_allclose(np.asarray(obtained, dtype=np.float64), np.asarray(expected, dtype=np.float64),
                               err_msg=f"{what} differs from the reference on random inputs (seed {SEED})",
                               **TOLERANCE)


def compare_layers(name, make, input_shape, rng, phases=("train",)):
    """Build the layer both ways (same parameters), run forward and backward, compare all."""
    mine, theirs = make(student), make(reference)
    if getattr(theirs, "trainable", False):
        mine.weights, mine.bias = theirs.weights.copy(), theirs.bias.copy()
    for phase in phases:
        mine.testing_phase = theirs.testing_phase = phase == "test"
        input_tensor = rng.standard_normal(input_shape)
        expected = theirs.forward(input_tensor.copy())
        close(f"{name}.forward ({phase})", mine.forward(input_tensor.copy()), expected)
        error_tensor = rng.standard_normal(np.shape(expected))
        close(f"{name}.backward ({phase})", mine.backward(error_tensor.copy()), theirs.backward(error_tensor.copy()))
        if getattr(theirs, "trainable", False):
            close(f"{name}.gradient_weights", mine.gradient_weights, theirs.gradient_weights)
            close(f"{name}.gradient_bias", mine.gradient_bias, theirs.gradient_bias)


def layer_case(module_name, class_name, *args, input_shape, phases=("train",), **kwargs):
    def case(rng):
        compare_layers(class_name, lambda source: getattr(source(module_name), class_name)(*args, **kwargs),
                       input_shape, rng, phases)
    return case


def dropout_case(rng):
    for inverted in (True, False):
        seed = int(rng.integers(1 << 30))
        compare_layers("Dropout", lambda source: source("layers.dropout").Dropout(
            0.6, inverted=inverted, rng=np.random.default_rng(seed)), (5, 8), rng, phases=("train", "test"))


def conv_case(rng):
    cases = [((1, 2), (3, 3, 3), 4, (2, 3, 7, 8)),          # 2-D, odd kernel, strided
             ((2, 1), (2, 4, 2), 3, (2, 2, 6, 5)),          # 2-D, even kernel
             ([2], (3, 4), 2, (3, 3, 9))]                   # 1-D, even kernel, strided
    for stride, shape, kernels, input_shape in cases:
        compare_layers("Conv", lambda source: source("layers.conv").Conv(stride, shape, kernels), input_shape, rng)


def cross_entropy_case(rng):
    for reduction in ("sum", "mean"):
        scores = rng.standard_normal((6, 5)) * 3
        prediction = np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)
        labels = np.eye(5)[rng.integers(0, 5, size=6)]
        mine, theirs = student("framework.losses").CrossEntropyLoss(reduction), \
            reference("framework.losses").CrossEntropyLoss(reduction)
        close("CrossEntropyLoss.forward", mine.forward(prediction.copy(), labels), theirs.forward(prediction, labels))
        close("CrossEntropyLoss.backward", mine.backward(labels), theirs.backward(labels))
        close("CrossEntropyLoss.logits_gradient", mine.logits_gradient(labels), theirs.logits_gradient(labels))


def optimizers_case(rng):
    cases = [("optimizers.sgd", "Sgd", (0.1,)), ("optimizers.sgd_with_momentum", "SgdWithMomentum", (0.1, 0.8)),
             ("optimizers.adam", "Adam", (0.01, 0.85, 0.99))]
    for module_name, class_name, args in cases:
        mine, theirs = getattr(student(module_name), class_name)(*args), getattr(reference(module_name), class_name)(*args)
        weights = rng.standard_normal((4, 3))
        for step in range(3):
            gradient = rng.standard_normal((4, 3))
            expected = theirs.calculate_update(weights.copy(), gradient.copy())
            close(f"{class_name}.calculate_update, step {step + 1}", mine.calculate_update(weights.copy(),
                                                                                        gradient.copy()), expected)
            weights = expected


def regularizers_case(rng):
    for module_name, class_name in (("regularizers.lp", "L1Regularizer"), ("regularizers.lp", "L2Regularizer"),
                                    ("regularizers.norm_loss", "NormLoss")):
        alpha = float(rng.uniform(0.01, 1))
        mine, theirs = getattr(student(module_name), class_name)(alpha), getattr(reference(module_name), class_name)(alpha)
        for shape in ((4, 6), (3, 2, 3, 3)):
            weights = rng.standard_normal(shape)
            close(f"{class_name}.calculate_gradient", mine.calculate_gradient(weights.copy()),
                  theirs.calculate_gradient(weights))
            close(f"{class_name}.norm", mine.norm(weights.copy()), theirs.norm(weights))


def initializers_case(rng):
    seed = int(rng.integers(1 << 30))
    shape, fan_in, fan_out = (5, 3, 2, 2), 12, 20
    close("Constant.initialize", student("layers.initializers").Constant(0.37).initialize(shape, fan_in, fan_out),
          reference("layers.initializers").Constant(0.37).initialize(shape, fan_in, fan_out))
    for class_name in ("UniformRandom", "Xavier", "He"):
        made = [getattr(source("layers.initializers"), class_name)(rng=np.random.default_rng(seed))
                .initialize(shape, fan_in, fan_out) for source in (student, reference)]
        close(f"{class_name}.initialize (the same generator)", made[0], made[1])


def network_case(rng):
    from framework.losses import CrossEntropyLoss
    from layers import FullyConnected, ReLU, SoftMax
    from layers.initializers import Constant, He
    from optimizers import SgdWithMomentum
    from regularizers import NormLoss

    seed = int(rng.integers(1 << 30))
    data = rng.standard_normal((8, 5)), np.eye(3)[rng.integers(0, 3, size=8)]

    class Batches:
        def next(self):
            return data[0].copy(), data[1].copy()

    networks = []
    for source in (student, reference):
        optimizer = SgdWithMomentum(0.05, 0.9)
        optimizer.add_regularizer(NormLoss(0.01))          # the loss then holds the penalty too
        network = source("framework.neural_network").NeuralNetwork(
            optimizer, He(rng=np.random.default_rng(seed)), Constant(0.1))
        network.data_layer, network.loss_layer = Batches(), CrossEntropyLoss()
        for layer in (FullyConnected(5, 4), ReLU(), FullyConnected(4, 3), SoftMax()):
            network.append_layer(layer)
        network.train(4)
        networks.append(network)
    close("NeuralNetwork.loss after 4 iterations", list(networks[0].loss), list(networks[1].loss))
    test_input = rng.standard_normal((3, 5))
    close("NeuralNetwork.test", networks[0].test(test_input.copy()), networks[1].test(test_input))


CASES = {
    "relu": layer_case("layers.relu", "ReLU", input_shape=(5, 9)),
    "tanh": layer_case("layers.tanh", "TanH", input_shape=(5, 9)),
    "sigmoid": layer_case("layers.sigmoid", "Sigmoid", input_shape=(5, 9)),
    "softmax": layer_case("layers.softmax", "SoftMax", input_shape=(5, 9)),
    "flatten": layer_case("layers.flatten", "Flatten", input_shape=(3, 2, 4, 5)),
    "fully_connected": layer_case("layers.fully_connected", "FullyConnected", 6, 4, input_shape=(5, 6)),
    "conv": conv_case,
    "pooling": layer_case("layers.pooling", "Pooling", (2, 2), (2, 2), input_shape=(2, 3, 6, 7)),
    "dropout": dropout_case,
    "batch_normalization": layer_case("layers.batch_normalization", "BatchNormalization", 3,
                                      input_shape=(6, 3, 4, 5), phases=("train", "train", "test")),
    "cross_entropy": cross_entropy_case,
    "optimizers": optimizers_case,
    "regularizers": regularizers_case,
    "initializers": initializers_case,
    "network": network_case,
}


@pytest.mark.skipif(PART not in CASES, reason="run by the grader, which names the part")
def test_agrees_with_the_reference_on_fresh_random_inputs():
    CASES[PART](np.random.default_rng(SEED))


