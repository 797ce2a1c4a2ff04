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
        input_tensor = np.asarray(input_tensor)
        # BEGIN SOLUTION
        self.positive = input_tensor > 0
        return np.maximum(input_tensor, 0)
        # END SOLUTION

    def backward(self, error_tensor):
        positive = self._cached("positive")
        self._check_error_shape(error_tensor, positive.shape)
        # BEGIN SOLUTION
        return error_tensor * positive
        # END SOLUTION
