"""GlobalAveragePooling: the mean of every channel's map."""
import numpy as np

from layers.base import BaseLayer, check_feature_maps


class GlobalAveragePooling(BaseLayer):
    """(b, c, y, x) → (b, c): y_bc = (1 / (Y·X)) Σ_yx x_bcyx.

    backward spreads each channel's error evenly over its map:
    ∂L/∂x_bcyx = E_bc / (Y·X).   Cache: ``input_shape``.
    """

    def __init__(self):
        super().__init__()
        self.input_shape = None

    def forward(self, input_tensor):
        input_tensor = np.asarray(input_tensor)
        check_feature_maps(self.name, input_tensor.shape)
        self.input_shape = input_tensor.shape
        return input_tensor.mean(axis=(2, 3))

    def backward(self, error_tensor):
        input_shape = self._cached("input_shape")
        self._check_error_shape(error_tensor, input_shape[:2])
        error_tensor = np.asarray(error_tensor)
        scale = error_tensor.dtype.type(1.0 / (input_shape[2] * input_shape[3]))
        return np.broadcast_to((error_tensor * scale)[:, :, None, None], input_shape).copy()
