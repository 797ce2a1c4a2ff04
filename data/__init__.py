"""Datasets for normnet: finding, verifying, loading and batching MNIST and Fashion-MNIST.

    from data import load_dataset, DataLayer, fetch

    mnist = load_dataset("mnist", dtype=np.float32)          # images (N, 1, 28, 28) in [0, 1]
    layer = DataLayer(mnist.train_images, mnist.train_labels, batch_size=64, rng=0)
    input_tensor, label_tensor = layer.next()               # one-hot labels

Where the files come from is described in ``data/resolve.py``.
"""
from data.batches import DataLayer
from data.datasets import DATASETS, FASHION_MNIST, MNIST, DatasetInfo, IdxFile, dataset_info
from data.errors import (ChecksumError, DataError, DataFolderError, DatasetUnavailableError, IdxFormatError,
                         UnsafePickleError)
from data.idx import read_idx, write_idx
from data.loader import ImageDataset, load_dataset, to_one_hot
from data.resolve import cache_root, fetch

__all__ = [
    "DataLayer", "DATASETS", "FASHION_MNIST", "MNIST", "DatasetInfo", "IdxFile", "dataset_info",
    "ChecksumError", "DataError", "DataFolderError", "DatasetUnavailableError", "IdxFormatError", "UnsafePickleError",
    "read_idx", "write_idx", "ImageDataset", "load_dataset", "to_one_hot",
    "cache_root", "fetch",
]
