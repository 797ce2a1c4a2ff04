"""The fast element-wise activations and SoftMax: the teaching layers' numbers, in the
input's dtype and memory layout, with as few temporary arrays as the formulas allow.

Each caches what its derivative needs: the positive mask for ReLU, the output for
TanH, Sigmoid and SoftMax.
"""
import numpy as np

from layers.base import BaseLayer, SoftMaxLayer


class ReLU(BaseLayer):
    """y = max(0, x);   ∂L/∂x = E · [x > 0] = E · [y > 0].   Cache: ``output``.

    The mask comes from the output in ``backward`` (y > 0 exactly where x > 0), so the
    forward pass is a single pass over memory, and inference never builds a mask at all.
    The maximum is taken against an array of zeros laid out like the input, kept between
    calls: NumPy's maximum of an array and a scalar runs a loop that is not vectorized,
    of two arrays of the same layout one that is (``np.zeros_like`` maps zero pages
    lazily, so the kept array costs almost no memory).
    """

    def __init__(self):
        super().__init__()
        self.output = None
        self._zeros = None  # (what it was made for, the array of zeros)

    def forward(self, input_tensor):
        input_tensor = np.asarray(input_tensor)
        # Made for the input's shape, dtype and order of axes in memory (a cropped view has
        # other strides than its compact twin, but the same order).
        made_for = (input_tensor.shape, input_tensor.dtype, tuple(np.argsort(input_tensor.strides)))
        if self._zeros is None or self._zeros[0] != made_for:
            self._zeros = (made_for, np.zeros_like(input_tensor))
        self.output = np.maximum(input_tensor, self._zeros[1])
        return self.output

    def backward(self, error_tensor):
        output = self._cached("output")
        self._check_error_shape(error_tensor, output.shape)
        # A product with the boolean mask keeps the error's dtype and memory layout, and is
        # faster than np.where.
        return error_tensor * (output > 0)


class TanH(BaseLayer):
    """y = tanh(x);   ∂L/∂x = E · (1 − y²).   Cache: ``output``."""

    def __init__(self):
        super().__init__()
        self.output = None

    def forward(self, input_tensor):
        self.output = np.tanh(input_tensor)
        return self.output

    def backward(self, error_tensor):
        output = self._cached("output")
        self._check_error_shape(error_tensor, output.shape)
        derivative = np.square(output)
        np.subtract(1, derivative, out=derivative)
        return np.multiply(error_tensor, derivative)


class Sigmoid(BaseLayer):
    """y = 1 / (1 + e^(−x)) = (1 + tanh(x/2)) / 2 (never overflows);   ∂L/∂x = E · y · (1 − y).

    Cache: ``output``.
    """

    def __init__(self):
        super().__init__()
        self.output = None

    def forward(self, input_tensor):
        input_tensor = np.asarray(input_tensor)
        output = np.tanh(input_tensor * input_tensor.dtype.type(0.5))
        output += 1
        output *= 0.5
        self.output = output
        return output

    def backward(self, error_tensor):
        output = self._cached("output")
        self._check_error_shape(error_tensor, output.shape)
        derivative = np.subtract(1, output)
        derivative *= output
        return np.multiply(error_tensor, derivative)


class SoftMax(SoftMaxLayer):
    """ŷ_k = exp(x_k − max_j x_j) / Σ_j exp(x_j − max_j x_j), row by row for scores ``(b, classes)``;
    ∂L/∂x = ŷ ⊙ (E − Σ_j E_j ŷ_j).   Cache: ``output``.
    """

    def __init__(self):
        super().__init__()
        self.output = None

    def forward(self, input_tensor):
        input_tensor = np.asarray(input_tensor)
        if input_tensor.ndim != 2:
            raise ValueError(f"{self.name}: expected scores of shape (batch, classes), got {input_tensor.shape}")
        exponentials = np.exp(input_tensor - input_tensor.max(axis=1, keepdims=True))
        self.output = exponentials / exponentials.sum(axis=1, keepdims=True)
        return self.output

    def backward(self, error_tensor):
        output = self._cached("output")
        self._check_error_shape(error_tensor, output.shape)
        previous_error = error_tensor - np.sum(error_tensor * output, axis=1, keepdims=True)
        previous_error *= output
        return previous_error
