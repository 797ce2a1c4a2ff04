"""Shared fixtures: real MNIST for tests that train.

The data folder is ``NORMNET_DATA`` if set (CI sets it), else the verified copy
in ``../shared/data/mnist`` beside the repository.
"""
import os

# Tests are correctness checks, not benchmarks: one BLAS thread per process keeps them fast
# and steady when the machine is busy (multi-threaded OpenBLAS on small products fights
# over loaded cores; measured 1.4 s against 22 s for one MNIST test). Set before NumPy loads.
for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import gzip  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

REPOSITORY = Path(__file__).resolve().parent.parent


def mnist_folder():
    candidates = [os.environ.get("NORMNET_DATA"), REPOSITORY.parent / "shared" / "data" / "mnist"]
    for candidate in candidates:
        if candidate and (Path(candidate) / "t10k-images-idx3-ubyte.gz").exists():
            return Path(candidate)
    return None


def _read_idx_gz(path):
    with gzip.open(path, "rb") as handle:
        payload = handle.read()
    dimensions = payload[3]
    shape = np.frombuffer(payload, dtype=">u4", count=dimensions, offset=4)
    return np.frombuffer(payload, dtype=np.uint8, offset=4 + 4 * dimensions).reshape(shape)


@pytest.fixture(scope="session")
def mnist_small():
    """(train_x, train_y, test_x, test_y): 6000 training and 2000 test images of the
    official *test* file (fast to read), flattened to 784 floats in [0, 1], integer labels."""
    folder = mnist_folder()
    if folder is None:
        pytest.fail("real MNIST not found: set NORMNET_DATA to a folder with the four IDX files")
    images = _read_idx_gz(folder / "t10k-images-idx3-ubyte.gz").reshape(-1, 784) / 255.0
    labels = _read_idx_gz(folder / "t10k-labels-idx1-ubyte.gz").astype(np.int64)
    return images[:6000], labels[:6000], images[6000:8000], labels[6000:8000]
