"""The fast layers: drop-in twins of the teaching layers, with the same constructors,
parameters, results and checkpoint names, tuned for speed. The model builders use them
by default.

They share nothing with the teaching layers but ``layers.base`` (base classes and
checks), so they work whatever state a teaching module is in.

``LAYERS`` maps the names a checkpoint stores to the fast classes. As in ``layers``,
each class's module is imported on first use.
"""
from layers import lazy_attribute

_MODULES = {
    "FullyConnected": "layers.fast.fully_connected",
    "ReLU": "layers.fast.activations",
    "SoftMax": "layers.fast.activations",
    "TanH": "layers.fast.activations",
    "Sigmoid": "layers.fast.activations",
    "Flatten": "layers.fast.flatten",
    "Conv": "layers.fast.conv",
    "Pooling": "layers.fast.pooling",
    "Dropout": "layers.fast.dropout",
    "BatchNormalization": "layers.fast.batch_normalization",
    "GlobalAveragePooling": "layers.fast.global_average_pooling",
}

__all__ = list(_MODULES) + ["LAYERS"]


def __getattr__(name):
    return lazy_attribute(globals(), _MODULES, name)


def __dir__():
    return sorted(set(globals()) | set(__all__))
