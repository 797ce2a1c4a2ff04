"""Dropout: switch random units off while training."""
import numpy as np

from layers.base import BaseLayer, kept_fraction


class Dropout(BaseLayer):
    """Keep each unit with probability ``p`` in training, set it to 0 otherwise.

    ``probability`` p is the fraction of units **kept** (the exercise slides
    'Regularization': "randomly set activations to 0 with probability 1 − p"). Any
    input shape; the mask is drawn element by element, a fresh one every forward pass:

        m_i = 1 with probability p, 0 otherwise   (m = [u < p] for u uniform on [0, 1))

    Inverted dropout (default, ``inverted=True``) scales in training, so the test
    pass needs no dropout layer at all::

        training:  y = x ⊙ m / p        testing:  y = x

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
        """Drop units in training (``testing_phase`` False); scale only, in testing.

        Set ``self.mask`` (boolean, the input's shape, True where a unit is kept; None
        after a testing pass) and ``self.scale`` (a Python float): ``backward`` reads them.

        Parameters
        ----------
        input_tensor : numpy.ndarray of any shape
            Floating input keeps its dtype; integer input has been converted to float64
            before your code runs.

        Returns
        -------
        numpy.ndarray of the input's shape and dtype
            Training: x ⊙ m · scale with a fresh mask m = [u < p] (draw u from ``self.rng``
            if it is set, else ``np.random.random_sample``); testing: x · scale (the class
            docstring gives ``scale``).
        """
        input_tensor = np.asarray(input_tensor)
        if not np.issubdtype(input_tensor.dtype, np.floating):
            input_tensor = input_tensor.astype(np.float64)
        self.output_shape = input_tensor.shape
        # BEGIN SOLUTION
        if self.testing_phase:
            self.mask = None
            self.scale = 1.0 if self.inverted else self.probability
            return input_tensor * input_tensor.dtype.type(self.scale)
        uniform = np.random.random_sample(input_tensor.shape) if self.rng is None else self.rng.random(
            input_tensor.shape)
        self.mask = uniform < self.probability
        self.scale = 1.0 / self.probability if self.inverted else 1.0
        return input_tensor * self.mask * input_tensor.dtype.type(self.scale)
        # END SOLUTION

    def backward(self, error_tensor):
        """Route the error through the mask and scale of the last forward pass.

        Parameters
        ----------
        error_tensor : numpy.ndarray of the forward input's shape
            E = ∂L/∂y. Do not modify it in place.

        Returns
        -------
        numpy.ndarray of the input's shape, the error's dtype
            E ⊙ m · scale after a training pass, E · scale after a testing pass
            (``self.mask`` is None then).
        """
        self._check_error_shape(error_tensor, self._cached("output_shape"))
        error_tensor = np.asarray(error_tensor)
        # BEGIN SOLUTION
        scale = error_tensor.dtype.type(self.scale)
        if self.mask is None:
            return error_tensor * scale
        return error_tensor * self.mask * scale
        # END SOLUTION
