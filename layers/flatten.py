"""Flatten: (b, c, y, x) → (b, c·y·x), and back in backward."""
import numpy as np

from layers.base import BaseLayer


class Flatten(BaseLayer):
    """Reshape every batch item to a vector: ``(b, ...)`` → ``(b, product of the rest)``.

    Backward reshapes the error ``(b, n)`` back to the input's shape: a reshape moves
    no value, so each error entry goes back to the input entry it came from.

    Cache: ``input_shape``.
    """

    def __init__(self):
        super().__init__()
        self.input_shape = None

    def forward(self, input_tensor):
        """Reshape every batch item to one vector.

        Parameters
        ----------
        input_tensor : numpy.ndarray of shape (b, ...), at least 2 axes, any dtype
            E.g. feature maps ``(b, c, y, x)``. Its shape is cached as ``self.input_shape``
            before your code runs.

        Returns
        -------
        numpy.ndarray of shape (b, n), the input's dtype
            n is the product of the axes after the first (c·y·x for images); item β's
            values in row-major order are row β. The batch axis stays axis 0.
        """
        input_tensor = np.asarray(input_tensor)
        if input_tensor.ndim < 2:
            raise ValueError(f"{self.name}: expected input of shape (batch, ...), got {input_tensor.shape}")
        self.input_shape = input_tensor.shape
        # BEGIN SOLUTION
        return input_tensor.reshape(input_tensor.shape[0], -1)
        # END SOLUTION

    def backward(self, error_tensor):
        """Reshape the error back to the input's shape.

        Parameters
        ----------
        error_tensor : numpy.ndarray of shape (b, n)
            E = ∂L/∂y, n as in ``forward``.

        Returns
        -------
        numpy.ndarray of shape ``self.input_shape``
            ∂L/∂x: every error entry back at the input entry it came from.
        """
        input_shape = self._cached("input_shape")
        self._check_error_shape(error_tensor, (input_shape[0], int(np.prod(input_shape[1:]))))
        # BEGIN SOLUTION
        return np.reshape(error_tensor, input_shape)
        # END SOLUTION
