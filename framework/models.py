"""Model builders: the modified LeNet of the exercise slides, and the small all-convolutional
network with batch normalization used by the Norm Loss experiments.

Both build from the fast layers (``layers.fast``) by default; ``fast=False`` builds the same
network, with the same parameters for the same ``rng``, from the teaching layers (``layers``).
"""
import importlib

import numpy as np

from framework.losses import CrossEntropyLoss
from framework.neural_network import NeuralNetwork
from layers.initializers import INITIALIZERS, Constant
from optimizers import OPTIMIZERS, SgdWithMomentum
from regularizers import REGULARIZERS


def make_optimizer(name="adam", learning_rate=1e-3, regularizer="l2", alpha=4e-4, momentum=0.9, coupled=False):
    """An optimizer by name (a key of ``optimizers.OPTIMIZERS``) with a regularizer by name
    (a key of ``regularizers.REGULARIZERS``) attached, decoupled (default) or ``coupled``
    (see ``Optimizer.add_regularizer``)."""
    optimizer_class = OPTIMIZERS[_choice("optimizer", name, OPTIMIZERS)]
    if optimizer_class is SgdWithMomentum:
        optimizer = SgdWithMomentum(learning_rate, momentum)
    else:
        optimizer = optimizer_class(learning_rate)
    regularizer_object = make_regularizer(regularizer, alpha)
    if regularizer_object is not None:
        optimizer.add_regularizer(regularizer_object, coupled=coupled)
    return optimizer


def make_regularizer(name, alpha):
    """A regularizer by name (a key of ``regularizers.REGULARIZERS``); None for "none"."""
    regularizer_class = REGULARIZERS[_choice("regularizer", name, REGULARIZERS)]
    return None if regularizer_class is None else regularizer_class(alpha)


def make_initializer(name, rng=None):
    """A kernel initializer by name (a key of ``layers.initializers.INITIALIZERS``)."""
    return INITIALIZERS[_choice("initializer", name, INITIALIZERS)](rng)


def build_lenet(optimizer="adam", learning_rate=1e-3, regularizer="l2", alpha=4e-4, dropout=None,
                batch_norm=False, dtype=np.float64, initializer="he", momentum=0.9, rng=None, fast=True,
                coupled=False):
    """The modified LeNet of the exercise slides, for 28x28 single-channel images.

    Conv 5x5 same 1→6, max-pool 2x2/2, ReLU, Conv 5x5 same 6→16, max-pool 2x2/2, ReLU,
    Flatten (16·7·7 = 784), FullyConnected 120, ReLU, 84, ReLU, 10, SoftMax;
    CrossEntropyLoss averaged over the batch (so learning rates do not depend on the
    batch size, and the reported loss is per image). (Modified from LeCun et al. 1998: "same" padding keeps C3's maps
    larger, ReLU replaces tanh, SoftMax replaces the RBF units.)

    Parameters
    ----------
    optimizer : {"adam", "sgd", "momentum"} or Optimizer
        By default Adam with learning rate 1e-3, the default of ``normnet train``.
    regularizer : {"none", "l1", "l2", "normloss"}
        Applied to every Conv and FullyConnected kernel with factor ``alpha``
        (default L2, 4e-4). Ignored when ``optimizer`` is an Optimizer object.
    coupled : bool
        Apply the regularizer in the paper's coupled form, through the optimizer's state,
        instead of as decoupled shrinkage (see ``Optimizer.add_regularizer``).
    dropout : float or None
        Keep probability of a Dropout layer after each hidden FullyConnected's ReLU.
    batch_norm : bool
        Insert BatchNormalization after each convolution (before its ReLU).
    dtype : float32 or float64
    initializer : {"he", "xavier", "uniform", "small"}
        Kernel initializer; biases start at 0.
    rng : numpy.random.Generator, optional
        Source of initial weights and dropout masks; NumPy's global state if None.
    fast : bool
        Build from the fast layers (default) or, if False, from the teaching layers.
    """
    layers = _layer_package(fast)
    BatchNormalization, Conv, Dropout, Flatten = (layers.BatchNormalization, layers.Conv, layers.Dropout,
                                                  layers.Flatten)
    FullyConnected, Pooling, ReLU, SoftMax = layers.FullyConnected, layers.Pooling, layers.ReLU, layers.SoftMax

    dtype = np.dtype(dtype)
    network = _empty_network(optimizer, learning_rate, regularizer, alpha, momentum, initializer, rng, coupled)

    def convolution_block(in_channels, out_channels):
        network.append_layer(Conv((1, 1), (in_channels, 5, 5), out_channels, dtype=dtype))
        if batch_norm:
            network.append_layer(BatchNormalization(out_channels, dtype=dtype))
        # Max pooling before the ReLU: max and ReLU commute exactly, values and gradients
        # alike (max_j relu(x_j) = relu(max_j x_j)), so this is the same network as
        # "ReLU, then pool", but the ReLU works on a quarter of the values. (LeNet-5
        # itself subsampled first and squashed after.)
        network.append_layer(Pooling((2, 2), (2, 2)))
        network.append_layer(ReLU())

    def hidden_block(in_features, out_features):
        network.append_layer(FullyConnected(in_features, out_features, dtype=dtype))
        network.append_layer(ReLU())
        if dropout is not None:
            network.append_layer(Dropout(dropout, rng=_independent_stream(rng)))

    convolution_block(1, 6)
    # The first layer's input gradient would flow into the data; nobody needs it.
    set_switch(network.layers[0], "compute_input_gradient", False)
    convolution_block(6, 16)
    network.append_layer(Flatten())
    hidden_block(16 * 7 * 7, 120)
    hidden_block(120, 84)
    network.append_layer(FullyConnected(84, 10, dtype=dtype))
    network.append_layer(SoftMax())
    return network


def build_allconv(optimizer="adam", learning_rate=1e-3, regularizer="l2", alpha=4e-4, dtype=np.float64,
                  initializer="he", momentum=0.9, width=16, rng=None, fast=True, coupled=False):
    """A small all-convolutional network with batch normalization after each convolution.

    Conv 3x3 1→w, BN, ReLU, Conv 3x3 stride 2 w→w (28→14), BN, ReLU,
    Conv 3x3 w→2w, BN, ReLU, Conv 3x3 stride 2 2w→2w (14→7), BN, ReLU,
    Conv 1x1 2w→10 (the classifier), global average pooling, SoftMax.

    Every trained kernel but the last is a convolution followed by batch normalization:
    the setting the Norm Loss paper targets, where a kernel's scale does not change
    the function and weight decay mainly changes the effective learning rate.
    ``fast=False`` builds it from the teaching layers.
    """
    layers = _layer_package(fast)
    BatchNormalization, Conv, GlobalAveragePooling, ReLU, SoftMax = (
        layers.BatchNormalization, layers.Conv, layers.GlobalAveragePooling, layers.ReLU, layers.SoftMax)

    dtype = np.dtype(dtype)
    network = _empty_network(optimizer, learning_rate, regularizer, alpha, momentum, initializer, rng, coupled)
    plan = [(1, width, 1), (width, width, 2), (width, 2 * width, 1), (2 * width, 2 * width, 2)]
    for in_channels, out_channels, stride in plan:
        network.append_layer(Conv((stride, stride), (in_channels, 3, 3), out_channels, dtype=dtype))
        network.append_layer(BatchNormalization(out_channels, dtype=dtype))
        network.append_layer(ReLU())
    set_switch(network.layers[0], "compute_input_gradient", False)
    network.append_layer(Conv((1, 1), (2 * width, 1, 1), 10, dtype=dtype))
    network.append_layer(GlobalAveragePooling())
    network.append_layer(SoftMax())
    return network


def _layer_package(fast):
    """``layers.fast`` or ``layers``: the package whose classes a builder uses."""
    return importlib.import_module("layers.fast" if fast else "layers")


def set_switch(layer, name, value):
    """Set a speed switch (e.g. the fast Conv's ``compute_input_gradient``) where the layer's class
    declares it in ``switches``; a layer without it computes everything anyway."""
    if name in getattr(type(layer), "switches", ()):
        setattr(layer, name, value)


def _empty_network(optimizer, learning_rate, regularizer, alpha, momentum, initializer, rng, coupled):
    """A NeuralNetwork with the named optimizer (or the given Optimizer), kernels from the named
    initializer, biases at 0, and cross entropy averaged over the batch."""
    if not hasattr(optimizer, "calculate_update"):
        optimizer = make_optimizer(optimizer, learning_rate, regularizer, alpha, momentum, coupled)
    network = NeuralNetwork(optimizer, make_initializer(initializer, rng), Constant(0.0))
    network.loss_layer = CrossEntropyLoss(reduction="mean")
    return network


def _independent_stream(rng):
    """A generator of its own for a layer (so its state can be saved and restored alone)."""
    return None if rng is None else np.random.default_rng(rng.integers(2**63))


def _choice(what, value, allowed):
    value = str(value).lower()
    if value not in allowed:
        raise ValueError(f"unknown {what} {value!r}; expected one of {', '.join(allowed)}")
    return value


# The one table of model builders by name, read by the command line, training and the study.
MODELS = {"lenet": build_lenet, "allconv": build_allconv}
