"""Saving and loading networks: one ``.npz`` file, arrays plus JSON metadata.

The file holds every array of the network (kernels, biases, batch-norm running
moments, optimizer state) and one entry ``metadata.json``: a JSON document
describing the architecture (layer types and constructor arguments), the
optimizer, the regularizer and the loss, enough to rebuild the network without
the code that built it. A SHA-256 digest over the metadata and every array
detects a tampered or damaged file.

Safety: files are read with ``allow_pickle=False`` and layers are rebuilt only
from a fixed table of known types, so loading a file can never run code.
Writes are atomic: the file is written beside its destination under a
temporary name and then renamed, so a crash never leaves half a checkpoint.
"""
import hashlib
import json
import zipfile
from pathlib import Path

import numpy as np

from data.files import atomic_write  # noqa: F401  (re-exported: the one atomic writer of normnet)

FORMAT = "normnet-checkpoint"
VERSION = 1
METADATA_KEY = "metadata.json"


class CheckpointError(ValueError):
    """A file that is not a valid normnet checkpoint (foreign, truncated or tampered)."""


# -- what is stored for each kind of object ------------------------------------------------

def _layer_table():
    """type name → (class, constructor arguments, state arrays besides weights/bias)."""
    from layers import (BatchNormalization, Conv, Dropout, Flatten, FullyConnected, GlobalAveragePooling,
                        Pooling, ReLU, Sigmoid, SoftMax, TanH)

    return {
        "FullyConnected": (FullyConnected, ("input_size", "output_size", "dtype"), ()),
        "Conv": (Conv, ("stride_shape", "convolution_shape", "num_kernels", "dtype"), ()),
        "Pooling": (Pooling, ("stride_shape", "pooling_shape"), ()),
        "Dropout": (Dropout, ("probability", "inverted"), ()),
        "BatchNormalization": (BatchNormalization, ("channels", "dtype", "epsilon"), BATCH_NORM_STATE),
        "ReLU": (ReLU, (), ()),
        "SoftMax": (SoftMax, (), ()),
        "TanH": (TanH, (), ()),
        "Sigmoid": (Sigmoid, (), ()),
        "Flatten": (Flatten, (), ()),
        "GlobalAveragePooling": (GlobalAveragePooling, (), ()),
    }


BATCH_NORM_STATE = ("running_mean", "running_variance")
# Attributes of some layers that change how they run but are not constructor arguments.
LAYER_SWITCHES = ("compute_input_gradient",)
OPTIMIZER_STATE = ("velocity", "first_moment", "second_moment")


def _json_value(value):
    if isinstance(value, np.dtype) or (isinstance(value, type) and issubclass(value, np.generic)):
        return np.dtype(value).name
    if isinstance(value, (tuple, list)):
        return [_json_value(item) for item in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _describe_optimizer(optimizer, prefix, arrays):
    if optimizer is None:
        return None
    description = {"type": type(optimizer).__name__, "learning_rate": optimizer.learning_rate}
    for hyperparameter in ("momentum_rate", "mu", "rho", "step"):
        if hasattr(optimizer, hyperparameter):
            description[hyperparameter] = _json_value(getattr(optimizer, hyperparameter))
    for name in OPTIMIZER_STATE:
        if getattr(optimizer, name, None) is not None:
            arrays[f"{prefix}.{name}"] = np.asarray(getattr(optimizer, name))
    regularizer = optimizer.regularizer
    if regularizer is not None:
        description["regularizer"] = {"type": type(regularizer).__name__, "alpha": regularizer.alpha}
    return description


def _rebuild_optimizer(description, prefix, arrays):
    from optimizers import Adam, Sgd, SgdWithMomentum
    from regularizers import L1Regularizer, L2Regularizer, NormLoss

    if description is None:
        return None
    kinds = {"Sgd": Sgd, "SgdWithMomentum": SgdWithMomentum, "Adam": Adam}
    kind = _known(kinds, description.get("type"), "optimizer")
    if kind is SgdWithMomentum:
        optimizer = kind(description["learning_rate"], description["momentum_rate"])
    elif kind is Adam:
        optimizer = kind(description["learning_rate"], description["mu"], description["rho"])
        optimizer.step = int(description["step"])
    else:
        optimizer = kind(description["learning_rate"])
    for name in OPTIMIZER_STATE:
        if f"{prefix}.{name}" in arrays:
            setattr(optimizer, name, arrays[f"{prefix}.{name}"])
    if "regularizer" in description:
        regularizers = {"L1Regularizer": L1Regularizer, "L2Regularizer": L2Regularizer, "NormLoss": NormLoss}
        regularizer = _known(regularizers, description["regularizer"].get("type"), "regularizer")
        optimizer.add_regularizer(regularizer(description["regularizer"]["alpha"]))
    return optimizer


def _known(table, name, what):
    if name not in table:
        raise CheckpointError(f"checkpoint names an unknown {what} {name!r}; "
                              f"expected one of {', '.join(table)}")
    return table[name]


def _rng_state(rng):
    return None if rng is None else rng.bit_generator.state


def _rebuild_rng(state):
    if state is None:
        return None
    if state.get("bit_generator") != "PCG64":
        raise CheckpointError(f"checkpoint holds an unsupported random generator {state.get('bit_generator')!r}")
    rng = np.random.Generator(np.random.PCG64())
    rng.bit_generator.state = state
    return rng


# -- network ↔ (metadata, arrays) ---------------------------------------------------------

def describe_network(network):
    """Return ``(metadata, arrays)``: the JSON-able description and the arrays of ``network``."""
    table = _layer_table()
    arrays = {}
    layers = []
    for index, layer in enumerate(network.layers):
        kind = type(layer).__name__
        if kind not in table:
            raise TypeError(f"save: layer {index} is a {kind}, which normnet cannot save; "
                            f"known layers: {', '.join(table)}")
        _, arguments, state = table[kind]
        entry = {"type": kind, "arguments": {name: _json_value(getattr(layer, name)) for name in arguments}}
        switches = {name: bool(getattr(layer, name)) for name in LAYER_SWITCHES if hasattr(layer, name)}
        if switches:
            entry["switches"] = switches
        if getattr(layer, "rng", None) is not None:
            entry["rng_state"] = _rng_state(layer.rng)
        prefix = f"layers.{index}"
        if layer.trainable:
            layer.check_parameters()  # a kernel assigned at a wrong shape is refused, not saved
            arrays[f"{prefix}.weights"] = layer.weights
            arrays[f"{prefix}.bias"] = layer.bias
            entry["weights_optimizer"] = _describe_optimizer(layer.weights_optimizer, f"{prefix}.weights_optimizer", arrays)
            entry["bias_optimizer"] = _describe_optimizer(layer.bias_optimizer, f"{prefix}.bias_optimizer", arrays)
        for name in state:
            if getattr(layer, name, None) is not None:
                arrays[f"{prefix}.{name}"] = np.asarray(getattr(layer, name))
        layers.append(entry)
    metadata = {
        "format": FORMAT,
        "version": VERSION,
        "layers": layers,
        "optimizer": _describe_optimizer(network.optimizer, "optimizer", arrays),
        "loss": {"type": type(network.loss_layer).__name__,
                 "reduction": getattr(network.loss_layer, "reduction", "sum")} if network.loss_layer else None,
        "loss_history": [float(value) for value in network.loss],
    }
    return metadata, arrays


def rebuild_network(metadata, arrays):
    """Inverse of :func:`describe_network`."""
    from layers.initializers import Constant
    from framework.losses import CrossEntropyLoss
    from framework.neural_network import NeuralNetwork

    table = _layer_table()
    optimizer = _rebuild_optimizer(metadata.get("optimizer"), "optimizer", arrays)
    # The initializers are never used again: the layers come with their trained parameters.
    network = NeuralNetwork(optimizer, Constant(0.0), Constant(0.0))
    for index, entry in enumerate(metadata["layers"]):
        kind, arguments, state = _known(table, entry.get("type"), "layer")
        values = entry.get("arguments", {})
        missing = [name for name in arguments if name not in values]
        if missing:
            raise CheckpointError(f"checkpoint layer {index} ({entry['type']}) lacks arguments {missing}")
        layer = kind(*(tuple(values[name]) if isinstance(values[name], list) else values[name]
                       for name in arguments))
        for name, value in entry.get("switches", {}).items():
            setattr(layer, name, bool(value))
        if "rng_state" in entry:
            layer.rng = _rebuild_rng(entry["rng_state"])
        prefix = f"layers.{index}"
        if layer.trainable:
            layer.weights = _array(arrays, f"{prefix}.weights")
            layer.bias = _array(arrays, f"{prefix}.bias")
            try:
                layer.check_parameters()
            except ValueError as error:
                raise CheckpointError(f"layer {index}: {error}") from None
            layer.restore_optimizers(
                _rebuild_optimizer(entry.get("weights_optimizer"), f"{prefix}.weights_optimizer", arrays),
                _rebuild_optimizer(entry.get("bias_optimizer"), f"{prefix}.bias_optimizer", arrays))
        for name in state:
            if f"{prefix}.{name}" in arrays:
                setattr(layer, name, arrays[f"{prefix}.{name}"])
        network.layers.append(layer)
    if metadata.get("loss"):
        network.loss_layer = CrossEntropyLoss(metadata["loss"].get("reduction", "sum"))
    network.loss = list(metadata.get("loss_history", []))
    return network


def _array(arrays, key):
    if key not in arrays:
        raise CheckpointError(f"checkpoint lacks the array {key!r}")
    return arrays[key]


# -- files --------------------------------------------------------------------------------

def _digest(metadata, arrays):
    """SHA-256 over the canonical JSON metadata (without its digest) and every array."""
    hasher = hashlib.sha256()
    hasher.update(json.dumps({key: value for key, value in metadata.items() if key != "digest"},
                             sort_keys=True).encode())
    for key in sorted(arrays):
        array = np.ascontiguousarray(arrays[key])
        hasher.update(f"{key}|{array.dtype.str}|{array.shape}|".encode())
        hasher.update(array.tobytes())
    return hasher.hexdigest()


def save(path, network, extra=None):
    """Write ``network`` (and a JSON-able dict ``extra``, e.g. training progress) to ``path`` atomically."""
    metadata, arrays = describe_network(network)
    metadata["extra"] = extra if extra is not None else {}
    metadata["digest"] = _digest(metadata, arrays)
    payload = dict(arrays)
    payload[METADATA_KEY] = np.frombuffer(json.dumps(metadata).encode(), dtype=np.uint8)
    atomic_write(path, lambda file_object: np.savez(file_object, **payload))
    return Path(path)


def read_checkpoint(path):
    """Load a checkpoint; return ``(network, extra)``. Never unpickles anything."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except FileNotFoundError:
        raise
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as error:
        raise CheckpointError(f"{path}: not a readable normnet checkpoint (.npz): {error}") from None
    if METADATA_KEY not in arrays:
        raise CheckpointError(f"{path}: not a normnet checkpoint (no {METADATA_KEY} entry)")
    try:
        metadata = json.loads(arrays.pop(METADATA_KEY).tobytes().decode())
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CheckpointError(f"{path}: damaged metadata: {error}") from None
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a normnet checkpoint (format {metadata.get('format')!r}"
                              f" instead of {FORMAT!r})" if isinstance(metadata, dict)
                              else f"{path}: not a normnet checkpoint")
    if metadata.get("version") != VERSION:
        raise CheckpointError(f"{path}: checkpoint version {metadata.get('version')} is not supported "
                              f"(this normnet reads version {VERSION})")
    expected = metadata.get("digest")
    actual = _digest(metadata, arrays)
    if expected != actual:
        raise CheckpointError(f"{path}: checkpoint was modified or damaged: digest {actual} does not "
                              f"match the recorded {expected}")
    try:
        network = rebuild_network(metadata, arrays)
    except CheckpointError:
        raise
    except (KeyError, TypeError, ValueError) as error:
        raise CheckpointError(f"{path}: inconsistent checkpoint: {error}") from None
    return network, metadata.get("extra", {})


def load(path, data_layer=None):
    """Load a network saved by :func:`save`; attach ``data_layer`` if given."""
    network, _ = read_checkpoint(path)
    network.data_layer = data_layer
    return network
