"""The fast Flatten: the teaching layer's reshape."""
import numpy as np

from layers.base import BaseLayer


class Flatten(BaseLayer):
    """``(b, ...)`` → ``(b, product of the rest)``; backward reshapes the error back.

    Behind the fast Conv's batch-last layout, the reshape is a view without a copy:
    the merged axes (c, y, x) lie in row-major order in memory, and the result is a
    column-major ``(b, c·y·x)`` matrix (the fast FullyConnected hands back its input
    gradient in that layout).

    Cache: ``input_shape``.
    """

    def __init__(self):
        super().__init__()
        self.input_shape = None

    def forward(self, input_tensor):
        input_tensor = np.asarray(input_tensor)
        if input_tensor.ndim < 2:
            raise ValueError(f"{self.name}: expected input of shape (batch, ...), got {input_tensor.shape}")
        self.input_shape = input_tensor.shape
        return input_tensor.reshape(input_tensor.shape[0], -1)

    def backward(self, error_tensor):
        input_shape = self._cached("input_shape")
        self._check_error_shape(error_tensor, (input_shape[0], int(np.prod(input_shape[1:]))))
        return np.reshape(error_tensor, input_shape)
