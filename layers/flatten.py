"""Flatten: (b, c, y, x) → (b, c·y·x), and back in backward."""
import numpy as np

from layers.base import BaseLayer


class Flatten(BaseLayer):
    """Reshape every batch item to a vector; backward restores the input shape.

    Cache: ``input_shape``.
    """

    def __init__(self):
        super().__init__()
        self.input_shape = None

    def forward(self, input_tensor):
        input_tensor = np.asarray(input_tensor)
        if input_tensor.ndim < 2:
            raise ValueError(f"Flatten: expected input of shape (batch, ...), got {input_tensor.shape}")
        self.input_shape = input_tensor.shape
        return input_tensor.reshape(input_tensor.shape[0], -1)

    def backward(self, error_tensor):
        input_shape = self._cached("input_shape")
        expected = (input_shape[0], int(np.prod(input_shape[1:])))
        self._check_error_shape(error_tensor, expected)
        return np.reshape(error_tensor, input_shape)
