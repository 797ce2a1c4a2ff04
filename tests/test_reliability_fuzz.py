"""A seeded fuzz test of the checkpoint loader: hundreds of random mutations of a real checkpoint's
metadata, arrays and bytes. Every case ends in a CheckpointError or a correct load, never another
exception, and never uses much more memory than loading the real checkpoint."""
import copy
import io
import json
import random
import tracemalloc
import zipfile

import numpy as np

from framework.persistence import METADATA_KEY, CheckpointError, _digest, read_checkpoint, save
from tests.test_reliability_checkpoints import contents, small_network

CASES = 400
KIBIBYTE = 1024

# Values a mutation puts where a field was: every JSON type, edge numbers, huge sizes, nesting.
REPLACEMENTS = [None, True, False, 0, 1, -1, 2, 7, 2 ** 31, 2 ** 40, 2 ** 64, 10 ** 30, 0.5, -0.5, 1e308,
                float("nan"), float("inf"), float("-inf"), "", "x", "1", "float16", "object", "Adam", "Conv",
                "os.system", [], [1], [1, 2, 3], [200_000, 200_000], ["a"], {}, {"type": "Sgd"},
                {"a": 1}, [[[[[[[[[[[]]]]]]]]]]]]
DTYPES = [np.float16, np.float64, np.float32, np.int64, np.int8, np.uint8, np.complex64, np.bool_, ">f4"]


def npy_bytes(array):
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def huge_header(dtype="<f4"):
    """A .npy member whose header declares 200000 x 200000 values, followed by 64 bytes of data."""
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": dtype, "fortran_order": False,
                                                  "shape": (200_000, 200_000)})
    return buffer.getvalue() + bytes(64)


def paths_of(value, prefix=()):
    """Every path (tuple of keys) into a JSON value, the root included."""
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from paths_of(item, prefix + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from paths_of(item, prefix + (index,))


def mutate_metadata(rng, metadata):
    paths = [path for path in paths_of(metadata) if path]
    path = rng.choice(paths)
    parent = metadata
    for key in path[:-1]:
        parent = parent[key]
    action = rng.random()
    if action < 0.6:
        parent[path[-1]] = copy.deepcopy(rng.choice(REPLACEMENTS))
    elif action < 0.75 and isinstance(parent, dict):
        del parent[path[-1]]
    elif action < 0.85 and isinstance(parent, dict):
        parent[rng.choice(["trainable", "forward", "extra_field", "rng", "__class__"])] = rng.choice(REPLACEMENTS)
    elif isinstance(parent, list):
        parent.insert(rng.randrange(len(parent) + 1), copy.deepcopy(rng.choice(parent)))
    else:
        parent[path[-1]] = [parent[path[-1]]]


def mutate_arrays(rng, arrays, members):
    key = rng.choice(sorted(arrays))
    action = rng.randrange(7)
    if action == 0:
        arrays[key] = arrays[key].astype(rng.choice(DTYPES))
    elif action == 1:
        arrays[key] = np.append(arrays[key], 1).astype(arrays[key].dtype)
    elif action == 2:
        arrays[key] = arrays[key].reshape(-1)[::-1].reshape(arrays[key].shape[::-1]).copy()
        arrays[key] = arrays[key].reshape(arrays[key].shape + (1,))
    elif action == 3:
        del arrays[key]
    elif action == 4:
        arrays[key + rng.choice(["_", ".extra", "/../x"])] = arrays.pop(key)
    elif action == 5:
        members[key + ".npy"] = huge_header(rng.choice(["<f4", "<f8", "|O", "<c16"]))
        del arrays[key]
    else:
        arrays["layers.99.weights"] = np.zeros((3, 3), np.float32)


def build(rng, metadata, arrays):
    """The bytes of one mutated checkpoint."""
    metadata, arrays, members = copy.deepcopy(metadata), dict(arrays), {}
    kind = rng.random()
    if kind < 0.45:
        for _ in range(rng.choice([1, 1, 2, 3])):
            mutate_metadata(rng, metadata)
    elif kind < 0.8:
        mutate_arrays(rng, arrays, members)
    if rng.random() < 0.75:  # an attacker recomputes the digest; damage does not
        metadata["digest"] = _digest(metadata, arrays)
    text = json.dumps(metadata).encode()
    if 0.8 <= kind < 0.87:
        text = text[:rng.randrange(len(text))]
    members.update({f"{key}.npy": npy_bytes(array) for key, array in arrays.items()})
    members[f"{METADATA_KEY}.npy"] = npy_bytes(np.frombuffer(text, dtype=np.uint8))
    buffer = io.BytesIO()
    compression = zipfile.ZIP_DEFLATED if rng.random() < 0.1 else zipfile.ZIP_STORED
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    content = bytearray(buffer.getvalue())
    if kind >= 0.87:  # damage to the bytes: truncation or flipped bytes
        if rng.random() < 0.4:
            del content[rng.randrange(len(content)):]
        else:
            for _ in range(rng.randrange(1, 12)):
                content[rng.randrange(len(content))] = rng.randrange(256)
    return bytes(content)


def load_measured(path):
    tracemalloc.start()
    try:
        return read_checkpoint(path), None
    except CheckpointError as error:
        return None, error
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        load_measured.peak = peak


def test_fuzzed_checkpoints_end_in_a_checkpoint_error_or_a_correct_load(tmp_path):
    rng = random.Random(20)
    real = save(tmp_path / "real.npz", small_network())
    metadata, arrays = contents(real)
    load_measured(real)
    real_peak = load_measured.peak
    outcomes = {"refused": 0, "loaded": 0}
    path = tmp_path / "case.npz"
    for case in range(CASES):
        path.write_bytes(build(rng, metadata, arrays))
        try:
            loaded, error = load_measured(path)
        except Exception as error:  # anything but CheckpointError is a failure of the loader
            raise AssertionError(f"case {case}: {type(error).__name__}: {error}") from error
        assert load_measured.peak < 3 * real_peak + 256 * KIBIBYTE, (case, load_measured.peak, real_peak)
        if loaded is None:
            assert str(error).startswith(f"{path}: "), (case, str(error))
            outcomes["refused"] += 1
            continue
        # A load is correct when the network holds exactly the arrays stored in the file.
        network, _ = loaded
        stored_metadata, stored = contents(path)
        assert len(network.layers) == len(stored_metadata["layers"])
        for index, layer in enumerate(network.layers):
            if layer.trainable:
                np.testing.assert_array_equal(layer.weights, stored[f"layers.{index}.weights"])
                np.testing.assert_array_equal(layer.bias, stored[f"layers.{index}.bias"])
        outcomes["loaded"] += 1
    # Most mutations break the file; some (a learning rate, a history entry) leave a valid one.
    assert outcomes["refused"] > CASES * 0.7 and outcomes["loaded"] > 0, outcomes
