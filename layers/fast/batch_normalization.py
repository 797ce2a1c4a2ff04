"""The fast BatchNormalization: the teaching layer's numbers, in channel-major memory and a compact backward."""
import math

import numpy as np

from layers.base import TrainableLayer, as_floating, check_batch_norm_input, check_reformat, positive_int
from layers.fast.sums import row_sums


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

    How it is computed (speed; the numbers are the formulas above): the layer works on
    "channel rows", a ``(channels, N)`` view of the input with each channel's N = B·M·N
    values in one row, in the input's own memory order. Behind the fast ``Conv``, whose
    output is batch-last in memory (``(c, y, x, b)``), that view costs nothing: no copy
    into the vector layout and none back, and every per-channel sum, dot product and
    broadcast runs along contiguous memory. An input of another layout is copied once
    into channel rows, and the output (and the input gradient) come back in the memory
    layout of the input either way, so element-wise work downstream runs on matching
    layouts. The variance is the per-channel dot product of the centered rows with
    themselves (one pass, no squared temporary), and the forward pass caches the centered
    rows X − μ_B and 1/s rather than X̃ = (X − μ_B)/s, which saves a pass: the backward
    pass folds 1/s into its per-channel factors.

    Cache: the moments used (``mean``, ``variance``), ``inverse_std`` (1/s),
    ``centered`` (X − μ as channel rows, in a buffer reused from call to call; None after
    a testing-phase forward pass, which needs only the running moments, and then computed
    by ``backward`` from ``input_rows``), ``input_rows`` (the input as channel rows) and
    ``image_shape`` (None for vectors).
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
        self.input_rows = None
        self.centered = None
        self.mean = None
        self.variance = None
        self.inverse_std = None
        self.used_batch_moments = None
        self._layout = None  # (axes that turn the input into channel rows, their shape, the inverse axes): _to_rows
        self._layout_made_for = None  # the (shape, strides) of the input ``_layout`` was made for
        self._scratch = None  # (what it was made for, the buffer that holds ``centered``)

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
        if self._layout_made_for != (input_tensor.shape, input_tensor.strides):  # a new shape or layout
            self._layout = _channel_rows_layout(input_tensor)
            self._layout_made_for = (input_tensor.shape, input_tensor.strides)
        rows = self._to_rows(input_tensor)

        if self.testing_phase:
            mean, variance = self._running_moments()
            centered = None  # not needed for the output; backward computes it if it comes
        else:
            mean = row_sums(rows) / rows.dtype.type(rows.shape[1])  # rows.mean(axis=1), by BLAS
            centered = np.subtract(rows, mean[:, np.newaxis], out=self._centered_buffer(rows))
            variance = _row_dots(centered, centered) / rows.shape[1]  # what rows.var(axis=1) computes
            self._update_running_moments(mean, variance)
        inverse_std = 1 / np.sqrt(variance + self.epsilon)
        # Ŷ = γ (X − μ) / s + β = X · γ/s + (β − μ γ/s): two passes, with or without ``centered``.
        scale = self._weights * inverse_std
        if centered is None:
            output = rows * scale[:, np.newaxis]
            output += (self._bias - mean * scale)[:, np.newaxis]
        else:
            output = centered * scale[:, np.newaxis]
            output += self._bias[:, np.newaxis]

        self.input_rows, self.centered = rows, centered
        self.mean, self.variance, self.inverse_std = mean, variance, inverse_std
        self.used_batch_moments = not self.testing_phase
        return self._from_rows(output)

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
        rows = self._cached("input_rows")
        self._check_error_shape(error_tensor, self.image_shape or rows.shape[::-1])
        error_tensor = np.asarray(error_tensor, dtype=self.dtype)
        errors = self._to_rows(error_tensor)
        centered = self.centered if self.centered is not None else rows - self.mean[:, np.newaxis]
        inverse_std, count = self.inverse_std, rows.shape[1]

        # ∂L/∂γ = Σ E ⊙ X̃ = (1/s) Σ E ⊙ (X − μ);  ∂L/∂β = Σ E.
        self.gradient_weights = _row_dots(errors, centered) * inverse_std
        self.gradient_bias = row_sums(errors)
        if self.used_batch_moments:
            # The compact form (class docstring), with X̃ = (X − μ)/s:
            # ∂L/∂X = γ/s · (E − ((X − μ) · (∂L/∂γ)/s + ∂L/∂β) / B), in four passes.
            previous_error = centered * (self.gradient_weights * inverse_std / count)[:, np.newaxis]
            previous_error += (self.gradient_bias / count)[:, np.newaxis]
            np.subtract(errors, previous_error, out=previous_error)
            previous_error *= (self._weights * inverse_std)[:, np.newaxis]
        else:  # testing phase: μ and σ² are constants
            previous_error = errors * (self._weights * inverse_std)[:, np.newaxis]
        self.update_parameters()  # after the input gradient, which needs the forward pass's γ
        return self._from_rows(previous_error)

    # -- channel rows -------------------------------------------------------------

    def _centered_buffer(self, rows):
        """An array shaped and laid out like ``rows``, reused from call to call for ``centered``.

        ``centered`` is the only large array that stays inside the layer (a cache, read by the
        next backward pass and replaced by the next forward pass), so it can live in one
        buffer; a fresh array of this size every batch would come as new pages from the
        system, and faulting them in costs about as much as computing it.
        """
        made_for = (rows.shape, rows.dtype, rows.flags.f_contiguous)
        if self._scratch is None or self._scratch[0] != made_for:
            self._scratch = (made_for, np.empty_like(rows))
        return self._scratch[1]

    def replica(self):
        """A shallow copy (see ``BaseLayer.replica``) with a scratch buffer of its own."""
        twin = super().replica()
        twin._scratch = None
        return twin

    def _to_rows(self, tensor):
        """``tensor`` (the forward pass's shape) as channel rows ``(channels, N)``: a view when its
        memory layout is the forward input's (see ``_channel_rows_layout``), a copy otherwise."""
        axes, shape, _ = self._layout
        return tensor.transpose(axes).reshape(shape[0], -1)

    def _from_rows(self, rows):
        """Channel rows back to the forward input's shape (a view of ``rows``)."""
        _, shape, inverse = self._layout
        return rows.reshape(shape).transpose(inverse)

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


def _channel_rows_layout(tensor):
    """(axes, shape, inverse): ``tensor.transpose(axes)`` has the channel axis first and the
    others in the tensor's memory order, so that its reshape to ``(channels, N)`` is a view
    where the memory allows (batch-last images, C-order vectors) and each channel's values
    are one row; ``shape`` is that transpose's shape, ``inverse`` the axes that undo it."""
    others = sorted((axis for axis in range(tensor.ndim) if axis != 1),
                    key=lambda axis: -tensor.strides[axis] if tensor.shape[axis] > 1 else 0)
    axes = (1,) + tuple(others)
    return axes, tuple(tensor.shape[axis] for axis in axes), tuple(int(axis) for axis in np.argsort(axes))


LONG_ROW = 10_000  # values per row from which a BLAS dot per row beats one einsum (see _row_dots)


def _row_dots(first, second):
    """Σ_j first[i, j] · second[i, j] for every row i.

    Where the rows are contiguous, NumPy's ``vecdot`` (NumPy 2): one pass over memory, no
    temporary array, and accurate (BLAS sums in several partial sums); float32, one thread,
    against einsum: 16 rows of 50176 values 66 µs against 108, 64 of 3136 16 against 26, 120
    of 64 2.0 against 3.0 (docs/performance.md). On NumPy 1, BLAS dots row by row for long
    rows and einsum otherwise, where the Python loop over rows would cost more than it saves.
    Rows that are not contiguous (vectors ``(B, H)`` as channel rows, a transposed view) go to
    einsum: ``vecdot`` runs them 15 times slower.
    """
    if first.strides[1] == first.itemsize and second.strides[1] == second.itemsize:
        if hasattr(np, "vecdot"):
            return np.vecdot(first, second, axis=1)
        if first.shape[1] >= LONG_ROW:
            return np.array([np.dot(a, b) for a, b in zip(first, second)], dtype=first.dtype)
    return np.einsum("ij,ij->i", first, second)
