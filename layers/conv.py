"""Conv: "same"-padded, strided cross-correlation of 1-D signals and 2-D images."""
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from framework.base import TrainableLayer, as_floating, positive_int
from framework.initializers import UniformRandom


class Conv(TrainableLayer):
    """A bank of ``num_kernels`` kernels slid over the input ("same" padding, then strides).

    For a 2-D input x of shape ``(b, c, y, x)``, kernels W of shape ``(K, c, m, n)``
    and bias b of shape ``(K,)``, the layer computes the cross-correlation (as every
    framework does: the kernel is not flipped)

        z[β, k, i, j] = b[k] + Σ_{γ, p, q} W[k, γ, p, q] · x̃[β, γ, i + p, j + q]
        y[β, k, u, v] = z[β, k, s_y·u, s_x·v]

    where x̃ is x zero-padded so that z has the input's spatial shape ("same"), and
    ``stride_shape = (s_y, s_x)`` subsamples z. The output has shape
    ``(b, K, ceil(y / s_y), ceil(x / s_x))``. 1-D is the same with one spatial axis:
    input ``(b, c, x)``, kernels ``(K, c, m)``, output ``(b, K, ceil(x / s))``.

    Padding convention (PyTorch's ``padding="same"``): an axis with kernel size m gets
    ``(m - 1) // 2`` zeros before and ``m // 2`` after, so for an even m the extra zero
    goes *after* the data. (``scipy.signal.correlate(mode="same")`` and
    ``scipy.ndimage.correlate`` put it before; for odd m all three agree.)

    Backward, for the error E = ∂L/∂y, with E spread back onto z's grid (zeros where
    the stride skipped positions):

        ∂L/∂W[k, γ, p, q] = Σ_{β, i, j} E[β, k, i, j] · x̃[β, γ, i + p, j + q]
        ∂L/∂b[k]          = Σ_{β, i, j} E[β, k, i, j]
        ∂L/∂x̃[β, γ, i + p, j + q] += Σ_k W[k, γ, p, q] · E[β, k, i, j]   (then crop the padding)

    How it is computed (im2col): every kernel offset (p, q) contributes one block of
    rows to a "columns" matrix of shape ``(c·m·n, out_y·out_x·b)`` holding the input
    patch under each output position; the forward pass is then one matrix product
    ``W.reshape(K, c·m·n) @ columns``, ∂L/∂W is ``E @ columnsᵀ`` and ∂L/∂x is
    ``Wᵀ @ E`` (in column space) added back onto the padded image offset by offset
    (col2im). For stride 1, ∂L/∂x takes a faster route to the same numbers: E
    correlated with the flipped kernels, the sums over kernels and columns in one
    product, then one shifted add per kernel row (``_input_gradient_by_shifted_sums``).
    ``layers/conv_reference.py`` holds a plain loop-over-offsets version; the tests
    check this one against it.

    Memory layout (a speed trick, invisible in the shapes): internally the batch axis
    is the *last*, fastest-varying one, ``(c, y, x, b)``. The copies that build the
    columns then move long contiguous runs, and the product's result
    ``(K, out_y·out_x·b)`` already is the output; ``forward`` returns it as a
    transposed view of shape ``(b, K, out_y, out_x)`` rather than paying for a copy.
    NumPy's element-wise operations, ``zeros_like`` and strided slicing keep that
    layout, so the following ReLU and Pooling produce the same layout and the error
    arriving in ``backward`` reshapes to ``(K, out_y·out_x·b)`` for free. An error of
    any other layout is still correct; it just costs one copy.

    Attributes
    ----------
    compute_input_gradient : bool
        Default True. The first layer of a network has nobody to pass ∂L/∂x to:
        set False there and ``backward`` skips that (costly) part and returns None.

    Cache: ``input_shape``, ``columns`` (the im2col matrix of the last forward pass;
    None after a testing-phase forward, which multiplies the columns tile by tile
    without keeping them, see ``_forward_in_tiles``; a backward pass then rebuilds
    them from the padded input). The zero-padded input and the columns live in
    buffers reused from call to call while the input shape stays the same
    (allocating and zero-filling them every batch costs as much as filling them).
    """

    TILE_BYTES = 1 << 20  # size of the column tiles of the testing phase (see _forward_in_tiles)

    def __init__(self, stride_shape, convolution_shape, num_kernels, dtype=np.float64, rng=None):
        super().__init__(dtype)
        self.convolution_shape = _convolution_shape(convolution_shape)
        self.spatial_dimensions = len(self.convolution_shape) - 1
        self.stride_shape = _stride_shape(stride_shape, self.spatial_dimensions)
        self.num_kernels = positive_int("Conv", "num_kernels", num_kernels)
        self.compute_input_gradient = True
        # Usable at once: weights and bias from UniformRandom [0, 1), as in the exercise framework.
        uniform = UniformRandom(rng)
        self._weights = uniform.initialize((self.num_kernels,) + self.convolution_shape, 0, 0).astype(self.dtype)
        self._bias = uniform.initialize((self.num_kernels,), 0, 0).astype(self.dtype)
        self.input_shape = None
        self.columns = None
        # Reused buffers (see the class docstring): zero-padded input (c, y + m - 1, x + n - 1, b),
        # the columns, and the column-space gradient of backward.
        self._padded = self._columns_buffer = self._column_gradient = self._tile_buffer = None
        self._shifted_error = self._row_sums = None  # the same for the stride-1 backward
        self._window_view = (None, None)  # (padded buffer, its windows view): see _windows

    def _fans(self):
        channels, *kernel = self.convolution_shape
        area = int(np.prod(kernel))
        return channels * area, self.num_kernels * area

    # A 1-D layer runs as a 2-D one whose images are one pixel high: kernel (1, m), stride (1, s).
    @property
    def _kernel_2d(self):
        return (1,) * (2 - self.spatial_dimensions) + self.convolution_shape[1:]

    @property
    def _stride_2d(self):
        return (1,) * (2 - self.spatial_dimensions) + self.stride_shape

    def forward(self, input_tensor):
        input_tensor = as_floating(self.name, input_tensor, self.dtype)
        self._check_input(input_tensor)
        images = input_tensor if self.spatial_dimensions == 2 else input_tensor[:, :, np.newaxis, :]
        batch, channels, height, width = images.shape
        (m, n), (stride_y, stride_x) = self._kernel_2d, self._stride_2d
        out_y, out_x = -(-height // stride_y), -(-width // stride_x)  # ceil division

        padded = self._padded_input(images)
        kernel_matrix = self._weights.reshape(self.num_kernels, -1)
        if self.testing_phase:
            output = self._forward_in_tiles(padded, kernel_matrix)
            self.columns = None  # not kept; a backward pass after all rebuilds them from the input
        else:
            self.columns = self._columns(padded)
            output = kernel_matrix @ self.columns  # (K, out_y·out_x·b)
        output += self._bias[:, np.newaxis]
        self.input_shape = input_tensor.shape

        # (K, out_y, out_x, b) in memory, (b, K, out_y, out_x) to the caller: see the class docstring.
        output = output.reshape(self.num_kernels, out_y, out_x, batch).transpose(3, 0, 1, 2)
        return output if self.spatial_dimensions == 2 else output[:, :, 0, :]

    def backward(self, error_tensor):
        input_shape = self._cached("input_shape")
        columns = self.columns if self.columns is not None else self._columns(self._padded)
        out_shape = tuple(-(-size // stride) for size, stride in zip(input_shape[2:], self.stride_shape))
        self._check_error_shape(error_tensor, (input_shape[0], self.num_kernels) + out_shape)
        error_tensor = np.asarray(error_tensor, dtype=self.dtype)
        errors = error_tensor if self.spatial_dimensions == 2 else error_tensor[:, :, np.newaxis, :]
        # (b, K, out_y, out_x) -> (K, out_y·out_x·b): a free reshape when the error has the
        # batch-last layout that forward produced, one copy otherwise.
        error_rows = errors.transpose(1, 2, 3, 0).reshape(self.num_kernels, -1)

        kernel_matrix = self._weights.reshape(self.num_kernels, -1)  # the weights of the forward pass
        self.gradient_weights = (error_rows @ columns.T).reshape(self._weights.shape)
        self.gradient_bias = error_rows.sum(axis=1)
        input_gradient = None
        if self.compute_input_gradient:
            input_gradient = self._input_gradient(kernel_matrix, error_rows, errors.shape[2:])
        self._update_parameters()
        return input_gradient

    def _columns(self, padded):
        """The im2col matrix (c·m·n, out_y·out_x·b) of the padded input, in the reused buffer."""
        windows = self._windows(padded)
        columns = self._buffer("_columns_buffer", windows.shape)
        np.copyto(columns, windows)
        channels, m, n, out_y, out_x, batch = windows.shape
        return columns.reshape(channels * m * n, out_y * out_x * batch)

    def _forward_in_tiles(self, padded, kernel_matrix):
        """``kernel_matrix @ columns`` without ever holding all the columns (testing phase).

        With no backward pass to come, the columns need not be kept. They are built and
        multiplied a few output rows at a time, in a buffer of about ``TILE_BYTES`` that
        stays in the CPU cache while the product reads it, where the whole matrix would go
        out to main memory and back (and grow with the batch: 1.2 GB for LeNet's second
        convolution on 10k images at once). Measured on LeNet's inference with one BLAS
        thread: about 25 % faster than the whole matrix.
        """
        windows = self._windows(padded)  # (c, m, n, out_y, out_x, b)
        channels, m, n, out_y, out_x, batch = windows.shape
        row_bytes = channels * m * n * out_x * batch * self.dtype.itemsize
        rows = max(1, min(out_y, self.TILE_BYTES // row_bytes))
        tile_buffer = self._buffer("_tile_buffer", (channels, m, n, rows, out_x, batch))
        output = np.empty((self.num_kernels, out_y, out_x, batch), dtype=self.dtype)
        for top in range(0, out_y, rows):
            bottom = min(top + rows, out_y)
            tile = tile_buffer[:, :, :, :bottom - top]
            np.copyto(tile, windows[:, :, :, top:bottom])
            # The rows top:bottom of every kernel's output, a (K, rows·out_x·b) view to write into.
            np.matmul(kernel_matrix, tile.reshape(channels * m * n, -1),
                      out=output[:, top:bottom].reshape(self.num_kernels, -1))
        return output.reshape(self.num_kernels, -1)

    def _input_gradient(self, kernel_matrix, error_rows, out_shape):
        """∂L/∂x: by shifted sums for stride 1, by col2im otherwise (both give the formula above)."""
        if self._stride_2d == (1, 1):
            return self._input_gradient_by_shifted_sums(kernel_matrix, error_rows)
        return self._input_gradient_by_col2im(kernel_matrix, error_rows, out_shape)

    def _input_gradient_by_col2im(self, kernel_matrix, error_rows, out_shape):
        """Wᵀ E in column space, then col2im: add each offset's block onto the padded image, crop."""
        batch, channels, *_ = self.input_shape
        (m, n), (stride_y, stride_x) = self._kernel_2d, self._stride_2d
        out_y, out_x = out_shape
        # Column-space gradient into a reused buffer (it is as large as the columns).
        column_gradient = self._buffer("_column_gradient", (channels * m * n, out_y * out_x * batch))
        np.matmul(kernel_matrix.T, error_rows, out=column_gradient)
        column_gradient = column_gradient.reshape(channels, m, n, out_y, out_x, batch)

        padded_gradient = np.zeros(self._padded.shape, dtype=self.dtype)
        for p in range(m):
            for q in range(n):
                padded_gradient[:, p:p + stride_y * out_y:stride_y, q:q + stride_x * out_x:stride_x, :] \
                    += column_gradient[:, p, q]

        height, width = self._padded.shape[1] - (m - 1), self._padded.shape[2] - (n - 1)
        top, left = (m - 1) // 2, (n - 1) // 2
        input_gradient = padded_gradient[:, top:top + height, left:left + width, :].transpose(3, 0, 1, 2)
        return input_gradient if self.spatial_dimensions == 2 else input_gradient[:, :, 0, :]

    def _input_gradient_by_shifted_sums(self, kernel_matrix, error_rows):
        """∂L/∂x for stride 1: the error correlated with the flipped kernels, mostly inside one product.

        With stride 1, E lives on z's grid. Written per input position, the backward formula is

            ∂L/∂x[β, γ, y, x] = Σ_p Σ_{k, q} W[k, γ, p, q] · Ê[β, k, y + m−1−p, x + n−1−q]

        where Ê is E zero-padded by m//2 rows above, (m−1)//2 below, n//2 columns left and
        (n−1)//2 right. Two steps:

        1. The sums over k and q are one matrix product. ``shifted[k, q]`` is Ê moved left by
           n−1−q columns (cut to the input's width), and W' holds the kernels in the order
           (γ, p | k, q); then ``row_sums[(γ, p), ·] = W' @ shifted[(k, q), ·]``.
        2. The sum over p is m shifted adds: ∂L/∂x[γ, y] = Σ_p row_sums[γ, p, y + m−1−p].

        Why not col2im here: its product Wᵀ E keeps all c·m·n kernel offsets apart, and
        col2im then adds m·n blocks, each the size of the input gradient, one at a time
        (25 passes for a 5x5 kernel). Here the product also does the sum over q, which
        leaves m adds. Measured on LeNet's second convolution (batch 64, float32):
        2.2 ms → 1.7 ms. With a stride, E would first have to be spread onto z's grid
        and the product would multiply those zeros too, so strided layers keep col2im.
        """
        batch, channels, *_ = self.input_shape
        m, n = self._kernel_2d
        height, width = self._padded.shape[1] - (m - 1), self._padded.shape[2] - (n - 1)
        kernels = self.num_kernels
        errors = error_rows.reshape(kernels, height, width, batch)
        # shifted[k, q, Y, x] = Ê[k, Y, x + n−1−q] = E[k, Y − m//2, x + (n−1)//2 − q], written
        # straight from E. Only the part inside E is ever written: the rest keeps the zeros
        # the buffer was created with (the same part every batch, as for the padded input).
        shifted = self._buffer("_shifted_error", (kernels, n, height + m - 1, width, batch), zero=True)
        for q in range(n):
            shift = (n - 1) // 2 - q
            left, right = max(0, -shift), min(width, width - shift)
            shifted[:, q, m // 2:m // 2 + height, left:right] = errors[:, :, left + shift:right + shift]
        # W'[(γ, p), (k, q)]: the kernels with channels and rows in front.
        reordered = kernel_matrix.reshape(kernels, channels, m, n).transpose(1, 2, 0, 3).reshape(channels * m, -1)
        row_sums = self._buffer("_row_sums", (channels, m, height + m - 1, width, batch))
        np.matmul(reordered, shifted.reshape(kernels * n, -1), out=row_sums.reshape(channels * m, -1))

        input_gradient = row_sums[:, 0, m - 1:m - 1 + height].copy()
        for p in range(1, m):
            input_gradient += row_sums[:, p, m - 1 - p:m - 1 - p + height]
        input_gradient = input_gradient.transpose(3, 0, 1, 2)  # (c, y, x, b) in memory, as forward's output
        return input_gradient if self.spatial_dimensions == 2 else input_gradient[:, :, 0, :]

    # -- bookkeeping ------------------------------------------------------------

    def replica(self):
        """A shallow copy (see ``BaseLayer.replica``) with scratch buffers of its own."""
        twin = super().replica()
        twin._padded = twin._columns_buffer = twin._column_gradient = twin._tile_buffer = None
        twin._shifted_error = twin._row_sums = None
        twin._window_view = (None, None)
        twin.columns = None
        return twin

    def _padded_input(self, images):
        """Copy ``images`` (b, c, y, x) into the interior of the reused zero-padded buffer (c, ·, ·, b).

        Only the interior is ever written, so the zero border survives from call to
        call and ``np.pad`` (a fresh allocation every batch) is not needed.
        """
        batch, channels, height, width = images.shape
        m, n = self._kernel_2d
        padded = self._buffer("_padded", (channels, height + m - 1, width + n - 1, batch), zero=True)
        top, left = (m - 1) // 2, (n - 1) // 2
        padded[:, top:top + height, left:left + width, :] = images.transpose(1, 2, 3, 0)
        return padded

    def _windows(self, padded):
        """All (m, n) windows of ``padded`` that the stride selects, as a view (c, m, n, out_y, out_x, b).

        One copy of this view is the columns matrix. The view is kept with the padded buffer
        it looks into (building it costs about 0.1 ms of Python, as much as a small copy).
        """
        cached_padded, windows = self._window_view
        # (A deep copy of the layer turns the view into an array of its own: rebuild it then.)
        if cached_padded is not padded or not np.may_share_memory(windows, padded):
            (m, n), (stride_y, stride_x) = self._kernel_2d, self._stride_2d
            # sliding_window_view gives (c, y, x, b, m, n) for every position; keep the strided ones.
            windows = sliding_window_view(padded, (m, n), axis=(1, 2))[:, ::stride_y, ::stride_x]
            windows = windows.transpose(0, 4, 5, 1, 2, 3)
            self._window_view = padded, windows
        return windows

    def _buffer(self, attribute, shape, zero=False):
        """The array stored under ``attribute`` if it has this shape and dtype, else a new one."""
        buffer = getattr(self, attribute, None)
        if buffer is None or buffer.shape != shape or buffer.dtype != self.dtype:
            buffer = np.zeros(shape, dtype=self.dtype) if zero else np.empty(shape, dtype=self.dtype)
            setattr(self, attribute, buffer)
        return buffer

    def _check_input(self, input_tensor):
        channels = self.convolution_shape[0]
        if self.spatial_dimensions == 2:
            expected = f"(batch, {channels}, y, x)"
        else:
            expected = f"(batch, {channels}, x)"
        if input_tensor.ndim != 2 + self.spatial_dimensions:
            raise ValueError(f"{self.name}: a {self.spatial_dimensions}-D kernel "
                             f"{self.convolution_shape} expects input of shape {expected}, "
                             f"got shape {input_tensor.shape} ({input_tensor.ndim} axes)")
        if input_tensor.shape[1] != channels:
            raise ValueError(f"{self.name}: expected input with {channels} channel(s), shape {expected}, "
                             f"got {input_tensor.shape[1]} channel(s) in shape {input_tensor.shape}")
        if 0 in input_tensor.shape:
            raise ValueError(f"{self.name}: expected a non-empty input of shape {expected}, "
                             f"got shape {input_tensor.shape}")


def _convolution_shape(convolution_shape):
    try:
        shape = tuple(convolution_shape)
    except TypeError:
        shape = None
    if shape is None or len(shape) not in (2, 3):
        raise ValueError(f"Conv: convolution_shape must be (channels, m) for 1-D or (channels, m, n) "
                         f"for 2-D, got {convolution_shape!r}")
    return tuple(positive_int("Conv", "every entry of convolution_shape", size) for size in shape)


def _stride_shape(stride_shape, spatial_dimensions):
    """A stride per spatial axis; an int or a one-element sequence applies to every axis."""
    strides = (stride_shape,) if isinstance(stride_shape, (int, np.integer)) else stride_shape
    try:
        strides = tuple(strides)
    except TypeError:
        strides = ()
    if len(strides) not in (1, spatial_dimensions):
        raise ValueError(f"Conv: stride_shape must be an int, a one-element sequence or "
                         f"{spatial_dimensions} entries (one per spatial axis of the kernel), "
                         f"got {stride_shape!r}")
    strides = tuple(positive_int("Conv", "every entry of stride_shape", stride) for stride in strides)
    return strides * spatial_dimensions if len(strides) == 1 else strides
