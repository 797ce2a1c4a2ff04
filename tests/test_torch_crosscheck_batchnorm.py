"""BatchNormalization (teaching and fast) against PyTorch's ``torch.nn.functional.batch_norm`` in float64.

PyTorch is only a reference here, never a dependency: without it these tests
are skipped. Both sides use the same ε, so outputs and all gradients agree to
rounding (tolerance 1e-10 relative; float64 rounding gives ~1e-14).
"""
import numpy as np
import pytest

from tests.helpers import layer_fixture

torch = pytest.importorskip("torch")

BatchNormalization = layer_fixture("BatchNormalization")

RTOL, ATOL = 1e-10, 1e-12


def torch_batch_norm(input_tensor, weights, bias, error_tensor, epsilon):
    """Output and gradients (input, γ, β) of PyTorch's training-mode batch norm for upstream E."""
    input_torch = torch.tensor(input_tensor, dtype=torch.float64, requires_grad=True)
    weights_torch = torch.tensor(weights, dtype=torch.float64, requires_grad=True)
    bias_torch = torch.tensor(bias, dtype=torch.float64, requires_grad=True)
    output = torch.nn.functional.batch_norm(input_torch, None, None, weights_torch, bias_torch,
                                            training=True, eps=epsilon)
    output.backward(torch.tensor(error_tensor, dtype=torch.float64))
    return (output.detach().numpy(), input_torch.grad.numpy(),
            weights_torch.grad.numpy(), bias_torch.grad.numpy())


@pytest.mark.parametrize("shape", [(16, 5), (4, 3, 6, 7), (5, 2, 9)], ids=["vector", "image", "signal"])
@pytest.mark.parametrize("epsilon", [1e-11, 1e-5])
def test_training_matches_torch(BatchNormalization, shape, epsilon):
    rng = np.random.default_rng(31)
    channels = shape[1]
    layer = BatchNormalization(channels, epsilon=epsilon)
    layer.weights = rng.uniform(0.5, 2.0, size=channels)
    layer.bias = rng.standard_normal(channels)
    input_tensor = rng.standard_normal(shape) * 3 + 2
    error_tensor = rng.standard_normal(shape)

    output = layer.forward(input_tensor)
    previous_error = layer.backward(error_tensor)
    expected = torch_batch_norm(input_tensor, layer.weights, layer.bias, error_tensor, epsilon)

    np.testing.assert_allclose(output, expected[0], rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(previous_error, expected[1], rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(layer.gradient_weights, expected[2], rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(layer.gradient_bias, expected[3], rtol=RTOL, atol=ATOL)


def test_running_mean_and_testing_output_match_torch(BatchNormalization):
    # PyTorch's update: running ← (1 − momentum) running + momentum · batch, so momentum = 1 − decay = 0.2.
    # Its running *variance* uses the unbiased batch variance (ours the biased one), so we compare the
    # running mean, then the testing output given the same running moments.
    rng = np.random.default_rng(32)
    layer = BatchNormalization(3)
    first, second = rng.standard_normal((8, 3)) + 1, rng.standard_normal((8, 3)) * 2 - 1
    layer.forward(first)
    running_mean = torch.tensor(first.mean(axis=0))       # PyTorch starts at 0; start it where we do
    running_var = torch.tensor(first.var(axis=0))
    layer.forward(second)
    torch.nn.functional.batch_norm(torch.tensor(second), running_mean, running_var,
                                   training=True, momentum=0.2, eps=layer.epsilon)
    np.testing.assert_allclose(layer.running_mean, running_mean.numpy(), rtol=1e-14)

    layer.weights = rng.uniform(0.5, 2.0, size=3)
    layer.bias = rng.standard_normal(3)
    layer.testing_phase = True
    test_batch = rng.standard_normal((5, 3))
    expected = torch.nn.functional.batch_norm(
        torch.tensor(test_batch), torch.tensor(layer.running_mean), torch.tensor(layer.running_variance),
        torch.tensor(layer.weights), torch.tensor(layer.bias), training=False, eps=layer.epsilon)
    np.testing.assert_allclose(layer.forward(test_batch), expected.numpy(), rtol=RTOL, atol=ATOL)
