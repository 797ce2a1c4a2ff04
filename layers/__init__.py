"""The teaching layers: one module per layer, each with forward and backward.

``from layers import Conv`` imports ``layers.conv`` (and ``layers.base``) and nothing
else: the package loads each layer's module on first use, so a broken module breaks
only the layer it holds.

``LAYERS`` is the one table of layer classes by the name a checkpoint stores; it imports
every layer on first use. The fast package (``layers.fast``) has a table with the same names.
"""
import importlib

# class name → the module that holds it
_MODULES = {
    "FullyConnected": "layers.fully_connected",
    "ReLU": "layers.relu",
    "SoftMax": "layers.softmax",
    "TanH": "layers.tanh",
    "Sigmoid": "layers.sigmoid",
    "Flatten": "layers.flatten",
    "Conv": "layers.conv",
    "Pooling": "layers.pooling",
    "Dropout": "layers.dropout",
    "BatchNormalization": "layers.batch_normalization",
    "GlobalAveragePooling": "layers.global_average_pooling",
}

__all__ = list(_MODULES) + ["LAYERS"]


def lazy_attribute(namespace, modules, name):
    """The class ``name`` from its module in ``modules`` (imported now), or the table ``LAYERS`` of
    them all; stored in ``namespace`` (a package's globals) so the next lookup is a plain one."""
    if name == "LAYERS":
        value = {layer_name: lazy_attribute(namespace, modules, layer_name) for layer_name in modules}
    elif name in modules:
        value = getattr(importlib.import_module(modules[name]), name)
    else:
        raise AttributeError(f"module {namespace['__name__']!r} has no attribute {name!r}")
    namespace[name] = value
    return value


def __getattr__(name):
    return lazy_attribute(globals(), _MODULES, name)


def __dir__():
    return sorted(set(globals()) | set(__all__))
