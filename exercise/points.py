"""The points table: what a student writes, which tests grade it, and what it is worth.

This is the one table of exercise parts; ``normnet exercise grade`` scores with it,
``normnet exercise make`` lists it in STUDENT.md, and TEACHING.md explains it.
Change the points here (they need not add up to 100).

Each part names
- ``points``: what the part is worth. A part earns them all when every one of its tests
  passes and nothing else (all or nothing, as the exercise's per-layer bonus table);
  a single failing test, a crash or a time-out earns 0.
- ``tests``: the test files of the suite that grade it (the same files the project's
  own test suite runs; the fast layers' parameters are deselected when grading).
- ``sources``: the files that hold the part's solution blocks. A test that stops at an
  unimplemented solution block of *another* part's source waits for that part: it
  neither passes nor fails, so a part can be graded before the parts its tests touch on
  the side (FullyConnected's update test uses Sgd).
- ``needs``: the parts without which the part cannot be graded at all (the network's
  tests build networks of layers). While a test waits for one of them, the part earns 0
  and says what it waits for.
- ``key``: the part's name in file names; hidden tests for it live in
  ``tests/hidden/test_<key>_*.py``.
"""
from dataclasses import dataclass


@dataclass(frozen=True)
class Part:
    name: str
    key: str
    points: int
    tests: tuple
    sources: tuple
    needs: tuple = ()


PARTS = (
    Part("FullyConnected", "fully_connected", 8, ("tests/test_fully_connected.py",), ("layers/fully_connected.py",)),
    Part("ReLU", "relu", 4, ("tests/test_relu.py",), ("layers/relu.py",)),
    Part("SoftMax", "softmax", 6, ("tests/test_softmax.py",), ("layers/softmax.py",)),
    Part("TanH", "tanh", 3, ("tests/test_tanh.py",), ("layers/tanh.py",)),
    Part("Sigmoid", "sigmoid", 3, ("tests/test_sigmoid.py",), ("layers/sigmoid.py",)),
    Part("Flatten", "flatten", 3, ("tests/test_flatten.py",), ("layers/flatten.py",)),
    Part("Conv", "conv", 15, ("tests/test_conv.py",), ("layers/conv.py",)),
    Part("Pooling", "pooling", 8, ("tests/test_pooling.py",), ("layers/pooling.py",)),
    Part("Dropout", "dropout", 5, ("tests/test_dropout.py",), ("layers/dropout.py",)),
    Part("BatchNormalization", "batch_normalization", 12, ("tests/test_batch_normalization.py",),
         ("layers/batch_normalization.py",)),
    Part("CrossEntropyLoss", "cross_entropy", 5, ("tests/test_cross_entropy.py",), ("framework/losses.py",)),
    Part("Optimizers", "optimizers", 8, ("tests/test_optimizers.py",),
         ("optimizers/sgd.py", "optimizers/sgd_with_momentum.py", "optimizers/adam.py")),
    Part("Regularizers", "regularizers", 8, ("tests/test_regularizers.py",),
         ("regularizers/lp.py", "regularizers/norm_loss.py")),
    Part("Initializers", "initializers", 4, ("tests/test_initializers.py",), ("layers/initializers.py",)),
    Part("NeuralNetwork", "network", 8, ("tests/test_network.py",), ("framework/neural_network.py",),
         needs=("FullyConnected", "ReLU", "SoftMax", "CrossEntropyLoss", "Optimizers", "Regularizers",
                "Initializers")),
)

TOTAL_POINTS = sum(part.points for part in PARTS)


def find_part(name):
    """The part called ``name`` (its name or key, any case); a clear error for an unknown one."""
    for part in PARTS:
        if name.lower() in (part.name.lower(), part.key):
            return part
    known = ", ".join(part.name for part in PARTS)
    raise ValueError(f"exercise: no part called {name!r}; the parts are {known}")
