"""The fast Dropout: the teaching layer's masks and numbers, and no work at all where it is the identity."""
import numpy as np

from layers.base import BaseLayer, kept_fraction


class Dropout(BaseLayer):
    """Keep each unit with probability ``p`` in training, set it to 0 otherwise:
    ``layers.dropout.Dropout`` (constructor, the same masks from the same random source,
    the same results). Where the layer is the identity (inverted dropout at test time,
    or p = 1 at test time) it returns its input and error as they are, without a copy.

    Cache: ``mask`` (boolean, True where a unit was kept; None after a testing
    pass), ``scale`` and ``output_shape``.
    """

    def __init__(self, probability, inverted=True, rng=None):
        super().__init__()
        self.probability = kept_fraction(self.name, probability)
        if not isinstance(inverted, (bool, np.bool_)):
            raise TypeError(f"{self.name}: inverted must be True or False, got {inverted!r}")
        self.inverted = bool(inverted)
        self.rng = rng
        self.mask = None
        self.scale = None
        self.output_shape = None

    def forward(self, input_tensor):
        input_tensor = np.asarray(input_tensor)
        if not np.issubdtype(input_tensor.dtype, np.floating):
            input_tensor = input_tensor.astype(np.float64)
        self.output_shape = input_tensor.shape
        if self.testing_phase:
            self.mask = None
            self.scale = self.probability if not self.inverted else 1.0
            if self.scale == 1.0:
                return input_tensor  # the identity: nothing to compute
        else:
            self.mask = self._draw_mask(input_tensor.shape)
            self.scale = 1.0 / self.probability if self.inverted else 1.0
        return self._apply(input_tensor)

    def backward(self, error_tensor):
        self._check_error_shape(error_tensor, self._cached("output_shape"))
        error_tensor = np.asarray(error_tensor)
        if self.mask is None and self.scale == 1.0:
            return error_tensor
        return self._apply(error_tensor)

    # -- the mask ---------------------------------------------------------------

    def _draw_mask(self, shape):
        """m_i = [u_i < p] for u_i uniform on [0, 1): True with probability p (always for p = 1)."""
        uniform = np.random.random_sample(shape) if self.rng is None else self.rng.random(shape)
        return uniform < self.probability

    def _apply(self, tensor):
        """tensor ⊙ mask · scale (no mask in testing), in the tensor's own dtype."""
        scale = tensor.dtype.type(self.scale)  # a float32 scale keeps float32 tensors float32
        if self.mask is None:
            return tensor * scale
        return np.where(self.mask, tensor * scale, tensor.dtype.type(0))

