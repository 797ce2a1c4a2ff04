"""A plain, slow convolution to check the fast ``layers.conv.Conv`` against.

Nothing clever: pad with ``np.pad``, loop over the kernel offsets (p, q), and let
``np.einsum`` do the sum over channels for each offset, all in the ordinary
``(b, c, y, x)`` layout. Read this first to see what ``Conv`` computes; the tests
check that both give the same numbers. Not used by the library itself.

1-D signals ``(b, c, x)`` with kernels ``(K, c, m)`` are handled as images one
pixel high: kernels ``(K, c, 1, m)``.
"""
import numpy as np


def same_padding(kernel_size):
    """Zeros (before, after) on an axis so that stride-1 output keeps the input size.

    PyTorch's ``padding="same"`` convention: the extra zero of an even kernel goes after.
    """
    return (kernel_size - 1) // 2, kernel_size // 2


def conv_forward_reference(input_tensor, weights, bias, stride_shape):
    """Same-padded cross-correlation, then subsampling by ``stride_shape``; returns the output."""
    images, kernels, strides = _as_2d(input_tensor, weights, stride_shape)
    padded, (height, width) = _pad(images, kernels), images.shape[2:]
    _, _, m, n = kernels.shape
    full = np.zeros((images.shape[0], kernels.shape[0], height, width))
    for p in range(m):
        for q in range(n):
            patch = padded[:, :, p:p + height, q:q + width]  # the pixels under offset (p, q)
            full += np.einsum("kc,bcyx->bkyx", kernels[:, :, p, q], patch)
    full += np.reshape(bias, (1, -1, 1, 1))
    output = full[:, :, ::strides[0], ::strides[1]]
    return output if np.ndim(input_tensor) == 4 else output[:, :, 0, :]


def conv_backward_reference(input_tensor, weights, stride_shape, error_tensor):
    """Return (input gradient, weights gradient, bias gradient) for the upstream ``error_tensor``."""
    images, kernels, strides = _as_2d(input_tensor, weights, stride_shape)
    padded, (height, width) = _pad(images, kernels), images.shape[2:]
    _, _, m, n = kernels.shape
    errors = np.asarray(error_tensor, dtype=np.float64)
    errors = errors if errors.ndim == 4 else errors[:, :, np.newaxis, :]
    # Put the error back on the stride-1 grid: zero where the stride skipped a position.
    full_errors = np.zeros((images.shape[0], kernels.shape[0], height, width))
    full_errors[:, :, ::strides[0], ::strides[1]] = errors

    padded_gradient = np.zeros_like(padded)
    weights_gradient = np.zeros_like(kernels)
    for p in range(m):
        for q in range(n):
            patch = padded[:, :, p:p + height, q:q + width]
            weights_gradient[:, :, p, q] = np.einsum("bkyx,bcyx->kc", full_errors, patch)
            padded_gradient[:, :, p:p + height, q:q + width] += np.einsum("kc,bkyx->bcyx",
                                                                           kernels[:, :, p, q], full_errors)
    (top, _), (left, _) = same_padding(m), same_padding(n)
    input_gradient = padded_gradient[:, :, top:top + height, left:left + width]
    bias_gradient = full_errors.sum(axis=(0, 2, 3))
    if np.ndim(input_tensor) == 3:
        input_gradient, weights_gradient = input_gradient[:, :, 0, :], weights_gradient[:, :, 0, :]
    return input_gradient, weights_gradient, bias_gradient


def _as_2d(input_tensor, weights, stride_shape):
    images = np.asarray(input_tensor, dtype=np.float64)
    kernels = np.asarray(weights, dtype=np.float64)
    strides = tuple(np.atleast_1d(stride_shape))
    if images.ndim == 3:
        images, kernels = images[:, :, np.newaxis, :], kernels[:, :, np.newaxis, :]
        strides = (1,) + strides
    if len(strides) == 1:
        strides = strides * 2
    return images, kernels, strides


def _pad(images, kernels):
    _, _, m, n = kernels.shape
    return np.pad(images, [(0, 0), (0, 0), same_padding(m), same_padding(n)])
