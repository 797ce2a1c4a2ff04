"""normnet's framework: the network container, initializers, losses, gradient checking,
persistence, the training loop, the LeNet builder and the command line."""
from framework.neural_network import NeuralNetwork

__all__ = ["NeuralNetwork", "save", "load"]


def __getattr__(name):
    # save/load pull in the layer registry; import them on first use so that
    # `import framework` stays light and free of import cycles with `layers`.
    if name in ("save", "load"):
        from framework import persistence
        return getattr(persistence, name)
    raise AttributeError(f"module 'framework' has no attribute {name!r}")
