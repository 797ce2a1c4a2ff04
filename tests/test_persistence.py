"""framework.save / framework.load: round trips, atomic writes, and refusal of bad files."""
import json
import zipfile

import numpy as np
import pytest

from framework import load, save
from framework.models import build_lenet
from framework.persistence import METADATA_KEY, CheckpointError, atomic_write, read_checkpoint
from tests.helpers import FixedBatch




@pytest.fixture
def batch():
    rng = np.random.default_rng(3)
    images = rng.random((16, 1, 28, 28)).astype(np.float32)
    labels = np.eye(10, dtype=np.float32)[rng.integers(0, 10, 16)]
    return images, labels


def uses_fast_layers(network):
    """Whether ``network`` is built from the fast layers (the model builders' choice)."""
    from layers.fast import LAYERS

    return all(type(layer) is LAYERS[type(layer).__name__] for layer in network.layers)


def trained_lenet(batch, **options):
    network = build_lenet(dtype=np.float32, rng=np.random.default_rng(0), **options)
    network.data_layer = FixedBatch(*batch)
    network.train(3)
    return network


@pytest.mark.parametrize("options", [
    {},
    {"dropout": 0.5, "batch_norm": True, "regularizer": "normloss", "alpha": 1e-3},
    {"optimizer": "momentum", "regularizer": "l1", "alpha": 1e-4},
    {"optimizer": "sgd", "regularizer": "none"},
    {"regularizer": "normloss", "alpha": 1e-3, "coupled": True},
])
def test_round_trip_gives_identical_predictions_and_training(tmp_path, batch, options):
    network = trained_lenet(batch, **options)
    path = save(tmp_path / "net.npz", network)
    restored = load(path, data_layer=FixedBatch(*batch), fast=uses_fast_layers(network))
    np.testing.assert_array_equal(network.test(batch[0]), restored.test(batch[0]))
    assert restored.loss == network.loss
    # Optimizer state (Adam moments, velocity), running moments and dropout generators were
    # saved too: two more training steps stay identical to the last bit.
    network.train(2)
    restored.train(2)
    np.testing.assert_array_equal(network.test(batch[0]), restored.test(batch[0]))
    for original, copy in zip(network.layers, restored.layers):
        assert type(original) is type(copy)
        if original.trainable:
            assert copy.weights.dtype == np.float32
            assert copy.regularizer.__class__ is original.regularizer.__class__
            assert copy.weights_optimizer.coupled_regularization == original.weights_optimizer.coupled_regularization


def test_extra_metadata_round_trips(tmp_path, batch):
    network = trained_lenet(batch)
    save(tmp_path / "net.npz", network, extra={"epoch": 3, "history": [{"accuracy": 0.5}]})
    _, extra = read_checkpoint(tmp_path / "net.npz")
    assert extra == {"epoch": 3, "history": [{"accuracy": 0.5}]}


def _rewrite(path, change):
    """Rewrite the npz at ``path`` with ``change(entries)`` applied to its {name: bytes}."""
    with zipfile.ZipFile(path) as archive:
        entries = {name: archive.read(name) for name in archive.namelist()}
    change(entries)
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in entries.items():
            archive.writestr(name, content)


def test_tampered_weights_are_refused(tmp_path, batch):
    path = save(tmp_path / "net.npz", trained_lenet(batch))
    arrays = dict(np.load(path, allow_pickle=False))
    arrays["layers.0.weights"] = arrays["layers.0.weights"] + 1  # a valid npz, other numbers
    np.savez(path, **arrays)
    with pytest.raises(CheckpointError, match="modified or damaged"):
        load(path)


def test_tampered_metadata_is_refused(tmp_path, batch):
    path = save(tmp_path / "net.npz", trained_lenet(batch))
    arrays = dict(np.load(path, allow_pickle=False))
    metadata = json.loads(arrays[METADATA_KEY].tobytes())
    metadata["layers"][7]["arguments"]["output_size"] = 121
    arrays[METADATA_KEY] = np.frombuffer(json.dumps(metadata).encode(), dtype=np.uint8)
    np.savez(path, **arrays)
    with pytest.raises(CheckpointError, match="modified or damaged"):
        load(path)


def test_truncated_and_foreign_files_are_refused(tmp_path, batch):
    path = save(tmp_path / "net.npz", trained_lenet(batch))
    content = path.read_bytes()
    (tmp_path / "truncated.npz").write_bytes(content[: len(content) // 2])
    with pytest.raises(CheckpointError, match="not a readable normnet checkpoint"):
        load(tmp_path / "truncated.npz")
    np.savez(tmp_path / "foreign.npz", weights=np.ones(3))
    with pytest.raises(CheckpointError, match="no metadata.json"):
        load(tmp_path / "foreign.npz")
    (tmp_path / "text.npz").write_text("hello")
    with pytest.raises(CheckpointError):
        load(tmp_path / "text.npz")


def test_loading_never_unpickles(tmp_path):
    """An npz whose entry is a pickled object array would run code if unpickled; it is refused."""

    class Boom:
        def __reduce__(self):
            return (pytest.fail, ("unpickling ran code",))

    np.savez(tmp_path / "evil.npz", **{METADATA_KEY: np.array([Boom()], dtype=object)})
    with pytest.raises(CheckpointError):
        load(tmp_path / "evil.npz")


def test_unknown_layer_type_is_refused(tmp_path, batch):
    path = save(tmp_path / "net.npz", trained_lenet(batch))

    def rename_layer(entries):
        metadata = json.loads(np.load(path)[METADATA_KEY].tobytes())
        metadata["layers"][1]["type"] = "os.system"
        from framework.persistence import _digest
        arrays = {key: value for key, value in np.load(path).items() if key != METADATA_KEY}
        metadata["digest"] = _digest(metadata, arrays)
        import io
        buffer = io.BytesIO()
        np.save(buffer, np.frombuffer(json.dumps(metadata).encode(), dtype=np.uint8))
        entries[METADATA_KEY + ".npy"] = buffer.getvalue()

    _rewrite(path, rename_layer)
    with pytest.raises(CheckpointError, match="unknown layer 'os.system'"):
        load(path)


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path):
    path = tmp_path / "file.bin"
    path.write_bytes(b"old")

    def failing_writer(handle):
        handle.write(b"half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_write(path, failing_writer)
    assert path.read_bytes() == b"old"
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind


@pytest.mark.parametrize("dtype, tolerance", [(np.float32, 1e-6), (np.float64, 1e-12)])
@pytest.mark.parametrize("builder", ["lenet", "allconv"])
def test_fast_layers_load_into_teaching_layers_and_back(tmp_path, batch, builder, dtype, tolerance):
    """A checkpoint names layer types, not packages: the fast network loads into the teaching
    layers and back, computing the same outputs; the fast Conv's speed switch is dropped
    on the way to the teaching Conv, which has no such switch, and the default comes back."""
    from framework.models import build_allconv
    from layers import LAYERS as TEACHING

    images, labels = batch[0].astype(dtype), batch[1].astype(dtype)
    build = build_lenet if builder == "lenet" else build_allconv
    options = {"batch_norm": True, "dropout": 0.5} if builder == "lenet" else {"width": 4}
    network = build(dtype=dtype, rng=np.random.default_rng(0), **options)
    network.data_layer = FixedBatch(images, labels)
    network.train(2)
    expected = network.test(images)

    teaching = load(save(tmp_path / "fast.npz", network), fast=False)
    assert all(type(layer) is TEACHING[type(layer).__name__] for layer in teaching.layers)
    assert not hasattr(teaching.layers[0], "compute_input_gradient")
    np.testing.assert_allclose(teaching.test(images), expected, rtol=0, atol=tolerance)

    fast = load(save(tmp_path / "teaching.npz", teaching), fast=True)
    assert uses_fast_layers(fast)
    np.testing.assert_allclose(fast.test(images), expected, rtol=0, atol=tolerance)
    # Training goes on alike from the loaded parameters and optimizer state (in float64: in
    # float32, Adam's step divides rounding-level gradient differences by their own size).
    if dtype == np.float64:
        for copy in (teaching, fast):
            copy.data_layer = FixedBatch(images, labels)
            copy.train(1)
        np.testing.assert_allclose(teaching.test(images), fast.test(images), rtol=0, atol=1e-9)
