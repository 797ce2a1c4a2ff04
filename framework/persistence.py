"""Saving and loading networks: one ``.npz`` file, arrays plus JSON metadata.

The file holds every array of the network (kernels, biases, batch-norm running
moments, optimizer state) and one entry ``metadata.json``: a JSON document
describing the architecture (layer types and constructor arguments), the
optimizer, the regularizer and the loss, enough to rebuild the network without
the code that built it. A SHA-256 digest over the metadata and every array
detects a damaged file. The digest is no signature (anyone can recompute it), so
loading trusts nothing in the file and checks it in this order, allocating
nothing large before the last step:

1. The file is a regular file (a FIFO, pipe or device is refused before it is opened) and at
   most ``max_bytes`` long (``MAX_CHECKPOINT_BYTES`` unless raised).
2. ``metadata.json`` (at most ``MAX_METADATA_BYTES``) is parsed and checked field by
   field: JSON types, ranges, known names. An error names the file and the field,
   e.g. ``net.npz: layers[3].arguments.output_size: expected a positive integer, got "x"``.
3. The layer arguments alone determine every array the network needs, with its
   shape and dtype (``FullyConnected(input_size, output_size)`` → weights
   ``(output_size, input_size)``); their total size must stay within ``max_bytes``.
4. Every member of the archive is compared with that list using only its ``.npy``
   header: name, dtype, shape, the size the header implies against the size the
   archive records, and a sane compression ratio. A member nobody needs is refused
   unread.
5. Only then are the arrays read, with ``allow_pickle=False``, the digest compared,
   and the layers built from a fixed table of classes (``layers.fast.LAYERS`` or the
   teaching layers' ``layers.LAYERS``), so loading a file can never run code.

Writes are atomic: the file is written beside its destination under a temporary
name and then renamed, so a crash never leaves half a checkpoint; the new file gets
the permissions the umask gives any new file.
"""
import hashlib
import json
import math
import os
import re
import zipfile
import zlib
from pathlib import Path

import numpy as np

from data.files import atomic_write  # (re-exported: the one atomic writer of normnet)
from data.files import NotRegularFileError, open_regular
from data.json_values import json_value  # (re-exported: the one JSON sanitizer of normnet)

FORMAT = "normnet-checkpoint"
VERSION = 1
METADATA_KEY = "metadata.json"

MAX_CHECKPOINT_BYTES = 2 * 1024 ** 3
"""Largest checkpoint file, and largest total of the arrays it declares, that ``load`` accepts
(``max_bytes=`` raises it). LeNet's checkpoint is well under a megabyte."""
MAX_METADATA_BYTES = 8 * 1024 ** 2
"""Largest ``metadata.json``; a run's metadata (layers, loss history, progress) is kilobytes."""
MAX_LAYERS = 10_000
MAX_COMPRESSION_RATIO = 100
"""A compressed member that inflates more than this (and past a mebibyte) is refused: weights
do not compress like that, a zip bomb does. normnet itself writes uncompressed members."""
_LARGEST_DIMENSION = 2 ** 31 - 1
_LARGEST_STEP = 2 ** 53


class CheckpointError(ValueError):
    """A file that is not a valid normnet checkpoint (foreign, truncated, tampered or malformed)."""


# -- the schema of the metadata --------------------------------------------------------------
#
# Each check takes the JSON value and where it sits (``layers[3].arguments.output_size``) and
# returns the value or raises CheckpointError naming that place, what it expected and what came.

def _shown(value):
    """A JSON value as the message shows it: strings quoted, containers by kind, long ones cut."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."


def field_error(where, expected, value):
    """The CheckpointError for the field at ``where`` holding ``value`` instead of ``expected``."""
    return CheckpointError(f"{where}: expected {expected}, got {_shown(value)}")


def _fail(where, expected, value):
    raise field_error(where, expected, value)


def _object(value, where, required, optional=()):
    if not isinstance(value, dict):
        _fail(where, "an object", value)
    unknown = [key for key in value if key not in required and key not in optional]
    if unknown:
        raise CheckpointError(f"{where}: unknown field {unknown[0]!r} (expected only "
                              f"{', '.join(tuple(required) + tuple(optional)) or 'no fields'})")
    missing = [key for key in required if key not in value]
    if missing:
        raise CheckpointError(f"{where}.{missing[0]}: missing")
    return value


def _integer(value, where, low, high, expected=None):
    if type(value) is not int or not low <= value <= high:
        _fail(where, expected or f"an integer in [{low}, {high}]", value)
    return value


def _positive_integer(value, where):
    return _integer(value, where, 1, _LARGEST_DIMENSION,
                    f"a positive integer (at most {_LARGEST_DIMENSION})")


def _number(value, where, low, high, low_open=False, high_open=False):
    interval = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    if type(value) not in (int, float) or not math.isfinite(value) \
            or (value <= low if low_open else value < low) or (value >= high if high_open else value > high):
        _fail(where, f"a finite number in {interval}", value)
    return float(value)


def _choice(value, where, choices, what="one of"):
    if not isinstance(value, str) or value not in choices:
        _fail(where, f"{what} {', '.join(json.dumps(choice) for choice in choices)}", value)
    return value


def _boolean(value, where):
    if type(value) is not bool:
        _fail(where, "true or false", value)
    return value


def _list(value, where, lengths=None):
    if not isinstance(value, list) or (lengths is not None and len(value) not in lengths):
        count = "" if lengths is None else f" of {' or '.join(map(str, lengths))} entries"
        _fail(where, f"a list{count}", value)
    return value


def _shape(lengths):
    def check(value, where):
        _list(value, where, lengths)
        return tuple(_positive_integer(entry, f"{where}[{index}]") for index, entry in enumerate(value))
    return check


def _float_dtype(value, where):
    return _choice(value, where, ("float32", "float64"))


def _keep_probability(value, where):
    return _number(value, where, 0, 1, low_open=True)


def _positive_number(value, where):
    return _number(value, where, 0, math.inf, low_open=True, high_open=True)


# The constructor arguments of every layer type a checkpoint may name, in the order the
# constructors take them, with their checks. The classes come from layers.LAYERS or
# layers.fast.LAYERS (one registry per family); these names must match theirs.
LAYER_ARGUMENTS = {
    "FullyConnected": {"input_size": _positive_integer, "output_size": _positive_integer,
                       "dtype": _float_dtype},
    "Conv": {"stride_shape": _shape((1, 2)), "convolution_shape": _shape((2, 3)),
             "num_kernels": _positive_integer, "dtype": _float_dtype},
    "Pooling": {"stride_shape": _shape((1, 2)), "pooling_shape": _shape((1, 2))},
    "Dropout": {"probability": _keep_probability, "inverted": _boolean},
    "BatchNormalization": {"channels": _positive_integer, "dtype": _float_dtype, "epsilon": _positive_number},
    "ReLU": {}, "SoftMax": {}, "TanH": {}, "Sigmoid": {}, "Flatten": {}, "GlobalAveragePooling": {},
}
TRAINABLE_LAYERS = ("FullyConnected", "Conv", "BatchNormalization")
BATCH_NORM_STATE = ("running_mean", "running_variance")
# The hyperparameters stored for each optimizer type besides the learning rate, and its state arrays.
OPTIMIZER_FIELDS = {"Sgd": (), "SgdWithMomentum": ("momentum_rate",), "Adam": ("mu", "rho", "step")}
OPTIMIZER_STATE = {"Sgd": (), "SgdWithMomentum": ("velocity",), "Adam": ("first_moment", "second_moment")}
LOSS_REDUCTIONS = ("sum", "mean")


def parameter_shapes(kind, arguments):
    """``(weights shape, bias shape)`` that a layer's checked ``arguments`` call for, or None for a
    layer without parameters; worked out without building the layer (which would allocate them).
    It agrees with the layers' own ``parameter_shapes()`` (a test checks)."""
    if kind == "FullyConnected":
        return (arguments["output_size"], arguments["input_size"]), (arguments["output_size"],)
    if kind == "Conv":
        return (arguments["num_kernels"],) + arguments["convolution_shape"], (arguments["num_kernels"],)
    if kind == "BatchNormalization":
        return (arguments["channels"],), (arguments["channels"],)
    return None


def _layer_classes(fast):
    if fast:
        from layers.fast import LAYERS
    else:
        from layers import LAYERS
    return LAYERS


def layer_switches(kind):
    """The switches a checkpoint may set on a layer of type ``kind``: attributes that change how
    the layer runs but are not constructor arguments (Conv's ``compute_input_gradient``), as
    its classes declare them in ``switches``. Each is a bool; nothing else may be set."""
    return tuple(dict.fromkeys(name for fast in (True, False)
                               for name in getattr(_layer_classes(fast).get(kind), "switches", ())))


def _optimizer_classes():
    from optimizers import OPTIMIZERS

    # Checkpoints store class names ("Adam"); the registry is keyed by command-line names ("adam").
    return {optimizer.__name__: optimizer for optimizer in OPTIMIZERS.values()}


def _regularizer_classes():
    from regularizers import REGULARIZERS

    return {regularizer.__name__: regularizer for regularizer in REGULARIZERS.values() if regularizer is not None}


class _Member:
    """An array the metadata calls for: its key in the archive, shape and dtype."""

    def __init__(self, key, shape, dtype):
        self.key, self.shape, self.dtype = key, tuple(shape), np.dtype(dtype)

    @property
    def nbytes(self):
        return math.prod(self.shape) * self.dtype.itemsize


class _Plan:
    """What checked metadata calls for: the arrays (``members``; the ``required`` ones, and in
    ``together`` the groups whose arrays come all or none), and ``layers``: each layer's type
    and checked constructor arguments."""

    def __init__(self):
        self.members = {}
        self.required = set()
        self.together = []
        self.layers = []

    def need(self, key, shape, dtype, required=True):
        self.members[key] = _Member(key, shape, dtype)
        if required:
            self.required.add(key)


def _check_rng_state(value, where):
    _object(value, where, ("bit_generator", "state", "has_uint32", "uinteger"))
    _choice(value["bit_generator"], f"{where}.bit_generator", ("PCG64",))
    _object(value["state"], f"{where}.state", ("state", "inc"))
    for name in ("state", "inc"):
        _integer(value["state"][name], f"{where}.state.{name}", 0, 2 ** 128 - 1)
    _integer(value["has_uint32"], f"{where}.has_uint32", 0, 1)
    _integer(value["uinteger"], f"{where}.uinteger", 0, 2 ** 32 - 1)


def _check_optimizer(value, where, plan=None, prefix=None, shape=None, dtype=None):
    """Check an optimizer's description; with ``plan``, call for its state arrays at ``shape``."""
    if value is None:
        return
    kinds = _optimizer_classes()
    if not isinstance(value, dict):
        _fail(where, "an object or null", value)
    kind = _choice(value.get("type"), f"{where}.type", tuple(kinds), "an optimizer, one of")
    _object(value, where, ("type", "learning_rate") + OPTIMIZER_FIELDS[kind], ("regularizer",))
    _number(value["learning_rate"], f"{where}.learning_rate", 0, math.inf, low_open=True, high_open=True)
    for name in ("momentum_rate", "mu", "rho"):
        if name in value:
            _number(value[name], f"{where}.{name}", 0, 1, high_open=True)
    if "step" in value:
        _integer(value["step"], f"{where}.step", 0, _LARGEST_STEP)
    if value.get("regularizer") is not None:
        regularizer = _object(value["regularizer"], f"{where}.regularizer", ("type", "alpha"), ("coupled",))
        if type(regularizer.get("coupled", False)) is not bool:
            _fail(f"{where}.regularizer.coupled", "true or false", regularizer["coupled"])
        _choice(regularizer["type"], f"{where}.regularizer.type", tuple(_regularizer_classes()),
                "a regularizer, one of")
        _number(regularizer["alpha"], f"{where}.regularizer.alpha", 0, math.inf, high_open=True)
    if plan is None:
        return
    state = [f"{prefix}.{name}" for name in OPTIMIZER_STATE[kind]]
    if kind == "Adam":
        # Adam creates its moments at its first step: they are there exactly when step > 0.
        for key in state:
            plan.need(key, shape, dtype, required=value["step"] > 0)
        if value["step"] == 0:
            plan.together.append((f"{where}.step is 0, so no moments", state, "none"))
    else:
        for key in state:
            plan.need(key, shape, dtype, required=False)


def check_metadata(metadata, fast=True):
    """Check ``metadata`` (parsed JSON) against the schema; return the :class:`_Plan` of the
    arrays it calls for. Raises CheckpointError naming the first field that fails."""
    if not isinstance(metadata, dict):
        _fail("metadata", "an object", metadata)
    if metadata.get("format") != FORMAT:
        raise CheckpointError(f"not a normnet checkpoint (format {_shown(metadata.get('format'))} "
                              f"instead of {json.dumps(FORMAT)})")
    if type(metadata.get("version")) is not int or metadata["version"] != VERSION:
        raise CheckpointError(f"version: this normnet reads checkpoint version {VERSION} (the integer), "
                              f"got {_shown(metadata.get('version'))}")
    _object(metadata, "metadata", ("format", "version", "layers", "digest"),
            ("optimizer", "loss", "loss_history", "extra"))
    digest = metadata["digest"]
    if not isinstance(digest, str) or not re.fullmatch(r"[0-9a-f]{64}", digest):
        _fail("digest", "64 hexadecimal digits", digest)
    _check_optimizer(metadata.get("optimizer"), "optimizer")
    if metadata.get("loss") is not None:
        loss = _object(metadata["loss"], "loss", ("type",), ("reduction",))
        _choice(loss["type"], "loss.type", ("CrossEntropyLoss",))
        _choice(loss.get("reduction", "sum"), "loss.reduction", LOSS_REDUCTIONS)
    for index, value in enumerate(_list(metadata.get("loss_history", []), "loss_history")):
        if type(value) not in (int, float):
            _fail(f"loss_history[{index}]", "a number", value)
    if not isinstance(metadata.get("extra", {}), dict):
        _fail("extra", "an object", metadata["extra"])

    layers = _list(metadata["layers"], "layers")
    if len(layers) > MAX_LAYERS:
        raise CheckpointError(f"layers: {len(layers)} layers is more than the limit of {MAX_LAYERS}")
    classes = _layer_classes(fast)
    plan = _Plan()
    for index, entry in enumerate(layers):
        where = f"layers[{index}]"
        if not isinstance(entry, dict):
            _fail(where, "an object", entry)
        kind = entry.get("type")
        if not isinstance(kind, str) or kind not in LAYER_ARGUMENTS or kind not in classes:
            raise CheckpointError(f"{where}.type: unknown layer {kind!r}; expected one of "
                                  f"{', '.join(name for name in LAYER_ARGUMENTS if name in classes)}")
        trainable = kind in TRAINABLE_LAYERS
        optional = ("switches", "rng_state") + (("weights_optimizer", "bias_optimizer") if trainable else ())
        _object(entry, where, ("type", "arguments"), optional)
        checks = LAYER_ARGUMENTS[kind]
        values = _object(entry["arguments"], f"{where}.arguments", tuple(checks))
        arguments = {name: check(values[name], f"{where}.arguments.{name}") for name, check in checks.items()}
        switches = _object(entry.get("switches", {}), f"{where}.switches", (), layer_switches(kind))
        for name, value in switches.items():
            _boolean(value, f"{where}.switches.{name}")
        if "rng_state" in entry:
            _check_rng_state(entry["rng_state"], f"{where}.rng_state")
        plan.layers.append((kind, arguments))
        if not trainable:
            continue
        prefix = f"layers.{index}"
        dtype = arguments["dtype"]
        weights_shape, bias_shape = parameter_shapes(kind, arguments)
        plan.need(f"{prefix}.weights", weights_shape, dtype)
        plan.need(f"{prefix}.bias", bias_shape, dtype)
        for name, shape in (("weights", weights_shape), ("bias", bias_shape)):
            _check_optimizer(entry.get(f"{name}_optimizer"), f"{where}.{name}_optimizer", plan,
                             f"{prefix}.{name}_optimizer", shape, dtype)
        if kind == "BatchNormalization":
            state = [f"{prefix}.{name}" for name in BATCH_NORM_STATE]
            for key in state:
                plan.need(key, bias_shape, dtype, required=False)
            plan.together.append((f"{where}: running moments", state, "both or neither"))
    return plan


# -- network → (metadata, arrays) ------------------------------------------------------------

def _describe_optimizer(optimizer, prefix, arrays):
    """The optimizer's description; its state goes into ``arrays`` (None: the network's
    prototype optimizer, which is only ever copied, so it has no state worth keeping)."""
    if optimizer is None:
        return None
    kind = type(optimizer).__name__
    if _optimizer_classes().get(kind) is not type(optimizer):
        raise TypeError(f"save: the optimizer is a {kind}, which normnet cannot save; "
                        f"known optimizers: {', '.join(_optimizer_classes())}")
    description = {"type": kind, "learning_rate": json_value(optimizer.learning_rate)}
    for name in OPTIMIZER_FIELDS[kind]:
        description[name] = json_value(getattr(optimizer, name))
    if arrays is not None:
        for name in OPTIMIZER_STATE[kind]:
            if getattr(optimizer, name, None) is not None:
                arrays[f"{prefix}.{name}"] = np.asarray(getattr(optimizer, name))
    regularizer = optimizer.regularizer
    if regularizer is not None:
        description["regularizer"] = {"type": type(regularizer).__name__, "alpha": json_value(regularizer.alpha)}
        if optimizer.coupled_regularization:  # written only when set: older files stay as they were
            description["regularizer"]["coupled"] = True
    return description


def describe_network(network):
    """Return ``(metadata, arrays)``: the JSON-able description and the arrays of ``network``."""
    arrays = {}
    layers = []
    for index, layer in enumerate(network.layers):
        kind = type(layer).__name__
        if kind not in LAYER_ARGUMENTS:
            raise TypeError(f"save: layer {index} is a {kind}, which normnet cannot save; "
                            f"known layers: {', '.join(LAYER_ARGUMENTS)}")
        entry = {"type": kind, "arguments": {name: json_value(getattr(layer, name)) for name in LAYER_ARGUMENTS[kind]}}
        switches = {name: bool(getattr(layer, name)) for name in getattr(type(layer), "switches", ())}
        if switches:
            entry["switches"] = switches
        if getattr(layer, "rng", None) is not None:
            entry["rng_state"] = json_value(layer.rng.bit_generator.state)
        prefix = f"layers.{index}"
        if layer.trainable:
            layer.check_parameters()  # a kernel assigned at a wrong shape is refused, not saved
            arrays[f"{prefix}.weights"] = layer.weights
            arrays[f"{prefix}.bias"] = layer.bias
            entry["weights_optimizer"] = _describe_optimizer(layer.weights_optimizer, f"{prefix}.weights_optimizer", arrays)
            entry["bias_optimizer"] = _describe_optimizer(layer.bias_optimizer, f"{prefix}.bias_optimizer", arrays)
        if kind == "BatchNormalization":
            for name in BATCH_NORM_STATE:
                if getattr(layer, name, None) is not None:
                    arrays[f"{prefix}.{name}"] = np.asarray(getattr(layer, name))
        layers.append(entry)
    loss = network.loss_layer
    if loss is not None and type(loss).__name__ != "CrossEntropyLoss":
        raise TypeError(f"save: the loss is a {type(loss).__name__}; normnet saves CrossEntropyLoss only")
    metadata = {
        "format": FORMAT,
        "version": VERSION,
        "layers": layers,
        "optimizer": _describe_optimizer(network.optimizer, "optimizer", None),
        "loss": {"type": "CrossEntropyLoss", "reduction": getattr(loss, "reduction", "sum")} if loss else None,
        "loss_history": [float(value) for value in network.loss],
    }
    return metadata, arrays


# -- (checked metadata, arrays) → network ----------------------------------------------------

def _rebuild_optimizer(description, prefix, arrays, where):
    if description is None:
        return None
    kind = _optimizer_classes()[description["type"]]
    hyperparameters = [description[name] for name in OPTIMIZER_FIELDS[description["type"]] if name != "step"]
    optimizer = _built(where, kind, description["learning_rate"], *hyperparameters)
    if "step" in description:
        optimizer.step = description["step"]
    for name in OPTIMIZER_STATE[description["type"]]:
        if f"{prefix}.{name}" in arrays:
            setattr(optimizer, name, arrays[f"{prefix}.{name}"])
    if description.get("regularizer") is not None:
        regularizer = _regularizer_classes()[description["regularizer"]["type"]]
        optimizer.add_regularizer(_built(f"{where}.regularizer", regularizer, description["regularizer"]["alpha"]),
                                  coupled=description["regularizer"].get("coupled", False))
    return optimizer


def _built(where, kind, *arguments, **keywords):
    """``kind(...)``, its own argument errors (e.g. a stride of the wrong length) as CheckpointError."""
    try:
        return kind(*arguments, **keywords)
    except (TypeError, ValueError) as error:
        raise CheckpointError(f"{where}: {error}") from None


def rebuild_network(metadata, arrays, fast=True):
    """Inverse of :func:`describe_network`; checks ``metadata`` first (see :func:`check_metadata`)."""
    from layers.initializers import Constant
    from framework.losses import CrossEntropyLoss
    from framework.neural_network import NeuralNetwork

    plan = check_metadata(metadata, fast)
    _check_arrays(plan, {key: (np.asarray(array).dtype, np.shape(array)) for key, array in arrays.items()})
    classes = _layer_classes(fast)
    optimizer = _rebuild_optimizer(metadata.get("optimizer"), "optimizer", arrays, "optimizer")
    # The initializers are never used again: the layers come with their trained parameters.
    network = NeuralNetwork(optimizer, Constant(0.0), Constant(0.0))
    for index, ((kind, arguments), entry) in enumerate(zip(plan.layers, metadata["layers"])):
        where = f"layers[{index}]"
        layer = _built(where, classes[kind], **arguments)
        for name, value in entry.get("switches", {}).items():
            # A switch the built class lacks changes speed only: the teaching Conv always
            # computes the input gradient, and its results are the same.
            if name in getattr(type(layer), "switches", ()):
                setattr(layer, name, value)
        if "rng_state" in entry:
            if not hasattr(layer, "rng"):
                raise CheckpointError(f"{where}.rng_state: a {kind} draws no random numbers")
            layer.rng = np.random.Generator(np.random.PCG64())
            layer.rng.bit_generator.state = entry["rng_state"]
        prefix = f"layers.{index}"
        if layer.trainable:
            layer.weights = arrays[f"{prefix}.weights"]
            layer.bias = arrays[f"{prefix}.bias"]
            layer.restore_optimizers(
                _rebuild_optimizer(entry.get("weights_optimizer"), f"{prefix}.weights_optimizer", arrays,
                                   f"{where}.weights_optimizer"),
                _rebuild_optimizer(entry.get("bias_optimizer"), f"{prefix}.bias_optimizer", arrays,
                                   f"{where}.bias_optimizer"))
        if kind == "BatchNormalization":
            for name in BATCH_NORM_STATE:
                if f"{prefix}.{name}" in arrays:
                    setattr(layer, name, arrays[f"{prefix}.{name}"])
        network.layers.append(layer)
    if metadata.get("loss") is not None:
        network.loss_layer = CrossEntropyLoss(metadata["loss"].get("reduction", "sum"))
    network.loss = [float(value) for value in metadata.get("loss_history", [])]
    return network


def _check_arrays(plan, stored):
    """Compare ``stored`` ({key: (dtype, shape)}) with what ``plan`` calls for."""
    for key in stored:
        if key not in plan.members:
            raise CheckpointError(f"the archive holds a member {key!r} that the metadata does not call for "
                                  f"(a modified or foreign file)")
    for key, (dtype, shape) in stored.items():
        member = plan.members[key]
        if dtype != member.dtype:
            raise CheckpointError(f"{key}: the metadata calls for {member.dtype.name}, the stored array is "
                                  f"{dtype.str if dtype.kind != 'O' else 'object'} (a modified or damaged file)")
        if tuple(shape) != member.shape:
            raise CheckpointError(f"{key}: the metadata calls for shape {member.shape}, the stored array has "
                                  f"{tuple(shape)} (a modified or damaged file)")
    missing = sorted(plan.required - set(stored))
    if missing:
        raise CheckpointError(f"the archive lacks the array {missing[0]!r}")
    for what, keys, rule in plan.together:
        present = [key for key in keys if key in stored]
        if (rule == "none" and present) or (rule == "both or neither" and 0 < len(present) < len(keys)):
            raise CheckpointError(f"{what}: expected {rule} of {', '.join(keys)}, found {', '.join(present)}")


# -- files ------------------------------------------------------------------------------------

def _digest(metadata, arrays):
    """SHA-256 over the canonical JSON metadata (without its digest) and every array."""
    hasher = hashlib.sha256()
    hasher.update(json.dumps({key: value for key, value in metadata.items() if key != "digest"},
                             sort_keys=True).encode())
    for key in sorted(arrays):
        array = np.ascontiguousarray(arrays[key])
        hasher.update(f"{key}|{array.dtype.str}|{array.shape}|".encode())
        hasher.update(array.reshape(-1).view(np.uint8))
    return hasher.hexdigest()


def save(path, network, extra=None):
    """Write ``network`` (and a JSON-able dict ``extra``, e.g. training progress) to ``path`` atomically."""
    metadata, arrays = describe_network(network)
    metadata["extra"] = json_value(extra) if extra is not None else {}
    metadata["digest"] = _digest(metadata, arrays)
    payload = dict(arrays)
    payload[METADATA_KEY] = np.frombuffer(json.dumps(metadata).encode(), dtype=np.uint8)
    atomic_write(path, lambda stream: np.savez(stream, **payload))
    return Path(path)


# What reading a damaged archive or .npy member can raise; all of it means "damaged file".
_DAMAGE = (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, TypeError, SyntaxError,
           NotImplementedError, RuntimeError, OverflowError)


def _member_header(archive, info):
    """``(dtype, shape, size)`` of a ``.npy`` member from its header alone; ``size`` is the member's
    length that the header implies (header plus data). The data is not read."""
    with archive.open(info) as stream:
        version = np.lib.format.read_magic(stream)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(stream)
        elif version == (2, 0):
            shape, _, dtype = np.lib.format.read_array_header_2_0(stream)
        else:
            raise CheckpointError(f"{info.filename}: .npy format version {version} is not one normnet writes")
        header_size = stream.tell()
    if dtype.kind == "O" or dtype.fields is not None or dtype.subdtype is not None:
        return dtype, shape, None
    return dtype, shape, header_size + math.prod(shape) * dtype.itemsize


def _checked_member(archive, info, expected_dtype, expected_shape=None):
    """The header of one member, checked against the dtype (and shape) the metadata calls for and
    against the archive's record of its size, before any of its data is read."""
    try:
        dtype, shape, size = _member_header(archive, info)
    except CheckpointError:
        raise
    except _DAMAGE as error:
        raise CheckpointError(f"{info.filename}: damaged .npy member ({error})") from None
    key = info.filename[:-len(".npy")]
    if dtype != expected_dtype:
        raise CheckpointError(f"{key}: the metadata calls for {np.dtype(expected_dtype).name}, the stored "
                              f"array is {dtype.str if dtype.kind != 'O' else 'object'} (a modified or damaged file)")
    if expected_shape is not None and tuple(shape) != tuple(expected_shape):
        raise CheckpointError(f"{key}: the metadata calls for shape {tuple(expected_shape)}, the stored array "
                              f"has {tuple(shape)} (a modified or damaged file)")
    if size != info.file_size:
        raise CheckpointError(f"{key}: its header implies {size} bytes, the archive records {info.file_size} "
                              f"(a truncated or modified file)")
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise CheckpointError(f"{key}: compression method {info.compress_type} is not one numpy writes")
    if (info.compress_type != zipfile.ZIP_STORED and info.file_size > 2 ** 20
            and info.file_size > MAX_COMPRESSION_RATIO * max(info.compress_size, 1)):
        raise CheckpointError(f"{key}: {info.compress_size} compressed bytes would inflate to {info.file_size} "
                              f"(more than {MAX_COMPRESSION_RATIO} times): refused")
    return dtype, shape


def _read_member(archive, info):
    try:
        with archive.open(info) as stream:
            return np.lib.format.read_array(stream, allow_pickle=False)
    except _DAMAGE as error:
        raise CheckpointError(f"{info.filename}: damaged .npy member ({error})") from None


def _read_metadata(archive, members):
    if METADATA_KEY not in members:
        raise CheckpointError(f"not a normnet checkpoint (no {METADATA_KEY} entry)")
    info = members[METADATA_KEY]
    if info.file_size > MAX_METADATA_BYTES + 1024:
        raise CheckpointError(f"{METADATA_KEY}: {info.file_size} bytes is more than the limit of "
                              f"{MAX_METADATA_BYTES}")
    _, shape = _checked_member(archive, info, np.uint8)
    if len(shape) != 1:
        raise CheckpointError(f"{METADATA_KEY}: expected a 1-D array of bytes, got shape {shape}")
    raw = _read_member(archive, info)
    try:
        return json.loads(raw.tobytes().decode())
    except RecursionError:
        raise CheckpointError(f"{METADATA_KEY}: nested too deeply to be normnet metadata") from None
    except (UnicodeDecodeError, ValueError) as error:  # json.JSONDecodeError is a ValueError
        raise CheckpointError(f"{METADATA_KEY}: damaged metadata: {error}") from None


def _read_checked(path, fast, max_bytes):
    try:
        stream = open_regular(path)
    except NotRegularFileError as error:
        raise CheckpointError(str(error)) from None
    with stream:
        # The size of the open file, the one that is read: a path's size can change, a device's is 0.
        size = os.fstat(stream.fileno()).st_size
        if size > max_bytes:
            raise CheckpointError(f"{size} bytes is more than the limit of {max_bytes} bytes for a checkpoint "
                                  f"(pass max_bytes= to load a larger one)")
        return _read_archive(stream, fast, max_bytes)


def _read_archive(stream, fast, max_bytes):
    try:
        archive = zipfile.ZipFile(stream)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError, OverflowError) as error:
        raise CheckpointError(f"not a readable normnet checkpoint (.npz): {error}") from None
    with archive:
        members = {}
        for info in archive.infolist():
            if not info.filename.endswith(".npy") or info.filename[:-4] in members:
                raise CheckpointError(f"the archive holds a member {info.filename!r} that no normnet "
                                      f"checkpoint has (a modified or foreign file)")
            members[info.filename[:-4]] = info
        metadata = _read_metadata(archive, members)
        plan = check_metadata(metadata, fast)
        declared = sum(member.nbytes for member in plan.members.values())
        if declared > max_bytes:
            raise CheckpointError(f"the metadata declares arrays of {declared} bytes, more than the limit "
                                  f"of {max_bytes} bytes (pass max_bytes= to load a larger network)")
        del members[METADATA_KEY]
        headers = {}
        for key, info in members.items():
            if key not in plan.members:
                raise CheckpointError(f"the archive holds a member {key!r} that the metadata does not call "
                                      f"for (a modified or foreign file)")
            member = plan.members[key]
            headers[key] = _checked_member(archive, info, member.dtype, member.shape)
        _check_arrays(plan, headers)
        arrays = {key: _read_member(archive, info) for key, info in members.items()}
    expected, actual = metadata["digest"], _digest(metadata, arrays)
    if expected != actual:
        raise CheckpointError(f"checkpoint was modified or damaged: digest {actual} does not match "
                              f"the recorded {expected}")
    return rebuild_network(metadata, arrays, fast), metadata.get("extra", {})


def read_checkpoint(path, fast=True, max_bytes=MAX_CHECKPOINT_BYTES):
    """Load a checkpoint; return ``(network, extra)``. Never unpickles anything.

    ``fast``: build the layers from ``layers.fast.LAYERS`` (True) or the teaching layers
    ``layers.LAYERS`` (False). ``max_bytes``: the largest file, and largest total of arrays,
    accepted. Every failure of the file is a :class:`CheckpointError` naming the file (a
    missing file stays a FileNotFoundError).
    """
    path = Path(path)
    try:
        return _read_checked(path, fast, max_bytes)
    except CheckpointError as error:
        raise CheckpointError(f"{path}: {error}") from None


def load(path, data_layer=None, fast=True, max_bytes=MAX_CHECKPOINT_BYTES):
    """Load a network saved by :func:`save`; attach ``data_layer`` if given (see :func:`read_checkpoint`)."""
    network, _ = read_checkpoint(path, fast, max_bytes)
    network.data_layer = data_layer
    return network
