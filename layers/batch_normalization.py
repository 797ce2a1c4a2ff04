"""BatchNormalization: normalize each channel over the batch, then scale and shift."""
import math

import numpy as np

from layers.base import TrainableLayer, as_floating, check_batch_norm_input, check_reformat, positive_int


class BatchNormalization(TrainableLayer):
    """Batch normalization (Ioffe & Szegedy, 2015) as the exercise slides 'Regularization' give it.

    Forward, per channel, for a batch X of shape ``(B, H)``::

        X̃ = (X − μ_B) / sqrt(σ²_B + ε)        μ_B, σ²_B: mean and (biased) variance over the batch
        Ŷ = γ X̃ + β

    γ (``weights``) and β (``bias``) have shape ``(channels,)`` and start at ones
    and zeros, so the layer starts as a pure normalization. They are trained by
    the layer's optimizer but never regularized (``regularize_weights = False``).

    Images ``(B, H, M, N)`` get one mean and variance per channel H: ``reformat``
    turns them into ``(B·M·N, H)`` vectors (the spatial positions act as more
    batch entries), the vector formulas run unchanged, and ``reformat`` turns the
    result back. 1-D signals ``(B, H, X)`` are handled the same way.

    Training uses the batch moments μ_B, σ²_B. Testing uses running moments,
    taken from the first training batch and then updated after every training
    batch as a moving average with ``decay`` = 0.8::

        μ ← decay · μ + (1 − decay) · μ_B        σ² ← decay · σ² + (1 − decay) · σ²_B

    ``decay`` is the weight of the *old running value* (as in the exercise framework
    and PyTorch), so 0.8 moves the running moments 20 % of the way towards each new
    batch. The variance σ² is averaged (not σ), with the same biased variance as in
    training. Before any training batch the running moments are μ = 0, σ² = 1, so
    testing an untrained network works.

    Backward, for E = ∂L/∂Ŷ, sums over the batch b (the exercise's formulas)::

        ∂L/∂γ = Σ_b E_b ⊙ X̃_b        ∂L/∂β = Σ_b E_b
        ∂L/∂X̃ = E γ
        ∂L/∂σ²_B = Σ_b ∂L/∂X̃_b ⊙ (x_b − μ_B) · (−½) (σ²_B + ε)^(−3/2)
        ∂L/∂μ_B = Σ_b ∂L/∂X̃_b · (−1 / sqrt(σ²_B + ε)) + ∂L/∂σ²_B · Σ_b −2 (x_b − μ_B) / B
        ∂L/∂X = ∂L/∂X̃ / sqrt(σ²_B + ε) + ∂L/∂σ²_B · 2 (X − μ_B) / B + ∂L/∂μ_B / B

    After a testing-phase forward pass the moments are constants and
    ∂L/∂X = E γ / sqrt(σ² + ε).

    ε (``epsilon``, default 1e-11; the exercise asks for < 1e-10) only keeps the
    division finite when a channel is constant in a batch. Gradient checks pass for
    any ε, because forward and backward use the same one; pass ``epsilon=1e-5``
    (PyTorch's default) for a layer more forgiving of channels of tiny variance.

    Cache (vector layout): ``input_tensor`` (X), the moments used (``mean``,
    ``variance``), ``normalized`` (X̃), and ``image_shape`` (the input's shape for
    images and signals, None for vectors).
    """

    regularize_weights = False
    decay = 0.8

    def __init__(self, channels, dtype=np.float64, epsilon=1e-11):
        super().__init__(dtype)
        self.channels = positive_int(self.name, "channels", channels)
        epsilon = float(epsilon)
        if not (math.isfinite(epsilon) and epsilon > 0):
            raise ValueError(f"{self.name}: epsilon must be a positive number, got {epsilon!r}")
        self.epsilon = epsilon
        self.initialize(None, None)  # γ = 1, β = 0, no running moments
        self.image_shape = None
        self.input_tensor = None
        self.mean = None
        self.variance = None
        self.normalized = None

    def initialize(self, weights_initializer, bias_initializer):
        """Reset to the untrained layer: γ = 1, β = 0 whatever the initializers, no running moments.

        The initializers are ignored on purpose: γ = 1 and β = 0 make the layer
        start as a pure normalization, able to learn its way to any scale and shift.
        """
        self._weights = np.ones(self.channels, dtype=self.dtype)
        self._bias = np.zeros(self.channels, dtype=self.dtype)
        self.running_mean = None
        self.running_variance = None

    def parameter_shapes(self):
        return (self.channels,), (self.channels,)

    def _fans(self):
        return self.channels, self.channels

    def forward(self, input_tensor):
        """Normalize each channel, then scale by γ and shift by β.

        Set, in the vector layout, what ``backward`` reads: ``self.input_tensor`` (X,
        ``(B·M·N, H)``), ``self.mean`` and ``self.variance`` (the moments used, ``(H,)``)
        and ``self.normalized`` (X̃, ``(B·M·N, H)``).

        Parameters
        ----------
        input_tensor : numpy.ndarray of shape (B, H), (B, H, X) or (B, H, M, N)
            Already converted to the layer's ``dtype``; H is ``channels``. For images and
            signals ``self.image_shape`` holds the input's shape (None for vectors) before
            your code runs: work in the vector layout of ``reformat``.

        Returns
        -------
        numpy.ndarray of the input's shape, the layer's dtype
            Ŷ = γ X̃ + β. Training uses the batch moments over axis 0 of the vector layout
            (one mean and one biased variance per channel, shape ``(H,)``) and updates
            ``running_mean`` and ``running_variance``; testing uses the running moments.
        """
        self.check_parameters()
        input_tensor = as_floating(self.name, input_tensor, self.dtype)
        check_batch_norm_input(self.name, input_tensor.shape, self.channels,
                               training=not self.testing_phase)
        self.image_shape = input_tensor.shape if input_tensor.ndim > 2 else None
        # BEGIN SOLUTION
        vectors = input_tensor if self.image_shape is None else self.reformat(input_tensor)
        if self.testing_phase:
            if self.running_mean is None:
                mean, variance = np.zeros(self.channels, self.dtype), np.ones(self.channels, self.dtype)
            else:
                mean, variance = self.running_mean, self.running_variance
        else:
            mean, variance = vectors.mean(axis=0), vectors.var(axis=0)
            if self.running_mean is None:
                self.running_mean, self.running_variance = mean.copy(), variance.copy()
            else:
                self.running_mean = self.decay * self.running_mean + (1 - self.decay) * mean
                self.running_variance = self.decay * self.running_variance + (1 - self.decay) * variance
        normalized = (vectors - mean) / np.sqrt(variance + self.epsilon)
        output = self.weights * normalized + self.bias
        self.input_tensor, self.normalized, self.mean, self.variance = vectors, normalized, mean, variance
        return output if self.image_shape is None else self.reformat(output)
        # END SOLUTION

    def backward(self, error_tensor):
        """Gradients of γ and β, then ∂L/∂X; the optimizer steps last.

        Set ``self.gradient_weights`` (∂L/∂γ) and ``self.gradient_bias`` (∂L/∂β), each of
        shape ``(channels,)`` in the layer's dtype; the tests read them. Write ∂L/∂X into
        ``previous_error``, in the input's layout: the stub keeps the call
        ``self.update_parameters()`` after your code (it lets the optimizer, if one is set,
        update γ and β), so ∂L/∂X is computed with the γ of the forward pass. Keep that call.

        Parameters
        ----------
        error_tensor : numpy.ndarray of the forward input's shape
            E = ∂L/∂Ŷ, already converted to the layer's dtype. Do not modify it in place.

        Returns
        -------
        numpy.ndarray of the forward input's shape, the layer's dtype
            ∂L/∂X by the class docstring's formulas after a training pass (μ_B and σ²_B
            depend on X), E γ / sqrt(σ² + ε) after a testing pass (the moments are constants).
        """
        normalized = self._cached("normalized")
        self._check_error_shape(error_tensor, normalized.shape if self.image_shape is None else self.image_shape)
        error_tensor = np.asarray(error_tensor, dtype=self.dtype)
        # BEGIN SOLUTION
        errors = error_tensor if self.image_shape is None else self.reformat(error_tensor)
        self.gradient_weights = np.sum(errors * normalized, axis=0)
        self.gradient_bias = np.sum(errors, axis=0)
        inverse_std = 1 / np.sqrt(self.variance + self.epsilon)
        gradient_normalized = errors * self.weights
        if self.testing_phase:  # μ and σ² are constants
            previous_error = gradient_normalized * inverse_std
        else:
            batch_size = errors.shape[0]
            centered = self.input_tensor - self.mean
            gradient_variance = np.sum(gradient_normalized * centered, axis=0) * -0.5 * inverse_std ** 3
            gradient_mean = (np.sum(gradient_normalized, axis=0) * -inverse_std
                             + gradient_variance * np.sum(-2 * centered, axis=0) / batch_size)
            previous_error = (gradient_normalized * inverse_std + gradient_variance * 2 * centered / batch_size
                              + gradient_mean / batch_size)
        if self.image_shape is not None:
            previous_error = self.reformat(previous_error)
        # END SOLUTION
        # Kept in the stub: the optimizer steps only now, after ∂L/∂X, which needs the γ of
        # the forward pass.
        self.update_parameters()
        return previous_error

    def reformat(self, tensor, image_shape=None):
        """Image layout ↔ vector layout, dispatching on the tensor's rank.

        An image ``(B, H, M, N)`` becomes vectors ``(B·M·N, H)``: reshape to
        ``(B, H, M·N)``, transpose to ``(B, M·N, H)``, reshape to ``(B·M·N, H)``.
        Vectors ``(B·M·N, H)`` become the image of shape ``image_shape`` by the
        reverse steps; without ``image_shape``, the shape of the last forward pass's
        input. 1-D signals ``(B, H, X)`` work the same way with M·N replaced by X.
        Nothing about the layer changes.

        Parameters
        ----------
        tensor : numpy.ndarray of shape (B, H, M, N), (B, H, X), or (B·M·N, H)
            An image (or signal) to turn into vectors, or vectors to turn back.
        image_shape : tuple of int, optional
            The image shape that vectors become; default the last forward input's shape.

        Returns
        -------
        numpy.ndarray
            ``(B·M·N, H)`` for an image, ``image_shape`` for vectors; values unchanged.
        """
        tensor = np.asarray(tensor)
        image_shape = check_reformat(self.name, tensor.shape, self.image_shape if image_shape is None
                                     else tuple(image_shape))
        # BEGIN SOLUTION
        if tensor.ndim > 2:
            batch, channels = tensor.shape[:2]
            return tensor.reshape(batch, channels, -1).transpose(0, 2, 1).reshape(-1, channels)
        batch, channels = image_shape[:2]
        return tensor.reshape(batch, -1, channels).transpose(0, 2, 1).reshape(image_shape)
        # END SOLUTION

