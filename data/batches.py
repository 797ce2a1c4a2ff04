"""DataLayer: shuffled mini-batches with one-hot labels, as ``NeuralNetwork.data_layer`` expects."""
import copy
import math

import numpy as np

from data.json_values import json_value
from data.loader import to_one_hot


def _integer_labels(labels, count, num_classes, what):
    """int64 labels from integer labels ``(N,)`` or one-hot rows ``(N, num_classes)``."""
    labels = np.asarray(labels)
    if labels.ndim == 2 and labels.shape == (count, num_classes):
        labels = labels.argmax(axis=1)
    if labels.shape != (count,) or (count and labels.dtype.kind not in "iu"):
        raise ValueError(f"DataLayer: {what} must be {count} integer labels or ({count}, {num_classes}) "
                         f"one-hot rows, got {labels.dtype} of shape {labels.shape}")
    if count and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"DataLayer: {what} must lie in [0, {num_classes}), "
                         f"found {labels.min()}..{labels.max()}")
    return labels.astype(np.int64)


def _generator(rng):
    """A numpy Generator: ``rng`` itself, one seeded by an int, or (None) one seeded from
    NumPy's global random state, so that ``np.random.seed(n)`` makes the batches repeatable."""
    if rng is None:
        return np.random.default_rng(np.random.randint(0, 2**31 - 1, size=4))
    return np.random.default_rng(rng)


class DataLayer:
    """Serves ``(input_tensor, one-hot labels)`` mini-batches of a fixed training set.

    Each epoch visits every example once in a fresh random order (a permutation drawn
    from ``rng``). Every batch holds exactly ``batch_size`` examples: when an epoch runs
    out in the middle of a batch, the batch is completed from the next epoch's order
    (wrap-around, as the exercise framework does), so ``iterations_per_epoch =
    ceil(N / batch_size)`` batches cover an epoch, and ``epoch`` counts completed passes.

    Parameters
    ----------
    images : array ``(N, ...)``, e.g. ``(N, 1, 28, 28)``; batches keep its dtype.
    labels : integer labels ``(N,)`` (or one-hot rows ``(N, num_classes)``).
    batch_size : examples per batch.
    num_classes : width of the one-hot labels.
    shuffle : False serves the examples in their stored order every epoch.
    rng : numpy Generator (used as is), int seed, or None (seeded from NumPy's global state).
    test_images, test_labels : optional test set returned by ``get_test_set``.

    ``state_dict()`` / ``load_state_dict()`` save and restore the position exactly, so
    a resumed run gets the same batches as an uninterrupted one.
    """

    def __init__(self, images, labels, batch_size, num_classes=10, shuffle=True, rng=None,
                 test_images=None, test_labels=None):
        images = np.asarray(images)
        if images.ndim < 2 or len(images) == 0:
            raise ValueError(f"DataLayer: images must be a non-empty array (N, ...), got shape {images.shape}")
        if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"DataLayer: batch_size must be a positive integer, got {batch_size!r}")
        self.images = images
        self.labels = _integer_labels(labels, len(images), num_classes, "labels")
        self.batch_size = int(batch_size)
        self.num_classes = num_classes
        self.shuffle = shuffle
        self.label_dtype = images.dtype if images.dtype.kind == "f" else np.dtype(np.float64)
        self.test_images = None if test_images is None else np.asarray(test_images)
        self.test_labels = None
        if test_labels is not None:
            if self.test_images is None:
                raise ValueError("DataLayer: test_labels given without test_images")
            self.test_labels = _integer_labels(test_labels, len(self.test_images), num_classes, "test_labels")
        self.rng = _generator(rng)
        self.iterations_per_epoch = math.ceil(len(images) / self.batch_size)
        self.epoch = 0
        self._start_epoch()

    @property
    def num_samples(self):
        return len(self.images)

    def _start_epoch(self):
        """Draw this epoch's order, remembering the generator state it was drawn from."""
        self._permutation_rng_state = copy.deepcopy(self.rng.bit_generator.state)
        if self.shuffle:
            self._permutation = self.rng.permutation(self.num_samples)
        else:
            self._permutation = np.arange(self.num_samples)
        self._position = 0

    def next(self):
        """The next ``(input_tensor, label_tensor)``: ``(batch_size, ...)`` images, one-hot labels."""
        pieces = []
        needed = self.batch_size
        while needed:                        # at most a few passes: one per epoch boundary crossed
            piece = self._permutation[self._position:self._position + needed]
            pieces.append(piece)
            needed -= len(piece)
            self._position += len(piece)
            if self._position == self.num_samples:
                self.epoch += 1
                self._start_epoch()
        indices = pieces[0] if len(pieces) == 1 else np.concatenate(pieces)
        return self.images[indices], to_one_hot(self.labels[indices], self.num_classes, self.label_dtype)

    def get_test_set(self):
        """``(test_images, one-hot test labels)`` as given to the constructor."""
        if self.test_images is None or self.test_labels is None:
            raise ValueError("DataLayer: no test set was given (pass test_images and test_labels)")
        return self.test_images, to_one_hot(self.test_labels, self.num_classes, self.label_dtype)

    def state_dict(self):
        """JSON-serializable position: epoch, offset in the epoch's order, generator states."""
        return {"epoch": self.epoch,
                "position": self._position,
                "num_samples": self.num_samples,
                "shuffle": self.shuffle,
                "permutation_rng_state": json_value(self._permutation_rng_state),
                "rng_state": json_value(self.rng.bit_generator.state)}

    def load_state_dict(self, state):
        """Continue exactly where the DataLayer that wrote ``state`` stood."""
        if state["num_samples"] != self.num_samples or state["shuffle"] != self.shuffle:
            raise ValueError(f"DataLayer: the state is for {state['num_samples']} examples with "
                             f"shuffle={state['shuffle']}, this layer has {self.num_samples} with "
                             f"shuffle={self.shuffle}")
        # Redraw the saved epoch's order from the state it was drawn from, then put the
        # generator where it was when the state was saved.
        self.rng.bit_generator.state = state["permutation_rng_state"]
        self._start_epoch()
        self.rng.bit_generator.state = state["rng_state"]
        self.epoch = int(state["epoch"])
        self._position = int(state["position"])
