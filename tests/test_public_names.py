"""The public names of normnet's contract import exactly as written there.

Each test executes one import line of the contract's public names verbatim, in a
fresh namespace, and checks that every name it binds is a real object.
"""
import pytest

PUBLIC_IMPORT_LINES = [
    "from layers import FullyConnected, Conv, Pooling, Flatten, ReLU, SoftMax, TanH, Sigmoid, "
    "Dropout, BatchNormalization",
    "from optimizers import Optimizer, Sgd, SgdWithMomentum, Adam",
    "from regularizers import Regularizer, L1Regularizer, L2Regularizer, NormLoss",
    "from framework import NeuralNetwork, save, load",
    "from framework.initializers import Constant, UniformRandom, Xavier, He",
    "from framework.losses import CrossEntropyLoss",
    "from framework.models import build_lenet",
]


def _imported_names(line):
    return [name.strip() for name in line.split(" import ", 1)[1].split(",")]


@pytest.mark.parametrize("line", PUBLIC_IMPORT_LINES)
def test_spec_import_line_works_as_written(line):
    namespace = {}
    exec(line, namespace)
    for name in _imported_names(line):
        assert namespace.get(name) is not None, f"{line!r} did not bind {name}"
        assert callable(namespace[name]), f"{name} should be a class or a function"


def test_layer_classes_are_distinct():
    # A lazy alias (e.g. Conv = FullyConnected while a layer is unfinished) would pass
    # the import test above; ten different classes are required.
    namespace = {}
    exec(PUBLIC_IMPORT_LINES[0], namespace)
    classes = [namespace[name] for name in _imported_names(PUBLIC_IMPORT_LINES[0])]
    assert len(set(classes)) == len(classes)


def test_regularizers_derive_from_the_base_and_optimizers_from_theirs():
    from optimizers import Adam, Optimizer, Sgd, SgdWithMomentum
    from regularizers import L1Regularizer, L2Regularizer, NormLoss, Regularizer

    for regularizer in (L1Regularizer, L2Regularizer, NormLoss):
        assert issubclass(regularizer, Regularizer)
    for optimizer in (Sgd, SgdWithMomentum, Adam):
        assert issubclass(optimizer, Optimizer)
