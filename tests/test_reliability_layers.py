"""Layers never turn bad input into a silent NaN or into advice that does not work."""
import numpy as np
import pytest

from layers import BatchNormalization, FullyConnected
from layers.fast import BatchNormalization as FastBatchNormalization


@pytest.mark.parametrize("layer_class", [BatchNormalization, FastBatchNormalization], ids=["teaching", "fast"])
@pytest.mark.parametrize("shape", [(0, 3), (0, 3, 4, 4), (2, 3, 0, 4)])
def test_batch_normalization_refuses_an_empty_training_batch(layer_class, shape):
    layer = layer_class(3)
    with pytest.raises(ValueError, match=rf"{layer.name}.*at least one value.*{shape[0]}, 3"):
        layer.forward(np.zeros(shape))
    # Nothing was spoiled: a real batch afterwards trains, and the test phase gives numbers.
    layer.forward(np.random.default_rng(0).standard_normal((4, 3)))
    layer.testing_phase = True
    assert np.all(np.isfinite(layer.forward(np.ones((2, 3)))))


@pytest.mark.parametrize("layer_class", [BatchNormalization, FastBatchNormalization], ids=["teaching", "fast"])
def test_batch_normalization_accepts_an_empty_batch_in_the_testing_phase(layer_class):
    layer = layer_class(3)
    layer.forward(np.random.default_rng(0).standard_normal((4, 3)))
    layer.testing_phase = True
    assert layer.forward(np.zeros((0, 3))).shape == (0, 3)


@pytest.mark.parametrize("dtype", [np.float16, np.complex64])
def test_input_of_an_unsupported_precision_gets_advice_that_works(dtype):
    layer = FullyConnected(3, 2, dtype=np.float32)
    with pytest.raises(TypeError) as error:
        layer.forward(np.ones((1, 3), dtype=dtype))
    message = str(error.value)
    assert "FullyConnected" in message and np.dtype(dtype).name in message
    assert "astype(np.float32)" in message and f"dtype={np.dtype(dtype).name}" not in message
    # The advice, followed, works.
    assert layer.forward(np.ones((1, 3), dtype=dtype).real.astype(np.float32)).shape == (1, 2)


def test_input_of_the_other_supported_precision_is_told_both_ways_out():
    with pytest.raises(TypeError, match=r"expected float32 input.*got float64; build the network with dtype=float64"):
        FullyConnected(3, 2, dtype=np.float32).forward(np.ones((1, 3)))
