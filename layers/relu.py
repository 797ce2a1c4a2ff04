"""ReLU: the rectified linear unit."""
import numpy as np

from layers.base import BaseLayer


class ReLU(BaseLayer):
    """y = max(0, x), element-wise, any shape.

    Backward, for E = ∂L/∂y:   ∂L/∂x = E · [x > 0]

    (the derivative at exactly 0 is taken as 0).

    Cache: ``positive`` (the mask x > 0).
    """

    def __init__(self):
        super().__init__()
        self.positive = None

    def forward(self, input_tensor):
        """Compute y = max(0, x) element-wise and cache the mask.

        Set ``self.positive`` (``backward`` reads it): a boolean array of the input's shape,
        True where x > 0 (strictly: False at exactly 0).

        Parameters
        ----------
        input_tensor : numpy.ndarray of any shape, floating dtype
            The input x, e.g. ``(b, n)`` or ``(b, c, y, x)``.

        Returns
        -------
        numpy.ndarray of the input's shape and dtype
            y = max(0, x).
        """
        input_tensor = np.asarray(input_tensor)
        # BEGIN SOLUTION
        self.positive = input_tensor > 0
        return np.maximum(input_tensor, 0)
        # END SOLUTION

    def backward(self, error_tensor):
        """Pass the error on where x > 0, nothing elsewhere.

        Parameters
        ----------
        error_tensor : numpy.ndarray of the forward input's shape
            E = ∂L/∂y. Do not modify it in place.

        Returns
        -------
        numpy.ndarray of the input's shape, the error's dtype
            ∂L/∂x = E · [x > 0]: 0 wherever x ≤ 0, including x exactly 0 (a mask x ≥ 0
            is wrong there, and a test checks it).
        """
        positive = self._cached("positive")
        self._check_error_shape(error_tensor, positive.shape)
        # BEGIN SOLUTION
        return error_tensor * positive
        # END SOLUTION
