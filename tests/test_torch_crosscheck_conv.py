"""Conv and Pooling (teaching and fast) against PyTorch's conv1d/conv2d/max_pool1d/max_pool2d in float64.

PyTorch is only a reference here, never a dependency: without it these tests are
skipped. The convolution is compared with PyTorch's own ``padding="same"`` at
stride 1, subsampled afterwards for strided cases (that is the layer's
definition: "same"-padded result, then every s-th position), which pins the
padding convention for even kernels independently of our code. Outputs and all
gradients agree to 1e-8 relative (float64 rounding gives ~1e-14).
"""
import numpy as np
import pytest

from tests.helpers import layer_fixture, make_conv

torch = pytest.importorskip("torch")

Conv = layer_fixture("Conv", textbook=True)
Pooling = layer_fixture("Pooling")

RTOL, ATOL = 1e-8, 1e-10


def torch_conv(input_tensor, weights, bias, stride_shape, error_tensor):
    """Output and (input, weights, bias) gradients of PyTorch's same-padded correlation, subsampled."""
    spatial = input_tensor.ndim - 2
    strides = tuple(np.broadcast_to(np.atleast_1d(stride_shape), (spatial,)))
    input_torch = torch.tensor(input_tensor, dtype=torch.float64, requires_grad=True)
    weights_torch = torch.tensor(weights, dtype=torch.float64, requires_grad=True)
    bias_torch = torch.tensor(bias, dtype=torch.float64, requires_grad=True)
    convolution = torch.nn.functional.conv2d if spatial == 2 else torch.nn.functional.conv1d
    full = convolution(input_torch, weights_torch, bias_torch, padding="same")
    output = full[(Ellipsis,) + tuple(slice(None, None, stride) for stride in strides)]
    output.backward(torch.tensor(error_tensor, dtype=torch.float64))
    return (output.detach().numpy(), input_torch.grad.numpy(),
            weights_torch.grad.numpy(), bias_torch.grad.numpy())


CONV_CASES = {
    "2-D odd 5x5 (LeNet)": ((1, 1), (3, 5, 5), 4, (2, 3, 8, 9)),
    "2-D even 4x4": ((1, 1), (2, 4, 4), 3, (2, 2, 7, 6)),
    "2-D even 2x2": ((1, 1), (2, 2, 2), 3, (2, 2, 5, 6)),
    "2-D uneven 5x8": ((1, 1), (2, 5, 8), 3, (2, 2, 10, 13)),
    "2-D stride (3, 2)": ((3, 2), (2, 3, 4), 3, (2, 2, 10, 13)),
    "2-D 1x1": ((2, 1), (4, 1, 1), 2, (2, 4, 5, 5)),
    "1-D odd 3": ([1], (2, 3), 3, (2, 2, 9)),
    "1-D even 4, stride 2": ([2], (2, 4), 3, (2, 2, 11)),
}


# PyTorch warns that it pads even kernels with an internal copy; that is what we compare with.
@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel:UserWarning")
@pytest.mark.parametrize("case", CONV_CASES.values(), ids=CONV_CASES.keys())
def test_conv_matches_torch(Conv, case):
    rng = np.random.default_rng(5)
    stride_shape, convolution_shape, num_kernels, input_shape = case
    layer = make_conv(Conv, stride_shape, convolution_shape, num_kernels, rng)
    input_tensor = rng.standard_normal(input_shape)
    output = layer.forward(input_tensor)
    error_tensor = rng.standard_normal(output.shape)
    input_gradient = layer.backward(error_tensor)

    expected = torch_conv(input_tensor, layer.weights, layer.bias, stride_shape, error_tensor)
    for actual, wanted in zip((output, input_gradient, layer.gradient_weights, layer.gradient_bias), expected):
        np.testing.assert_allclose(actual, wanted, rtol=RTOL, atol=ATOL)


POOL_CASES = {
    "2x2/2": ((2, 2), (2, 2), (2, 3, 8, 7)),
    "overlapping 3x3/1": ((1, 1), (3, 3), (2, 2, 6, 7)),
    "overlapping 3x3/2": ((2, 2), (3, 3), (2, 2, 9, 8)),
    "subsampling 2x2/3": ((3, 3), (2, 2), (2, 2, 8, 9)),
    "uneven 2x3, stride (3, 2)": ((3, 2), (2, 3), (2, 2, 10, 13)),
    "1-D 3/2": ((2,), (3,), (2, 3, 11)),
}


def torch_max_pool(input_tensor, stride_shape, pooling_shape, error_tensor):
    input_torch = torch.tensor(input_tensor, dtype=torch.float64, requires_grad=True)
    pool = torch.nn.functional.max_pool2d if len(pooling_shape) == 2 else torch.nn.functional.max_pool1d
    output = pool(input_torch, kernel_size=pooling_shape, stride=stride_shape)
    output.backward(torch.tensor(error_tensor, dtype=torch.float64))
    return output.detach().numpy(), input_torch.grad.numpy()


@pytest.mark.parametrize("ties", [False, True], ids=["distinct", "ties"])
@pytest.mark.parametrize("case", POOL_CASES.values(), ids=POOL_CASES.keys())
def test_max_pool_matches_torch(Pooling, case, ties):
    # With ties both send the error to the first maximum of the window in row-major order.
    rng = np.random.default_rng(6)
    stride_shape, pooling_shape, input_shape = case
    if ties:
        input_tensor = rng.integers(0, 3, size=input_shape).astype(np.float64)
    else:
        input_tensor = rng.permutation(int(np.prod(input_shape))).reshape(input_shape) * 0.1
    layer = Pooling(stride_shape, pooling_shape)
    output = layer.forward(input_tensor)
    error_tensor = rng.standard_normal(output.shape)
    input_gradient = layer.backward(error_tensor)

    expected_output, expected_gradient = torch_max_pool(input_tensor, stride_shape, pooling_shape, error_tensor)
    np.testing.assert_allclose(output, expected_output, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(input_gradient, expected_gradient, rtol=RTOL, atol=ATOL)
