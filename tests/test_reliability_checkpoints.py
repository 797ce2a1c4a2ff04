"""Loading a checkpoint trusts nothing in the file: malformed metadata, arrays that disagree with
it, files built to exhaust memory and files built to run code all end in one CheckpointError that
names the file and the field, before anything large is allocated."""
import inspect
import io
import json
import os
import tracemalloc
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest

from framework import NeuralNetwork, load, save
from framework.initializers import Constant, He
from framework.losses import CrossEntropyLoss
from framework.persistence import (LAYER_ARGUMENTS, MAX_METADATA_BYTES, METADATA_KEY, CheckpointError, _digest,
                                   parameter_shapes, read_checkpoint)
from optimizers import Adam
from regularizers import L2Regularizer
from tests.helpers import FixedBatch

FIXTURES = Path(__file__).resolve().parent / "fixtures"
MEBIBYTE = 2 ** 20




def small_network(fast=True):
    """Conv, BatchNormalization, Pooling, FullyConnected, Dropout with Adam and L2, trained three
    steps: every kind of array and metadata field a checkpoint holds, in a few kilobytes. (The
    fixture checkpoint_v1.npz holds the same network, written by normnet as of commit 85442d2.)"""
    import layers
    import layers.fast

    family = layers.fast if fast else layers
    rng = np.random.default_rng(20)
    optimizer = Adam(1e-2, 0.9, 0.999)
    optimizer.add_regularizer(L2Regularizer(1e-3))
    network = NeuralNetwork(optimizer, He(rng), Constant(0.1))
    conv = family.Conv((1, 1), (1, 3, 3), 2, dtype=np.float32)
    for layer in (conv, family.BatchNormalization(2, dtype=np.float32), family.ReLU(), family.Pooling((2, 2), (2, 2)),
                  family.Flatten(), family.FullyConnected(32, 5, dtype=np.float32),
                  family.Dropout(0.5, rng=np.random.default_rng(5)), family.TanH(),
                  family.FullyConnected(5, 3, dtype=np.float32), family.SoftMax()):
        network.append_layer(layer)
    network.loss_layer = CrossEntropyLoss()
    images = rng.random((4, 1, 8, 8)).astype(np.float32)
    network.data_layer = FixedBatch(images, np.eye(3, dtype=np.float32)[[0, 1, 2, 1]])
    network.train(3)
    return network


PROBE = np.linspace(0, 1, 2 * 64, dtype=np.float32).reshape(2, 1, 8, 8)


@pytest.fixture
def checkpoint(tmp_path):
    return save(tmp_path / "net.npz", small_network())


def contents(path):
    """(metadata, arrays) of a checkpoint, read without any of normnet's checks."""
    with np.load(path, allow_pickle=False) as archive:
        arrays = {key: archive[key] for key in archive.files}
    return json.loads(arrays.pop(METADATA_KEY).tobytes()), arrays


def write(path, metadata, arrays, redigest=True):
    """Write a checkpoint as normnet would, with the digest recomputed: what an attacker can do."""
    if redigest:
        metadata["digest"] = _digest(metadata, arrays)
    payload = dict(arrays)
    payload[METADATA_KEY] = np.frombuffer(json.dumps(metadata).encode(), dtype=np.uint8)
    np.savez(path, **payload)
    return path


def crafted(path, change):
    """The checkpoint at ``path`` rewritten with ``change(metadata, arrays)`` applied, digest recomputed."""
    metadata, arrays = contents(path)
    change(metadata, arrays)
    return write(path, metadata, arrays)


def refusal(path, **options):
    with pytest.raises(CheckpointError) as error_info:
        read_checkpoint(path, **options)
    message = str(error_info.value)
    assert message.startswith(f"{path}: ") and "\n" not in message
    return message


def set_field(*keys, value):
    def change(metadata, _):
        target = metadata
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value
    return change


# -- malformed metadata ------------------------------------------------------------------------

@pytest.mark.parametrize("change, message", [
    (set_field("layers", 2, value="ReLU"), 'layers[2]: expected an object, got "ReLU"'),
    (set_field("layers", value={"0": {}}), "layers: expected a list, got an object"),
    (set_field("optimizer", value="adam"), 'optimizer: expected an object or null, got "adam"'),
    (set_field("layers", 0, "weights_optimizer", "step", value=float("inf")),
     "layers[0].weights_optimizer.step: expected an integer in [0, 9007199254740992], got Infinity"),
    (set_field("layers", 0, "weights_optimizer", "step", value=-1), "layers[0].weights_optimizer.step"),
    (set_field("layers", 0, "weights_optimizer", "learning_rate", value=float("nan")),
     "layers[0].weights_optimizer.learning_rate: expected a finite number in (0, inf), got NaN"),
    (set_field("layers", 5, "arguments", "output_size", value="x"),
     'layers[5].arguments.output_size: expected a positive integer (at most 2147483647), got "x"'),
    (set_field("layers", 5, "arguments", "output_size", value=True), "layers[5].arguments.output_size"),
    (set_field("layers", 0, "arguments", "convolution_shape", value=[1, 3, 3, 3, 3]),
     "layers[0].arguments.convolution_shape: expected a list of 2 or 3 entries, got a list"),
    (set_field("layers", 6, "arguments", "probability", value=1.5), "layers[6].arguments.probability"),
    (set_field("layers", 1, "arguments", "dtype", value="complex64"), "layers[1].arguments.dtype"),
    (set_field("layers", 1, "arguments", "epsilon", value=-1e-5), "layers[1].arguments.epsilon"),
    (set_field("layers", 5, "arguments", "bias", value=1), "layers[5].arguments: unknown field 'bias'"),
    (set_field("layers", 5, "weights_optimizer", "regularizer", "type", value="Eval"),
     'layers[5].weights_optimizer.regularizer.type: expected a regularizer, one of'),
    (set_field("layers", 6, "rng_state", "bit_generator", value="MT19937"), "layers[6].rng_state.bit_generator"),
    (set_field("layers", 6, "rng_state", "state", "state", value=-5), "layers[6].rng_state.state.state"),
    (set_field("loss", "reduction", value="max"), "loss.reduction"),
    (set_field("loss_history", value=[1.0, "two"]), 'loss_history[1]: expected a number, got "two"'),
    (set_field("extra", value=[]), "extra: expected an object, got a list"),
    (set_field("version", value="1"), 'version: this normnet reads checkpoint version 1 (the integer), got "1"'),
    (set_field("format", value="other"), "not a normnet checkpoint"),
    (set_field("inject", value=1), "metadata: unknown field 'inject'"),
    (set_field("layers", 0, "type", value="os.system"), "layers[0].type: unknown layer 'os.system'"),
])
def test_malformed_metadata_is_refused_naming_the_field(checkpoint, change, message):
    assert message in refusal(crafted(checkpoint, change))


def test_a_missing_digest_is_named(checkpoint):
    metadata, arrays = contents(checkpoint)
    del metadata["digest"]
    assert "metadata.digest: missing" in refusal(write(checkpoint, metadata, arrays, redigest=False))


@pytest.mark.parametrize("raw, message", [
    (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    (b'{"format": "normnet-checkpoint", "version": 1, "layers": [', "damaged metadata"),
    (b"\xff\xfe", "damaged metadata"),
    (b'{"n": ' + b"9" * 5000 + b"}", "damaged metadata"),  # an integer too long to convert
])
def test_unparsable_metadata_is_refused(checkpoint, raw, message):
    _, arrays = contents(checkpoint)
    np.savez(checkpoint, **arrays, **{METADATA_KEY: np.frombuffer(raw, dtype=np.uint8)})
    assert message in refusal(checkpoint)


def test_oversized_metadata_is_refused_unread(checkpoint):
    _, arrays = contents(checkpoint)
    np.savez(checkpoint, **arrays, **{METADATA_KEY: np.full(MAX_METADATA_BYTES + 4096, ord(" "), np.uint8)})
    assert "metadata.json" in refusal(checkpoint) and "limit" in refusal(checkpoint)


# -- switches ----------------------------------------------------------------------------------

@pytest.mark.parametrize("switches, message", [
    ({"trainable": False}, "layers[0].switches: unknown field 'trainable'"),
    ({"forward": True}, "layers[0].switches: unknown field 'forward'"),
    ({"compute_input_gradient": 1}, "layers[0].switches.compute_input_gradient: expected true or false, got 1"),
])
def test_switches_set_only_the_switches_a_layer_declares(checkpoint, switches, message):
    assert message in refusal(crafted(checkpoint, set_field("layers", 0, "switches", value=switches)))


def test_a_layer_without_switches_accepts_none(checkpoint):
    change = set_field("layers", 5, "switches", value={"compute_input_gradient": False})
    assert "layers[5].switches: unknown field 'compute_input_gradient'" in refusal(crafted(checkpoint, change))


def test_a_declared_switch_round_trips_and_the_teaching_layers_need_none(tmp_path):
    network = small_network()
    network.layers[0].compute_input_gradient = False
    path = save(tmp_path / "net.npz", network)
    assert contents(path)[0]["layers"][0]["switches"] == {"compute_input_gradient": False}
    assert load(path).layers[0].compute_input_gradient is False
    # The teaching Conv has no such switch (it always computes the input gradient): it loads all the same.
    np.testing.assert_allclose(load(path, fast=False).test(PROBE), network.test(PROBE), rtol=1e-5)


# -- arrays that disagree with the metadata ----------------------------------------------------

def replace_array(key, value):
    def change(_, arrays):
        arrays[key] = value
    return change


@pytest.mark.parametrize("change, message", [
    (replace_array("layers.0.weights", np.zeros((2, 1, 3, 3), np.complex64)),
     "layers.0.weights: the metadata calls for float32, the stored array is <c8"),
    (replace_array("layers.5.weights", np.zeros((5, 32), np.float64)), "calls for float32"),
    (replace_array("layers.5.weights", np.zeros((5, 31), np.float32)),
     "layers.5.weights: the metadata calls for shape (5, 32), the stored array has (5, 31)"),
    (replace_array("layers.5.weights_optimizer.first_moment", np.zeros((3,), np.float32)),
     "layers.5.weights_optimizer.first_moment: the metadata calls for shape (5, 32)"),
    (replace_array("layers.1.running_mean", np.zeros((7,), np.float32)), "layers.1.running_mean"),
    (replace_array("layers.5.velocity", np.zeros((5, 32), np.float32)), "'layers.5.velocity'"),
    (replace_array("evil", np.zeros(3)), "member 'evil' that the metadata does not call for"),
])
def test_arrays_are_checked_against_the_declared_shapes_and_dtypes(checkpoint, change, message):
    assert message in refusal(crafted(checkpoint, change))


def test_missing_arrays_and_half_pairs_are_refused(checkpoint):
    metadata, arrays = contents(checkpoint)
    del arrays["layers.8.bias"]
    assert "lacks the array 'layers.8.bias'" in refusal(write(checkpoint, metadata, arrays))
    metadata, arrays = contents(save(checkpoint, small_network()))
    del arrays["layers.1.running_variance"]
    assert "running moments: expected both or neither" in refusal(write(checkpoint, metadata, arrays))


def test_adam_moments_go_with_its_step(checkpoint):
    # step 0: Adam has not made its moments yet, so arrays of them cannot be genuine.
    message = refusal(crafted(checkpoint, set_field("layers", 0, "weights_optimizer", "step", value=0)))
    assert "step is 0, so no moments" in message


def test_a_member_of_another_name_or_a_duplicate_is_refused(checkpoint):
    original = checkpoint.read_bytes()
    with zipfile.ZipFile(checkpoint, "a") as archive:
        archive.writestr("notes.txt", "hello")
    assert "member 'notes.txt'" in refusal(checkpoint)
    checkpoint.write_bytes(original)
    with warnings.catch_warnings(), zipfile.ZipFile(checkpoint, "a") as archive:
        warnings.simplefilter("ignore")  # zipfile warns of the duplicate name it is told to write
        archive.writestr("layers.0.bias.npy", archive.read("layers.0.bias.npy"))
    assert "member 'layers.0.bias.npy'" in refusal(checkpoint)


# -- memory: nothing large is allocated for a small file ---------------------------------------

def peak_bytes_of(function):
    tracemalloc.start()
    try:
        function()
    except CheckpointError:
        pass
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


def test_huge_declared_weights_are_refused_before_allocating(checkpoint):
    # A 1.6 KB file whose arguments declare 200000 x 200000 weights (298 GiB in float64).
    change = set_field("layers", 5, "arguments", value={"input_size": 200_000, "output_size": 200_000,
                                                        "dtype": "float64"})
    path = crafted(checkpoint, change)
    message = refusal(path)
    assert "declares arrays of" in message and "more than the limit" in message
    assert peak_bytes_of(lambda: read_checkpoint(path)) < 4 * MEBIBYTE


def test_a_header_declaring_a_huge_array_is_refused_unread(checkpoint):
    # Metadata and header agree on a huge array; the member holds 16 bytes of it.
    metadata, arrays = contents(checkpoint)
    metadata["layers"][5]["arguments"].update(input_size=20_000, output_size=20_000)
    metadata["layers"][5].update(weights_optimizer=None, bias_optimizer=None)
    for key in list(arrays):
        if key.startswith("layers.5.") and "optimizer" in key:
            del arrays[key]
    arrays["layers.5.bias"] = np.zeros(20_000, np.float32)
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False, "shape": (20_000, 20_000)})
    arrays["layers.5.weights"] = np.zeros(4, np.float32)
    path = write(checkpoint, metadata, arrays)
    entries = {}
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            entries[name] = archive.read(name)
    entries["layers.5.weights.npy"] = header.getvalue() + bytes(16)
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    message = refusal(path)
    assert "layers.5.weights: its header implies 1600000" in message and "the archive records" in message
    assert peak_bytes_of(lambda: read_checkpoint(path)) < 4 * MEBIBYTE


def test_a_member_nobody_needs_is_never_inflated(checkpoint):
    # 64 MiB of zeros, deflated to about 64 KB: a zip bomb in miniature.
    with zipfile.ZipFile(checkpoint, "a", compression=zipfile.ZIP_DEFLATED) as archive:
        with archive.open("bomb.npy", "w") as member:
            np.lib.format.write_array(member, np.zeros(8 * MEBIBYTE))
    assert "member 'bomb' that the metadata does not call for" in refusal(checkpoint)
    assert peak_bytes_of(lambda: read_checkpoint(checkpoint)) < 4 * MEBIBYTE


def test_a_needed_member_that_inflates_absurdly_is_refused(tmp_path):
    # A real layer of 32 MiB of zero weights, deflated to about 32 KB.
    optimizer = Adam(1e-3)
    network = NeuralNetwork(optimizer, Constant(0.0), Constant(0.0))
    from layers.fast import FullyConnected

    network.append_layer(FullyConnected(4096, 1024, dtype=np.float64))
    network.layers[0].restore_optimizers(None, None)
    metadata, arrays = describe(network)
    path = tmp_path / "bomb.npz"
    payload = dict(arrays, **{METADATA_KEY: np.frombuffer(json.dumps(metadata).encode(), np.uint8)})
    np.savez_compressed(path, **payload)
    message = refusal(path)
    assert "would inflate to 33554560" in message and "more than 100 times" in message


def describe(network):
    from framework.persistence import describe_network

    metadata, arrays = describe_network(network)
    metadata["extra"] = {}
    metadata["digest"] = _digest(metadata, arrays)
    return metadata, arrays


def test_a_file_over_the_size_limit_is_refused_and_the_limit_can_be_raised(checkpoint):
    size = checkpoint.stat().st_size
    assert f"{size} bytes is more than the limit of 1000 bytes" in refusal(checkpoint, max_bytes=1000)
    network, _ = read_checkpoint(checkpoint, max_bytes=size)
    assert len(network.layers) == 10


# -- no code runs --------------------------------------------------------------------------------

class Boom:
    def __reduce__(self):
        return (pytest.fail, ("unpickling ran code",))


def test_a_pickled_object_array_is_never_unpickled(checkpoint):
    metadata, arrays = contents(checkpoint)
    arrays["layers.5.weights"] = np.array([Boom()] * 160, dtype=object).reshape(5, 32)
    payload = dict(arrays, **{METADATA_KEY: np.frombuffer(json.dumps(metadata).encode(), np.uint8)})
    np.savez(checkpoint, **payload, allow_pickle=True)
    assert "layers.5.weights: the metadata calls for float32, the stored array is object" in refusal(checkpoint)


# -- today's files, both layer families, one registry ------------------------------------------

@pytest.mark.parametrize("fast", [True, False])
def test_a_checkpoint_written_before_these_checks_still_loads(fast):
    """checkpoint_v1.npz was written by normnet at commit 43ce243 (whose persistence module is
    that of 85442d2) from ``small_network(fast=False)``'s network, with Conv's
    compute_input_gradient switched off."""
    path = FIXTURES / "checkpoint_v1.npz"
    network, extra = read_checkpoint(path, fast=fast)
    assert extra == {"note": "made by normnet at commit 43ce243"}
    np.testing.assert_allclose(network.test(PROBE), np.load(FIXTURES / "checkpoint_v1_output.npy"), rtol=1e-5)
    _, arrays = contents(path)
    for index, layer in enumerate(network.layers):
        if layer.trainable:
            np.testing.assert_array_equal(layer.weights, arrays[f"layers.{index}.weights"])
            np.testing.assert_array_equal(layer.weights_optimizer.first_moment,
                                          arrays[f"layers.{index}.weights_optimizer.first_moment"])
            assert layer.weights_optimizer.step == 3 and layer.bias_optimizer.regularizer is None
    assert type(network.layers[0].weights_optimizer.regularizer) is L2Regularizer
    np.testing.assert_array_equal(network.layers[1].running_mean, arrays["layers.1.running_mean"])
    if "compute_input_gradient" in getattr(type(network.layers[0]), "switches", ()):
        assert network.layers[0].compute_input_gradient is False


@pytest.mark.parametrize("fast", [True, False])
def test_load_builds_the_layer_family_asked_for(checkpoint, fast):
    import layers
    import layers.fast

    table = layers.fast.LAYERS if fast else layers.LAYERS
    network = load(checkpoint, fast=fast)
    assert all(type(layer) is table[type(layer).__name__] for layer in network.layers)


def test_persistence_names_the_same_layers_as_both_registries():
    import layers
    import layers.fast

    assert set(LAYER_ARGUMENTS) == set(layers.LAYERS) == set(layers.fast.LAYERS)
    for table in (layers.LAYERS, layers.fast.LAYERS):
        for kind, arguments in LAYER_ARGUMENTS.items():
            assert list(arguments) == [name for name in inspect.signature(table[kind]).parameters
                                       if name in arguments], kind


@pytest.mark.parametrize("kind, arguments", [
    ("FullyConnected", {"input_size": 7, "output_size": 3, "dtype": "float32"}),
    ("Conv", {"stride_shape": (2, 1), "convolution_shape": (3, 5, 4), "num_kernels": 6, "dtype": "float64"}),
    ("Conv", {"stride_shape": (2,), "convolution_shape": (3, 5), "num_kernels": 6, "dtype": "float64"}),
    ("BatchNormalization", {"channels": 4, "dtype": "float32", "epsilon": 1e-5}),
])
def test_declared_shapes_agree_with_the_layers(kind, arguments):
    import layers
    import layers.fast

    for table in (layers.LAYERS, layers.fast.LAYERS):
        assert parameter_shapes(kind, arguments) == table[kind](**arguments).parameter_shapes()


# -- writing -----------------------------------------------------------------------------------

@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_saved_files_respect_the_umask(tmp_path, umask, mode):
    previous = os.umask(umask)
    try:
        path = save(tmp_path / "net.npz", small_network())
    finally:
        os.umask(previous)
    assert path.stat().st_mode & 0o777 == mode
