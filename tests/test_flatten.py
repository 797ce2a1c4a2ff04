"""Math tests of Flatten, run against the teaching and the fast layer."""
import numpy as np
import pytest

from framework.gradient_check import assert_gradients
from tests.helpers import assert_layer_contract, batch_last, layer_fixture

Flatten = layer_fixture("Flatten")


@pytest.fixture
def rng():
    return np.random.default_rng(15)


def test_known_values(Flatten):
    layer = Flatten()
    input_tensor = np.arange(2 * 3 * 4 * 5, dtype=np.float64).reshape(2, 3, 4, 5)
    output = layer.forward(input_tensor)
    assert output.shape == (2, 60)
    # item 1 starts at 1·60 and runs through 119 in row-major order
    np.testing.assert_array_equal(output[1], np.arange(60, 120))
    restored = layer.backward(output * 2)
    assert restored.shape == (2, 3, 4, 5)
    np.testing.assert_array_equal(restored, input_tensor * 2)


def test_values_do_not_depend_on_the_memory_layout(Flatten):
    input_tensor = np.arange(2 * 3 * 4 * 5, dtype=np.float64).reshape(2, 3, 4, 5)
    expected = Flatten().forward(input_tensor)
    np.testing.assert_array_equal(Flatten().forward(batch_last(input_tensor)), expected)


def test_shapes_dtype_phases_and_errors(Flatten, rng):
    assert_layer_contract(Flatten, rng, (2, 3, 4, 5), (2, 60))
    assert_layer_contract(Flatten, rng, (2, 7), (2, 7))


def test_gradient_check(Flatten, rng):
    assert list(assert_gradients(Flatten(), rng.standard_normal((2, 3, 2, 2)), tolerance=1e-7)) == ["input"]


def test_rejects_a_vector(Flatten):
    with pytest.raises(ValueError, match=r"Flatten.*\(3,\)"):
        Flatten().forward(np.ones(3))
