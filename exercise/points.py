"""The points table: what a student writes, which tests grade it, and what it is worth.

This is the one table of exercise parts, **in the order a student does them** (each part
can be done, and earns its points, before the next); ``normnet exercise grade`` scores and
prints in this order, ``normnet exercise make`` lists it in STUDENT.md, and TEACHING.md
explains it. Change the points here (they need not add up to 100).

Each part names
- ``points``: what the part is worth. A part earns them all when every one of its tests
  ran and passed, and nothing else (all or nothing, as the exercise's per-layer bonus
  table); a single failing test, a crash or a time-out earns 0.
- ``tests``: the test files of the suite that grade it (the same files the project's
  own test suite runs; the fast layers' parameters are deselected when grading).
- ``sources``: the files that hold the part's solution blocks: all the grader takes from a
  submission for this part. While a part is graded, every other part is the reference, so
  its points depend on these files alone.
- ``builds_on``: the parts it uses when it runs in a network or a notebook (the network
  trains layers with a loss and an optimizer). Grading does not need them; STUDENT.md
  says what a part is used with.
- ``minutes``: about how long the part takes a student who has read the slides.
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
    minutes: int
    builds_on: tuple = ()


PARTS = (
    Part("ReLU", "relu", 4, ("tests/test_relu.py",), ("layers/relu.py",), 20),
    Part("Sigmoid", "sigmoid", 3, ("tests/test_sigmoid.py",), ("layers/sigmoid.py",), 15),
    Part("TanH", "tanh", 3, ("tests/test_tanh.py",), ("layers/tanh.py",), 15),
    Part("SoftMax", "softmax", 6, ("tests/test_softmax.py",), ("layers/softmax.py",), 30),
    Part("FullyConnected", "fully_connected", 8, ("tests/test_fully_connected.py",), ("layers/fully_connected.py",),
         45, builds_on=("Optimizers", "Initializers")),
    Part("CrossEntropyLoss", "cross_entropy", 5, ("tests/test_cross_entropy.py",), ("framework/losses.py",), 30),
    Part("Optimizers", "optimizers", 8, ("tests/test_optimizers.py",),
         ("optimizers/sgd.py", "optimizers/sgd_with_momentum.py", "optimizers/adam.py"), 45),
    Part("Initializers", "initializers", 4, ("tests/test_initializers.py",), ("layers/initializers.py",), 20),
    Part("Regularizers", "regularizers", 8, ("tests/test_regularizers.py",),
         ("regularizers/lp.py", "regularizers/norm_loss.py"), 45, builds_on=("Optimizers",)),
    Part("NeuralNetwork", "network", 8, ("tests/test_network.py",), ("framework/neural_network.py",), 45,
         builds_on=("FullyConnected", "ReLU", "SoftMax", "CrossEntropyLoss", "Optimizers", "Initializers")),
    Part("Flatten", "flatten", 3, ("tests/test_flatten.py",), ("layers/flatten.py",), 10),
    Part("Pooling", "pooling", 8, ("tests/test_pooling.py",), ("layers/pooling.py",), 60),
    Part("Conv", "conv", 15, ("tests/test_conv.py",), ("layers/conv.py",), 120,
         builds_on=("Optimizers", "Initializers")),
    Part("Dropout", "dropout", 5, ("tests/test_dropout.py",), ("layers/dropout.py",), 30),
    Part("BatchNormalization", "batch_normalization", 12, ("tests/test_batch_normalization.py",),
         ("layers/batch_normalization.py",), 90, builds_on=("Optimizers",)),
)

TOTAL_POINTS = sum(part.points for part in PARTS)


def find_part(name):
    """The part called ``name`` (its name or key, any case); a clear error for an unknown one."""
    for part in PARTS:
        if name.lower() in (part.name.lower(), part.key):
            return part
    known = ", ".join(part.name for part in PARTS)
    raise ValueError(f"exercise: no part called {name!r}; the parts are {known}")
