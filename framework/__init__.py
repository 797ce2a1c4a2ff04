"""normnet's framework: the network container, initializers, losses, gradient checking,
persistence, the training loop, the LeNet builder and the command line."""

__all__ = ["NeuralNetwork", "save", "load"]


def __getattr__(name):
    # Everything on first use: `import framework` stays light (the command line's entry point
    # imports nothing heavy before it can answer Ctrl-C in one line) and free of import
    # cycles with `layers` (save/load pull in the layer registry).
    if name == "NeuralNetwork":
        from framework.neural_network import NeuralNetwork
        return NeuralNetwork
    if name in ("save", "load"):
        from framework import persistence
        return getattr(persistence, name)
    raise AttributeError(f"module 'framework' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
