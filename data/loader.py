"""Loading a dataset as float arrays ready for a network: ``load_dataset``."""
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from data.datasets import dataset_info
from data.resolve import resolve


@dataclass
class ImageDataset:
    """A dataset's splits. Images ``(N, 1, 28, 28)`` in [0, 1]; labels int64 ``(N,)`` or one-hot ``(N, 10)``.

    ``validation_images`` / ``validation_labels`` are None unless a validation split was asked for.
    """
    name: str
    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    validation_images: Optional[np.ndarray] = None
    validation_labels: Optional[np.ndarray] = None
    folder: Optional[Path] = None
    class_names: tuple = ()

    @property
    def num_classes(self):
        return len(self.class_names)


def to_one_hot(labels, num_classes, dtype=np.float64):
    """``(N, num_classes)`` array with a 1 at each integer label."""
    encoded = np.zeros((len(labels), num_classes), dtype=dtype)
    encoded[np.arange(len(labels)), labels] = 1
    return encoded


def _images(pixels, dtype):
    images = pixels.reshape(len(pixels), 1, *pixels.shape[1:]).astype(dtype)
    images /= 255                                       # pixels 0..255 -> [0, 1], both ends exact
    return images


def load_dataset(name="mnist", data_dir=None, dtype=np.float32, one_hot=False, validation_size=0):
    """Load ``name`` ("mnist" or "fashion-mnist"), finding or fetching its files as ``fetch`` does.

    Parameters
    ----------
    data_dir : folder holding the four IDX files (raw or .gz), in it or in a subfolder named
        after the dataset, used read-only; a folder that does not hold them is a
        ``DataFolderError``. Default: the dataset's variable (``NORMNET_DATA``,
        ``NORMNET_FASHION_DATA``), then the cache, then a download.
    dtype : floating dtype of the images (and of one-hot labels).
    one_hot : labels as ``(N, 10)`` one-hot rows in ``dtype`` instead of int64.
    validation_size : the last ``validation_size`` training examples become the
        validation split (the standard 60000/10000 train/test split stays as it is otherwise).
    """
    info = dataset_info(name)
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise ValueError(f"load_dataset: dtype must be a floating type, got {dtype}")
    folder, pixels = resolve(name, data_dir)
    train_count = len(pixels["train_labels"])
    if not isinstance(validation_size, (int, np.integer)) or not 0 <= validation_size < train_count:
        raise ValueError(f"load_dataset: validation_size must be an integer in [0, {train_count}), "
                         f"got {validation_size!r}")

    def labels(values):
        values = values.astype(np.int64)
        return to_one_hot(values, info.num_classes, dtype) if one_hot else values

    split = train_count - validation_size
    train_images = _images(pixels["train_images"], dtype)
    train_labels = labels(pixels["train_labels"])
    dataset = ImageDataset(name=info.name,
                           train_images=train_images[:split], train_labels=train_labels[:split],
                           test_images=_images(pixels["test_images"], dtype),
                           test_labels=labels(pixels["test_labels"]),
                           folder=folder, class_names=info.class_names)
    if validation_size:
        dataset.validation_images = train_images[split:]
        dataset.validation_labels = train_labels[split:]
    return dataset
