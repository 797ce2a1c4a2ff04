"""Dropout: switch random units off while training."""
import math

import numpy as np

from layers.base import BaseLayer


class Dropout(BaseLayer):
    """Keep each unit with probability ``p`` in training, set it to 0 otherwise.

    ``probability`` p is the fraction of units **kept** (seed slides: "randomly
    set activations to 0 with probability 1 − p"). Any input shape; the mask is
    drawn element by element.

    Inverted dropout (default, ``inverted=True``) scales in training, so the test
    pass needs no dropout layer at all::

        training:  y = x ⊙ m / p        testing:  y = x
        m_i = 1 with probability p, 0 otherwise (one fresh mask per forward pass)

    Classic dropout (``inverted=False``) scales at test time instead::

        training:  y = x ⊙ m            testing:  y = p · x

    Either way E[y] in training equals the test-time output, so the next layer
    sees activations of the same mean in both phases.

    Backward routes the error through the same mask and scale as the forward
    pass that preceded it, for E = ∂L/∂y::

        training:  ∂L/∂x = E ⊙ m · scale        testing:  ∂L/∂x = E · scale

    with ``scale`` 1/p (inverted, training), 1 (classic, training; inverted,
    testing) or p (classic, testing).

    Randomness: ``rng`` (a ``numpy.random.Generator``) if given, else NumPy's
    global state, so ``np.random.seed(n)`` repeats the masks.

    dtype: the output has the input's dtype (float32 stays float32); integer
    input becomes float64.

    Cache: ``mask`` (boolean, True where a unit was kept; None after a testing
    pass) and ``scale``.
    """

    def __init__(self, probability, inverted=True, rng=None):
        super().__init__()
        self.probability = _kept_fraction(probability)
        if not isinstance(inverted, (bool, np.bool_)):
            raise TypeError(f"Dropout: inverted must be True or False, got {inverted!r}")
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


def _kept_fraction(probability):
    if isinstance(probability, (bool, np.bool_)):
        raise TypeError(f"Dropout: probability must be a number in (0, 1], got {probability!r}")
    try:
        value = float(probability)
    except (TypeError, ValueError):
        raise TypeError(f"Dropout: probability must be a number in (0, 1], got {probability!r}") from None
    if not (math.isfinite(value) and 0.0 < value <= 1.0):
        raise ValueError(f"Dropout: probability is the fraction of units kept and must lie in (0, 1], "
                         f"got {probability!r}")
    return value
