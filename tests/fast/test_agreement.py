"""Every fast layer against its teaching twin: same constructor arguments, same parameters,
same inputs and errors; outputs, input gradients, parameter gradients, updates and state must
agree over shapes, strides, phases and dtypes (float64 to 1e-12, float32 to 1e-5 relative)."""
import copy

import numpy as np
import pytest

import layers
import layers.fast
from optimizers import Adam

TOLERANCE = {np.float64: 1e-12, np.float32: 1e-5}

# name → [(constructor arguments, input shape)]; trainable layers also get dtype= below.
CASES = {
    "FullyConnected": [((7, 4), (5, 7)), ((3, 1), (1, 3))],
    "Conv": [(((1, 1), (2, 3, 3), 3), (2, 2, 6, 7)), (((1, 1), (2, 5, 5), 4), (3, 2, 9, 8)),
             (((2, 2), (3, 3, 3), 2), (2, 3, 7, 6)), (((3, 2), (2, 4, 5), 2), (2, 2, 10, 13)),
             (((1, 1), (3, 1, 1), 2), (2, 3, 4, 5)), (([1], (2, 4), 3), (3, 2, 9)), (([2], (3, 3), 2), (2, 3, 11))],
    "Pooling": [(((2, 2), (2, 2)), (2, 3, 6, 8)), (((2, 2), (2, 2)), (2, 2, 7, 5)), (((1, 1), (3, 3)), (2, 2, 6, 7)),
                (((3, 2), (2, 3)), (2, 2, 10, 13)), (((2,), (3,)), (2, 3, 11))],
    "BatchNormalization": [((4,), (8, 4)), ((3,), (2, 3, 5, 6)), ((2,), (3, 2, 9))],
    "Dropout": [((0.6,), (5, 7)), ((0.5, False), (2, 3, 4, 4)), ((1.0,), (4, 3))],
    "ReLU": [((), (4, 6)), ((), (2, 3, 4, 5))],
    "TanH": [((), (4, 6))],
    "Sigmoid": [((), (4, 6))],
    "SoftMax": [((), (4, 6))],
    "Flatten": [((), (2, 3, 4, 5)), ((), (3, 7))],
    "GlobalAveragePooling": [((), (2, 3, 4, 5))],
}
TRAINABLE = ("FullyConnected", "Conv", "BatchNormalization")
RANDOM = ("Dropout",)
PARAMETERS = [pytest.param(name, arguments, shape, id=f"{name}-{index}")
              for name, cases in CASES.items() for index, (arguments, shape) in enumerate(cases)]


def twins(name, arguments, dtype, rng):
    """The teaching and the fast layer, built alike, with the same random parameters."""
    def options():  # a generator of its own for each twin, in the same state
        return {"dtype": dtype} if name in TRAINABLE else {"rng": np.random.default_rng(7)} if name in RANDOM else {}

    teaching, fast = getattr(layers, name)(*arguments, **options()), getattr(layers.fast, name)(*arguments, **options())
    if name in TRAINABLE:
        teaching.weights = rng.uniform(0.5, 1.5, teaching.weights.shape) * rng.choice([-1, 1], teaching.weights.shape)
        teaching.bias = rng.standard_normal(teaching.bias.shape)
        fast.weights, fast.bias = teaching.weights.copy(), teaching.bias.copy()
        teaching.optimizer = Adam(0.01)
        fast.optimizer = Adam(0.01)
    return teaching, fast


def assert_agree(actual, expected, dtype, what):
    assert actual.dtype == expected.dtype, what
    np.testing.assert_allclose(actual, expected, rtol=TOLERANCE[dtype], atol=TOLERANCE[dtype], err_msg=what)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name, arguments, shape", PARAMETERS)
def test_fast_layer_agrees_with_its_teaching_twin(name, arguments, shape, dtype):
    rng = np.random.default_rng(123)
    teaching, fast = twins(name, arguments, dtype, rng)
    # Two training steps (the second from updated parameters and running moments), then testing.
    for step, testing_phase in enumerate((False, False, True)):
        teaching.testing_phase = fast.testing_phase = testing_phase
        # Distinct values keep pooling free of ties and ReLU away from its kink.
        input_tensor = (rng.permutation(int(np.prod(shape))).reshape(shape) / np.prod(shape) - 0.5).astype(dtype)
        output = teaching.forward(input_tensor)
        assert_agree(fast.forward(input_tensor.copy()), output, dtype, f"{name} output, step {step}")
        error_tensor = rng.standard_normal(output.shape).astype(dtype)
        assert_agree(fast.backward(error_tensor.copy()), teaching.backward(error_tensor), dtype,
                     f"{name} input gradient, step {step}")
        if name in TRAINABLE:
            for attribute in ("gradient_weights", "gradient_bias", "weights", "bias"):
                assert_agree(getattr(fast, attribute), getattr(teaching, attribute), dtype,
                             f"{name} {attribute}, step {step}")
        if name == "BatchNormalization":
            for attribute in ("running_mean", "running_variance"):
                assert_agree(getattr(fast, attribute), getattr(teaching, attribute), dtype,
                             f"{name} {attribute}, step {step}")


@pytest.mark.parametrize("name, arguments, shape", [case for case in PARAMETERS if case.values[0] in TRAINABLE])
def test_parameters_move_between_twins(name, arguments, shape):
    """Parameters copied from a fast layer into a teaching one (and back) give the same outputs."""
    rng = np.random.default_rng(5)
    teaching, fast = twins(name, arguments, np.float64, rng)
    input_tensor = rng.standard_normal(shape)
    fast.forward(input_tensor)
    fast.backward(np.ones(fast.forward(input_tensor).shape))
    teaching.weights, teaching.bias = copy.deepcopy(fast.weights), copy.deepcopy(fast.bias)
    assert teaching.weights.shape == fast.weights.shape and teaching.bias.shape == fast.bias.shape
    np.testing.assert_allclose(teaching.forward(input_tensor), fast.forward(input_tensor), rtol=1e-12, atol=1e-12)


def test_both_tables_name_the_same_layers():
    assert list(layers.LAYERS) == list(layers.fast.LAYERS)
    for name, teaching in layers.LAYERS.items():
        assert teaching.__name__ == layers.fast.LAYERS[name].__name__ == name
