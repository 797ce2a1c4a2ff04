"""TanH: the hyperbolic tangent."""
import numpy as np

from layers.base import BaseLayer


class TanH(BaseLayer):
    """y = tanh(x), element-wise, any shape.

    Backward, for E = ∂L/∂y:   ∂L/∂x = E · (1 − y²)

    The derivative needs only the output, so that is what is kept.

    Cache: ``output`` (y).
    """

    def __init__(self):
        super().__init__()
        self.output = None

    def forward(self, input_tensor):
        """Compute y = tanh(x), element-wise.

        Parameters
        ----------
        input_tensor : numpy.ndarray of any shape, floating dtype
            The input x.

        Returns
        -------
        numpy.ndarray of the input's shape and dtype
            y. Cache it as ``self.output``: the derivative needs only y.
        """
        input_tensor = np.asarray(input_tensor)
        # BEGIN SOLUTION
        self.output = np.tanh(input_tensor)
        return self.output
        # END SOLUTION

    def backward(self, error_tensor):
        """Multiply the error by the derivative, computed from the cached output y.

        Parameters
        ----------
        error_tensor : numpy.ndarray of the forward input's shape
            E = ∂L/∂y. Do not modify it in place.

        Returns
        -------
        numpy.ndarray of the input's shape
            ∂L/∂x = E · (1 − y²).
        """
        output = self._cached("output")
        self._check_error_shape(error_tensor, output.shape)
        # BEGIN SOLUTION
        return error_tensor * (1 - output ** 2)
        # END SOLUTION
