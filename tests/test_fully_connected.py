"""Math tests of FullyConnected, run against the teaching, the fast and a textbook layer.

Golden values worked out by hand (arithmetic in the comments), float64 central-difference
gradient checks with random upstream errors, deliberately wrong backward passes that the
checker must reject, and bad input that must get an error naming the layer.
"""
import copy

import numpy as np
import pytest

from framework.gradient_check import assert_gradients, check_gradients
from optimizers import Sgd
from tests.helpers import RecordingInitializer, layer_fixture

FullyConnected = layer_fixture("FullyConnected", textbook=True)

TOLERANCE = 1e-7  # float64 central differences with h = 1e-6 give ~1e-9 for a correct layer


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def hand_made(layer_class):
    layer = layer_class(3, 2)
    layer.weights = np.array([[1.0, 2.0, 3.0],
                              [-1.0, 0.0, 1.0]])
    layer.bias = np.array([0.5, -0.5])
    return layer


INPUT = np.array([[1.0, 1.0, 1.0],
                  [2.0, 0.0, -1.0]])


def test_output_shape(FullyConnected, rng):
    layer = FullyConnected(7, 4)
    output = layer.forward(rng.standard_normal((5, 7)))
    assert output.shape == (5, 4), f"FullyConnected.forward: output has shape {output.shape}, expected (5, 4)"
    previous_error = layer.backward(np.ones((5, 4)))
    assert previous_error.shape == (5, 7), \
        f"FullyConnected.backward: returned shape {previous_error.shape}, expected the input's (5, 7)"
    assert layer.gradient_weights.shape == (4, 7), \
        f"FullyConnected: gradient_weights has shape {layer.gradient_weights.shape}, expected (4, 7) (the weights')"
    assert layer.gradient_bias.shape == (4,), \
        f"FullyConnected: gradient_bias has shape {layer.gradient_bias.shape}, expected (4,) (the bias')"


def test_forward_known_values(FullyConnected):
    # y = x Wᵀ + b
    # row 0: [1+2+3 + 0.5, -1+0+1 - 0.5] = [6.5, -0.5]
    # row 1: [2+0-3 + 0.5, -2+0-1 - 0.5] = [-0.5, -3.5]
    np.testing.assert_allclose(hand_made(FullyConnected).forward(INPUT), [[6.5, -0.5], [-0.5, -3.5]],
                               rtol=0, atol=1e-12)


def test_backward_known_values(FullyConnected):
    layer = hand_made(FullyConnected)
    layer.forward(INPUT)
    previous_error = layer.backward(np.array([[1.0, 0.0],
                                              [0.0, 2.0]]))
    # ∂L/∂x = E W: row 0 = 1·W[0] = [1, 2, 3]; row 1 = 2·W[1] = [-2, 0, 2]
    np.testing.assert_allclose(previous_error, [[1.0, 2.0, 3.0], [-2.0, 0.0, 2.0]], atol=1e-12,
                               err_msg="FullyConnected.backward: the returned ∂L/∂x = E W")
    # ∂L/∂W = Eᵀ x: row 0 = 1·x[0] = [1, 1, 1]; row 1 = 2·x[1] = [4, 0, -2]
    np.testing.assert_allclose(layer.gradient_weights, [[1.0, 1.0, 1.0], [4.0, 0.0, -2.0]], atol=1e-12,
                               err_msg="FullyConnected: gradient_weights = Eᵀ x")
    # ∂L/∂b = Σ_b E = [1 + 0, 0 + 2]
    np.testing.assert_allclose(layer.gradient_bias, [1.0, 2.0], atol=1e-12,
                               err_msg="FullyConnected: gradient_bias = Σ_b E (summed over the batch)")


def test_backward_with_optimizer_updates_after_computing_the_error(FullyConnected):
    layer = hand_made(FullyConnected)
    layer.optimizer = Sgd(0.5)
    layer.forward(INPUT)
    previous_error = layer.backward(np.array([[1.0, 0.0], [0.0, 2.0]]))
    # The error uses the weights of the forward pass: E W_old = [[1, 2, 3], [-2, 0, 2]].
    np.testing.assert_allclose(previous_error, [[1.0, 2.0, 3.0], [-2.0, 0.0, 2.0]], atol=1e-12,
                               err_msg="FullyConnected.backward: ∂L/∂x must use the weights of the forward "
                                       "pass (the optimizer steps after it, in update_parameters())")
    # W_new = W − 0.5·∂L/∂W = [[1-0.5, 2-0.5, 3-0.5], [-1-2, 0-0, 1+1]]
    not_updated = "is self.update_parameters() still called at the end of backward?"
    np.testing.assert_allclose(layer.weights, [[0.5, 1.5, 2.5], [-3.0, 0.0, 2.0]], atol=1e-12,
                               err_msg=f"FullyConnected.backward: weights after one Sgd step; {not_updated}")
    # b_new = [0.5 − 0.5·1, −0.5 − 0.5·2] = [0, −1.5]
    np.testing.assert_allclose(layer.bias, [0.0, -1.5], atol=1e-12,
                               err_msg=f"FullyConnected.backward: bias after one Sgd step; {not_updated}")
    assert layer.weights_optimizer is not layer.bias_optimizer


def test_gradient_check(FullyConnected, rng):
    layer = FullyConnected(5, 3, rng=rng)
    differences = assert_gradients(layer, rng.standard_normal((4, 5)), tolerance=TOLERANCE)
    assert set(differences) == {"input", "weights", "bias"}


def test_any_memory_layout_gives_the_same_results(FullyConnected, rng):
    layer = FullyConnected(5, 3, rng=rng)
    row_major = rng.standard_normal((4, 5))
    error_tensor = rng.standard_normal((4, 3))
    output = layer.forward(row_major)
    expected = layer.backward(error_tensor)
    np.testing.assert_allclose(layer.forward(np.asfortranarray(row_major)), output, rtol=1e-15, atol=1e-15)
    np.testing.assert_allclose(layer.backward(np.asfortranarray(error_tensor)), expected, rtol=1e-15, atol=1e-15)


def test_weights_are_out_by_in_and_usable_at_once(FullyConnected, rng):
    layer = FullyConnected(6, 2)
    assert layer.weights.shape == (2, 6)
    assert layer.bias.shape == (2,)
    # UniformRandom [0, 1) until a network re-initializes them.
    assert np.all((layer.weights >= 0) & (layer.weights < 1))
    assert np.all((layer.bias >= 0) & (layer.bias < 1))
    assert layer.trainable
    output = layer.forward(rng.standard_normal((3, 6)))
    assert output.shape == (3, 2) and np.all(np.isfinite(output))


def test_initialize_passes_fans_to_the_initializers(FullyConnected):
    layer = FullyConnected(6, 2)
    weights_initializer = RecordingInitializer(0.25)
    bias_initializer = RecordingInitializer(-1.0)
    layer.initialize(weights_initializer, bias_initializer)
    assert weights_initializer.calls == [((2, 6), 6, 2)]  # (out, in), fan_in = in, fan_out = out
    assert bias_initializer.calls == [((2,), 6, 2)]
    np.testing.assert_array_equal(layer.weights, np.full((2, 6), 0.25))
    np.testing.assert_array_equal(layer.bias, np.full(2, -1.0))


def test_assignment_converts_to_the_layers_dtype(FullyConnected):
    layer = FullyConnected(3, 2, dtype=np.float32)
    layer.weights = [[1, 2, 3], [4, 5, 6]]
    layer.bias = (0, 1)
    assert layer.weights.dtype == np.float32 and layer.bias.dtype == np.float32


# -- the checker can fail ------------------------------------------------------------


def with_wrong_input_error(layer_class):
    """Bug: forgets the weights in ∂L/∂x (returns E summed instead of E W)."""
    class Wrong(layer_class):
        def backward(self, error_tensor):
            super().backward(error_tensor)
            return np.repeat(error_tensor.sum(axis=1, keepdims=True), self.input_size, axis=1)
    return Wrong


def with_wrong_weights_gradient(layer_class):
    """Bug: ∂L/∂W without the error's sign (|E|ᵀ x)."""
    class Wrong(layer_class):
        def forward(self, input_tensor):
            self.remembered_input = np.asarray(input_tensor)
            return super().forward(input_tensor)

        def backward(self, error_tensor):
            previous_error = super().backward(error_tensor)
            self.gradient_weights = np.abs(error_tensor).T @ self.remembered_input
            return previous_error
    return Wrong


def with_wrong_bias_gradient(layer_class):
    """Bug: ∂L/∂b averaged over the batch instead of summed."""
    class Wrong(layer_class):
        def backward(self, error_tensor):
            previous_error = super().backward(error_tensor)
            self.gradient_bias = error_tensor.mean(axis=0)
            return previous_error
    return Wrong


@pytest.mark.parametrize("make_wrong, broken", [(with_wrong_input_error, "input"),
                                                (with_wrong_weights_gradient, "weights"),
                                                (with_wrong_bias_gradient, "bias")])
def test_gradient_checker_reports_a_wrong_backward(FullyConnected, make_wrong, broken, rng):
    layer = make_wrong(FullyConnected)(5, 3, rng=rng)
    input_tensor = rng.standard_normal((4, 5))
    differences = check_gradients(layer, input_tensor)
    assert differences[broken] > 1e-2, differences
    healthy = {name: value for name, value in differences.items() if name != broken}
    assert all(value < TOLERANCE for value in healthy.values()), differences
    with pytest.raises(AssertionError, match=f"gradient check failed.*{broken}"):
        assert_gradients(layer, input_tensor, tolerance=TOLERANCE)


def test_gradient_checker_leaves_the_layer_and_its_optimizer_alone(FullyConnected, rng):
    layer = FullyConnected(4, 3, rng=rng)
    layer.optimizer = Sgd(0.1)
    weights, bias = layer.weights.copy(), layer.bias.copy()
    assert_gradients(layer, rng.standard_normal((2, 4)), tolerance=TOLERANCE)
    np.testing.assert_array_equal(layer.weights, weights)
    np.testing.assert_array_equal(layer.bias, bias)
    assert layer.optimizer is not None


def test_no_mutation_of_the_error_or_the_input(FullyConnected, rng):
    layer = FullyConnected(6, 6, rng=rng)
    layer.optimizer = Sgd(0.1)  # the parameter update must not touch them either
    input_tensor = rng.standard_normal((3, 6))
    input_copy = input_tensor.copy()
    output = layer.forward(input_tensor)
    error_tensor = rng.standard_normal(output.shape)
    error_copy = error_tensor.copy()
    layer.backward(error_tensor)
    np.testing.assert_array_equal(error_tensor, error_copy)
    np.testing.assert_array_equal(input_tensor, input_copy)


def test_deep_copied_layer_is_independent(FullyConnected, rng):
    layer = FullyConnected(3, 2, rng=rng)
    twin = copy.deepcopy(layer)
    twin.weights = np.zeros((2, 3))
    assert np.any(layer.weights != 0)


# -- dtype -----------------------------------------------------------------------------


def test_float32_in_float32_out(FullyConnected, rng):
    layer = FullyConnected(6, 4, dtype=np.float32)
    layer.optimizer = Sgd(0.01)
    output = layer.forward(rng.standard_normal((3, 6)).astype(np.float32))
    assert output.dtype == np.float32
    assert layer.backward(rng.standard_normal(output.shape).astype(np.float32)).dtype == np.float32
    for name in ("weights", "bias", "gradient_weights", "gradient_bias"):
        assert getattr(layer, name).dtype == np.float32, name


def test_float32_passes_a_loose_gradient_check(FullyConnected, rng):
    # float32 has ~7 digits; with h = 3e-3 the check agrees to ~1e-3, not 1e-7
    layer = FullyConnected(4, 3, dtype=np.float32, rng=rng)
    differences = check_gradients(layer, rng.standard_normal((2, 4)).astype(np.float32))
    assert max(differences.values()) < 1e-2, differences


def test_integer_input_is_converted_to_the_layer_dtype(FullyConnected):
    assert FullyConnected(3, 2, dtype=np.float32).forward(np.ones((2, 3), dtype=np.int64)).dtype == np.float32


# -- errors: they name the layer, what it expected and what came ----------------------------


def test_float64_into_a_float32_layer_is_refused(FullyConnected):
    with pytest.raises(TypeError, match="FullyConnected.*float32.*float64"):
        FullyConnected(3, 2, dtype=np.float32).forward(np.ones((2, 3), dtype=np.float64))


def test_wrong_feature_count_is_refused(FullyConnected):
    with pytest.raises(ValueError, match=r"FullyConnected.*3.*\(4, 5\)"):
        FullyConnected(3, 2).forward(np.ones((4, 5)))


def test_wrong_error_shape_is_refused(FullyConnected):
    layer = FullyConnected(3, 2)
    layer.forward(np.ones((4, 3)))
    with pytest.raises(ValueError, match=r"FullyConnected.*\(4, 2\).*\(4, 3\)"):
        layer.backward(np.ones((4, 3)))


def test_backward_before_forward_is_refused(FullyConnected):
    with pytest.raises(RuntimeError, match="FullyConnected"):
        FullyConnected(3, 2).backward(np.ones((4, 2)))


def test_bad_sizes_are_refused(FullyConnected):
    with pytest.raises(ValueError, match="FullyConnected.*input_size"):
        FullyConnected(0, 3)
    with pytest.raises(ValueError, match="FullyConnected.*output_size"):
        FullyConnected(3, 2.5)


@pytest.mark.parametrize("parameter, wrong", [("weights", np.ones((3, 2))), ("bias", np.ones((1, 2)))])
def test_a_parameter_left_at_a_wrong_shape_is_refused_at_forward(FullyConnected, parameter, wrong):
    layer = FullyConnected(3, 2)
    expected = getattr(layer, parameter).shape
    setattr(layer, parameter, wrong)
    with pytest.raises(ValueError, match=rf"FullyConnected.*{parameter}.*{expected}.*{wrong.shape}".replace(
            "(", r"\(").replace(")", r"\)")):
        layer.forward(np.ones((4, 3)))
