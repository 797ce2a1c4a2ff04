"""Chunked, multi-threaded inference: NeuralNetwork.test_in_chunks and predict on layer replicas."""
import threading

import numpy as np
import pytest
from threadpoolctl import threadpool_info

from layers.base import BaseLayer
from framework.models import build_lenet
from tests.helpers import FixedBatch


@pytest.fixture
def trained_lenet():
    """A LeNet with batch norm and dropout whose running moments are not the initial ones."""
    rng = np.random.default_rng(0)
    network = build_lenet(dropout=0.5, batch_norm=True, optimizer="sgd", learning_rate=0.01, rng=rng)
    images = rng.random((16, 1, 28, 28))
    labels = np.eye(10)[rng.integers(0, 10, 16)]


    network.data_layer = FixedBatch(images, labels)
    network.train(2)
    return network


@pytest.mark.parametrize("workers", [1, 2, 3, 20])
@pytest.mark.parametrize("batch_size", [7, 64])
def test_chunks_on_any_number_of_workers_give_the_outputs_of_test(trained_lenet, workers, batch_size):
    images = np.random.default_rng(1).random((45, 1, 28, 28))
    expected = trained_lenet.test(images)
    outputs = trained_lenet.test_in_chunks(images, batch_size=batch_size, workers=workers)
    np.testing.assert_allclose(outputs, expected, rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(trained_lenet.predict(images, batch_size, workers), expected.argmax(axis=1))
    assert trained_lenet.phase == "test"


def _blas_threads():
    return [entry["num_threads"] for entry in threadpool_info() if entry["user_api"] == "blas"]


def test_blas_gets_its_thread_count_back_after_the_workers(trained_lenet):
    before = _blas_threads()
    trained_lenet.test_in_chunks(np.zeros((40, 1, 28, 28)), batch_size=8, workers=2)
    assert _blas_threads() == before


class Recording(BaseLayer):
    """Identity that records which thread ran which chunk, and fails on a poisoned chunk."""

    def __init__(self, calls):
        super().__init__()
        self.calls = calls

    def forward(self, input_tensor):
        if np.any(np.isnan(input_tensor)):
            raise ValueError("poisoned chunk")
        self.calls.append((threading.get_ident(), len(input_tensor)))
        return input_tensor


def _network_of(layer):
    network = build_lenet()
    network.layers = [layer]
    return network


def test_shares_are_contiguous_chunks_on_separate_threads():
    calls = []
    network = _network_of(Recording(calls))
    inputs = np.arange(50.0).reshape(25, 2)
    np.testing.assert_array_equal(network.test_in_chunks(inputs, batch_size=4, workers=2), inputs)
    assert sorted(size for _, size in calls) == [1] + [4] * 6
    assert len({thread for thread, _ in calls}) == 2


def test_an_error_in_a_worker_reaches_the_caller():
    network = _network_of(Recording([]))
    inputs = np.zeros((20, 2))
    inputs[-1] = np.nan  # in the last share, which a worker thread runs
    with pytest.raises(ValueError, match="poisoned chunk"):
        network.test_in_chunks(inputs, batch_size=5, workers=2)


def test_predict_of_nothing_is_empty():
    assert build_lenet().predict(np.zeros((0, 1, 28, 28))).shape == (0,)


@pytest.mark.parametrize("arguments, message", [({"batch_size": 0}, "batch_size must be a positive integer, got 0"),
                                                ({"workers": 0}, "workers must be a positive integer, got 0"),
                                                ({"workers": 1.5}, "workers must be a positive integer, got 1.5")])
def test_bad_chunk_size_or_worker_count_is_refused(arguments, message):
    with pytest.raises(ValueError, match=message):
        build_lenet().predict(np.zeros((3, 1, 28, 28)), **arguments)
