"""Plain textbook layers, written independently of normnet's own, with the same constructors.

They run through the same math tests as the teaching and the fast layers (marked
``textbook``): a correct implementation that shares nothing with normnet's but the base
class must pass them unchanged, which shows that the tests check the math, the contract
and the errors, not one implementation's internals or wording.

Conv here loops over the kernel offsets (p, q) with one ``einsum`` each, in the plain
``(b, c, y, x)`` layout; 1-D signals run as images one pixel high.
"""
import numpy as np

from layers.base import TrainableLayer


def _check_count(owner, name, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{owner}: {name} must be a positive integer, got {value!r}")
    return int(value)


def _as_layer_dtype(owner, tensor, dtype):
    tensor = np.asarray(tensor)
    if np.issubdtype(tensor.dtype, np.floating) and tensor.dtype != dtype:
        raise TypeError(f"{owner} works in {np.dtype(dtype).name}; got {tensor.dtype.name} input")
    return tensor.astype(dtype, copy=False)


class _Textbook(TrainableLayer):
    def _fresh_parameters(self, rng):
        source = np.random if rng is None else rng
        weights_shape, bias_shape = self.parameter_shapes()
        self.weights = source.uniform(0.0, 1.0, size=weights_shape)
        self.bias = source.uniform(0.0, 1.0, size=bias_shape)

    def _remembered(self):
        if self.input_tensor is None:
            raise RuntimeError(f"{self.name}: no forward pass to go back through")
        return self.input_tensor

    def _same_shape(self, error_tensor, shape):
        if np.shape(error_tensor) != shape:
            raise ValueError(f"{self.name}: the error must have the output's shape {shape}, "
                             f"not {np.shape(error_tensor)}")
        return np.asarray(error_tensor, dtype=self.dtype)


class FullyConnected(_Textbook):
    def __init__(self, input_size, output_size, dtype=np.float64, rng=None):
        super().__init__(dtype)
        self.input_size = _check_count(self.name, "input_size", input_size)
        self.output_size = _check_count(self.name, "output_size", output_size)
        self._fresh_parameters(rng)
        self.input_tensor = None

    def parameter_shapes(self):
        return (self.output_size, self.input_size), (self.output_size,)

    def _fans(self):
        return self.input_size, self.output_size

    def forward(self, input_tensor):
        self.check_parameters()
        input_tensor = _as_layer_dtype(self.name, input_tensor, self.dtype)
        if input_tensor.shape[1:] != (self.input_size,):
            raise ValueError(f"{self.name} takes (batch, {self.input_size}); got {input_tensor.shape}")
        self.input_tensor = input_tensor
        return np.einsum("bi,oi->bo", input_tensor, self.weights) + self.bias

    def backward(self, error_tensor):
        input_tensor = self._remembered()
        error_tensor = self._same_shape(error_tensor, (len(input_tensor), self.output_size))
        previous_error = np.einsum("bo,oi->bi", error_tensor, self.weights)
        self.gradient_weights = np.einsum("bo,bi->oi", error_tensor, input_tensor)
        self.gradient_bias = np.einsum("bo->o", error_tensor)
        self.update_parameters()
        return previous_error


class Conv(_Textbook):
    def __init__(self, stride_shape, convolution_shape, num_kernels, dtype=np.float64, rng=None):
        super().__init__(dtype)
        if not isinstance(convolution_shape, (tuple, list)) or len(convolution_shape) not in (2, 3):
            raise ValueError(f"{self.name}: convolution_shape is (c, m) or (c, m, n), not {convolution_shape!r}")
        self.convolution_shape = tuple(_check_count(self.name, "convolution_shape", size)
                                       for size in convolution_shape)
        spatial = len(self.convolution_shape) - 1
        strides = [stride_shape] if isinstance(stride_shape, (int, np.integer)) else stride_shape
        if not isinstance(strides, (tuple, list)) or len(strides) not in (1, spatial):
            raise ValueError(f"{self.name}: stride_shape needs 1 or {spatial} entries, not {stride_shape!r}")
        self.stride_shape = tuple(_check_count(self.name, "stride_shape", stride) for stride in strides) * (
            spatial if len(strides) == 1 else 1)
        self.num_kernels = _check_count(self.name, "num_kernels", num_kernels)
        self._fresh_parameters(rng)
        self.input_tensor = None

    def parameter_shapes(self):
        return (self.num_kernels,) + self.convolution_shape, (self.num_kernels,)

    def _fans(self):
        area = int(np.prod(self.convolution_shape[1:]))
        return self.convolution_shape[0] * area, self.num_kernels * area

    def _images(self, tensor):
        """(tensor as (b, c, y, x), kernels (K, c, m, n), strides (s_y, s_x))."""
        if len(self.convolution_shape) == 3:
            return tensor, self.weights, self.stride_shape
        return tensor[:, :, None, :], self.weights[:, :, None, :], (1,) + self.stride_shape

    def forward(self, input_tensor):
        self.check_parameters()
        input_tensor = _as_layer_dtype(self.name, input_tensor, self.dtype)
        channels, spatial = self.convolution_shape[0], len(self.convolution_shape) - 1
        if input_tensor.ndim != 2 + spatial or input_tensor.shape[1] != channels or input_tensor.size == 0:
            raise ValueError(f"{self.name} takes {channels} channel(s) and {spatial} spatial axes; "
                             f"got {input_tensor.shape}")
        self.input_tensor = input_tensor
        images, kernels, (stride_y, stride_x) = self._images(input_tensor)
        _, _, m, n = kernels.shape
        height, width = images.shape[2:]
        padded = np.pad(images, ((0, 0), (0, 0), ((m - 1) // 2, m // 2), ((n - 1) // 2, n // 2)))
        full = np.zeros((len(images), self.num_kernels, height, width), dtype=self.dtype)
        for p in range(m):
            for q in range(n):
                full += np.einsum("kc,bcyx->bkyx", kernels[:, :, p, q], padded[:, :, p:p + height, q:q + width])
        output = full[:, :, ::stride_y, ::stride_x] + self.bias[:, None, None]
        return output if spatial == 2 else output[:, :, 0, :]

    def backward(self, error_tensor):
        input_tensor = self._remembered()
        images, kernels, (stride_y, stride_x) = self._images(input_tensor)
        _, _, m, n = kernels.shape
        height, width = images.shape[2:]
        out_shape = (len(images), self.num_kernels, -(-height // stride_y), -(-width // stride_x))
        if len(self.convolution_shape) == 2:
            out_shape = out_shape[:2] + out_shape[3:]
        errors = self._same_shape(error_tensor, out_shape)
        errors = errors if errors.ndim == 4 else errors[:, :, None, :]
        full_errors = np.zeros((len(images), self.num_kernels, height, width), dtype=self.dtype)
        full_errors[:, :, ::stride_y, ::stride_x] = errors  # back on the stride-1 grid
        padded = np.pad(images, ((0, 0), (0, 0), ((m - 1) // 2, m // 2), ((n - 1) // 2, n // 2)))
        padded_gradient = np.zeros_like(padded)
        weights_gradient = np.zeros_like(kernels)
        for p in range(m):
            for q in range(n):
                window = (slice(None), slice(None), slice(p, p + height), slice(q, q + width))
                weights_gradient[:, :, p, q] = np.einsum("bkyx,bcyx->kc", full_errors, padded[window])
                padded_gradient[window] += np.einsum("kc,bkyx->bcyx", kernels[:, :, p, q], full_errors)
        top, left = (m - 1) // 2, (n - 1) // 2
        previous_error = padded_gradient[:, :, top:top + height, left:left + width]
        self.gradient_weights = weights_gradient.reshape(self.weights.shape)
        self.gradient_bias = full_errors.sum(axis=(0, 2, 3))
        self.update_parameters()
        return previous_error if len(self.convolution_shape) == 3 else previous_error[:, :, 0, :]
