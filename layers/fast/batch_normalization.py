"""The fast BatchNormalization: the teaching layer's numbers, in channel-major memory and a compact backward."""
import math

import numpy as np

from layers.base import TrainableLayer, as_floating, check_batch_norm_input, check_reformat, positive_int


class BatchNormalization(TrainableLayer):
    """Batch normalization: ``layers.batch_normalization.BatchNormalization`` (constructor,
    parameters, running moments, results), computed with fewer passes over memory.

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

    ``decay`` is the weight of the *old running value*, so 0.8 means the running
    moments move 20 % of the way towards each new batch, with the biased batch
    variance averaged. Before any training batch the running moments are μ = 0,
    σ² = 1, so testing an untrained network works.

    Backward, for E = ∂L/∂Ŷ (the exercise's formulas, sums over the batch b)::

        ∂L/∂γ = Σ_b E_b ⊙ X̃_b        ∂L/∂β = Σ_b E_b
        ∂L/∂X̃ = E γ
        ∂L/∂σ²_B = Σ_b ∂L/∂X̃_b ⊙ (x_b − μ_B) · (−½) (σ²_B + ε)^(−3/2)
        ∂L/∂μ_B = Σ_b ∂L/∂X̃_b · (−1 / sqrt(σ²_B + ε)) + ∂L/∂σ²_B · Σ_b −2 (x_b − μ_B) / B
        ∂L/∂X = ∂L/∂X̃ / sqrt(σ²_B + ε) + ∂L/∂σ²_B · 2 (X − μ_B) / B + ∂L/∂μ_B / B

    Writing s = sqrt(σ²_B + ε) and using X − μ_B = s X̃ and Σ_b (x_b − μ_B) = 0, the
    last three lines collapse to the compact form that ``backward`` computes (the
    tests check it against the teaching layer, which computes the lines above, and
    against central differences)::

        ∂L/∂X = γ / (B s) · (B E − Σ_b E_b − X̃ ⊙ Σ_b E_b ⊙ X̃)

    After a testing-phase forward pass the moments are constants and
    ∂L/∂X = E γ / sqrt(σ² + ε).

    ε (``epsilon``, default 1e-11, the exercise asks for < 1e-10) only keeps the
    division finite when a channel is constant in a batch; pass ``epsilon=1e-5``
    (PyTorch's default) for a layer more forgiving of channels of tiny variance.

    Memory: images are turned into vectors channel-major (each channel's B·M·N
    values together, see ``reformat``), and the output image comes back in the
    memory layout of the input.

    Cache (vector layout): ``input_tensor``, the moments used (``mean``,
    ``variance``), ``normalized`` (X̃), ``image_shape`` (None for vectors).
    """

    regularize_weights = False
    decay = 0.8

    def __init__(self, channels, dtype=np.float64, epsilon=1e-11):
        super().__init__(dtype)
        self.channels = positive_int(self.name, "channels", channels)
        epsilon = float(epsilon)
        if not (math.isfinite(epsilon) and epsilon > 0):
            raise ValueError(f"BatchNormalization: epsilon must be a positive number, got {epsilon!r}")
        self.epsilon = epsilon
        self.initialize(None, None)  # γ = 1, β = 0, no running moments
        self.image_shape = None
        self.input_tensor = None
        self.mean = None
        self.variance = None
        self.normalized = None
        self.used_batch_moments = None

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

    # -- forward ----------------------------------------------------------------

    def forward(self, input_tensor):
        self.check_parameters()
        input_tensor = as_floating(self.name, input_tensor, self.dtype)
        check_batch_norm_input(self.name, input_tensor.shape, self.channels,
                               training=not self.testing_phase)
        self.image_shape = input_tensor.shape if input_tensor.ndim > 2 else None
        vectors = self.reformat(input_tensor) if input_tensor.ndim > 2 else input_tensor

        if self.testing_phase:
            mean, variance = self._running_moments()
            normalized = vectors - mean
        else:
            mean = vectors.mean(axis=0)
            normalized = vectors - mean                        # centered; normalized in place below
            variance = np.mean(np.square(normalized), axis=0)  # what vectors.var(axis=0) computes
            self._update_running_moments(mean, variance)
        normalized /= np.sqrt(variance + self.epsilon)
        output = self._weights * normalized
        output += self._bias

        self.input_tensor, self.normalized = vectors, normalized
        self.mean, self.variance = mean, variance
        self.used_batch_moments = not self.testing_phase
        if self.image_shape is None:
            return output
        # The image comes back in the memory layout of the input (a convolution's, in a network),
        # not in reformat's channel-major one: element-wise work downstream (the ReLU, and its
        # backward pass against the next convolution's gradient) is faster on matching layouts.
        image = np.empty_like(input_tensor)
        image[...] = self.reformat(output)
        return image

    def _running_moments(self):
        if self.running_mean is None:
            return np.zeros(self.channels, self.dtype), np.ones(self.channels, self.dtype)
        return self.running_mean, self.running_variance

    def _update_running_moments(self, mean, variance):
        if self.running_mean is None:
            self.running_mean, self.running_variance = mean.copy(), variance.copy()
            return
        self.running_mean = self.decay * self.running_mean + (1 - self.decay) * mean
        self.running_variance = self.decay * self.running_variance + (1 - self.decay) * variance

    # -- backward ---------------------------------------------------------------

    def backward(self, error_tensor):
        normalized = self._cached("normalized")
        output_shape = normalized.shape if self.image_shape is None else self.image_shape
        self._check_error_shape(error_tensor, output_shape)
        error_tensor = np.asarray(error_tensor, dtype=self.dtype)
        errors = error_tensor if self.image_shape is None else self.reformat(error_tensor)

        self.gradient_weights = np.sum(errors * normalized, axis=0)
        self.gradient_bias = np.sum(errors, axis=0)
        if self.used_batch_moments:
            # The compact form of the exercise's formulas (class docstring), with the two sums
            # just computed: ∂L/∂X = γ/s · (E − (Σ_b E_b + X̃ ⊙ Σ_b E_b ⊙ X̃) / B). It takes
            # four passes over the batch where the formulas line by line take about ten.
            batch_size = errors.shape[0]
            previous_error = normalized * (self.gradient_weights / batch_size)
            previous_error += self.gradient_bias / batch_size
            np.subtract(errors, previous_error, out=previous_error)
            previous_error *= self._weights / np.sqrt(self.variance + self.epsilon)
        else:  # testing phase: μ and σ² are constants
            previous_error = errors * self._weights / np.sqrt(self.variance + self.epsilon)
        self.update_parameters()  # after the input gradient, which needs the forward pass's γ
        return previous_error if self.image_shape is None else self.reformat(previous_error)

    # -- layout -----------------------------------------------------------------

    def reformat(self, tensor, image_shape=None):
        """Image layout ↔ vector layout, dispatching on the tensor's rank.

        An image ``(B, H, M, N)`` becomes vectors ``(B·M·N, H)`` (the values of reshape
        → transpose → reshape); vectors become the image of shape ``image_shape`` by the
        reverse steps; without ``image_shape``, the shape of the last forward pass's input.
        Nothing about the layer changes.
        """
        tensor = np.asarray(tensor)
        image_shape = check_reformat(self.name, tensor.shape, self.image_shape if image_shape is None
                                     else tuple(image_shape))
        if tensor.ndim > 2:
            batch, channels = tensor.shape[:2]
            vectors = tensor.reshape(batch, channels, -1).transpose(0, 2, 1)  # (B, M·N, H), a view
            # The last reshape has to copy. We make that copy channel-major (Fortran order):
            # each channel's B·M·N values then lie together in memory, and the per-channel
            # means, sums and broadcasts of forward and backward run over contiguous runs
            # instead of runs of H values.
            channel_major = np.empty((channels,) + vectors.shape[:2], dtype=tensor.dtype)
            np.copyto(channel_major, vectors.transpose(2, 0, 1))
            return channel_major.reshape(channels, -1).T  # (B·M·N, H), the same values as C order
        batch, channels = image_shape[:2]
        return tensor.reshape(batch, -1, channels).transpose(0, 2, 1).reshape(image_shape)
