"""The fast Conv: the teaching ``layers.conv.Conv``'s numbers, computed with output blocks,
phase planes, reused buffers and a batch-last memory layout."""
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from layers.base import (TrainableLayer, as_floating, check_image_input, positive_int, positive_ints, same_padding,
                         stride_per_axis)
from layers.fast.blas import numpy_blas
from layers.fast.sums import row_sums


class Conv(TrainableLayer):
    """A bank of ``num_kernels`` kernels slid over the input ("same" padding, then strides):
    the same layer as ``layers.conv.Conv`` (constructor, parameters, results), built for speed.

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
    goes *after* the data.

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
    (col2im). Without output blocks (below) and with no more kernels than channels, ∂L/∂x
    takes faster routes to the same numbers: at stride 1, E correlated with the flipped
    kernels, computed like a forward pass (``_input_gradient_by_correlation``); with a
    stride, one such correlation per phase of the input (``_input_gradient_by_phases``).
    ``_input_gradient`` says which route runs where, and why. The teaching
    ``layers.conv.Conv`` is the plain im2col; the tests check this layer against it.

    Tiles (a speed trick, invisible in the results): a large columns matrix is never
    built whole. It is built a few output rows at a time, in a tile of about
    ``TILE_BYTES`` that stays in the CPU cache while the product reads it
    (``_column_tiles``), and the backward pass builds the tiles again for ∂L/∂W. The
    whole matrix is 9 to 25 times the input; written out to main memory and read back
    twice, it made the products run at half their speed on cached tiles. A matrix of at
    most ``WHOLE_BYTES`` (LeNet's) fits in the cache anyway: it is built in one tile,
    which the backward pass uses again as it is.

    Output blocks (a speed trick; ``output_block = (1, 1)`` gives the plain im2col
    above). One column may serve a block of B_y × B_x neighbouring output positions
    instead of one: it then holds the input patch under the whole block,
    P_y × P_x = ((B_y − 1)·s_y + m) × ((B_x − 1)·s_x + n) pixels per channel, and the
    kernels are spread into a matrix with one row per (kernel, position in the block):

        W_B[(k, d_y, d_x), (γ, p', q')] = W[k, γ, p' − d_y·s_y, q' − d_x·s_x]   (0 outside the kernel)

    so that ``W_B @ columns`` gives all B_y·B_x outputs of each block. For LeNet's 5x5
    kernels at stride 1 with 2x2 blocks, a column holds 36 pixels per channel for 4
    outputs instead of 100, and the products get 4 times as many rows, which BLAS runs
    far more efficiently when there are only 6 or 16 kernels. In return the product
    multiplies the zeros of W_B too, a larger share of it the smaller the kernel; so
    blocks pay for large kernels only, and only where there are few of them (with 32
    kernels or more the product has rows enough already). Unless set, the block follows
    a rule (``_block_by_rule``, read again at every forward pass): 2x2 for 2-D layers with
    stride 1, kernels of at least 5x5 and at most 16 of them, and no blocks (1x1)
    otherwise; except where the product without blocks runs in pieces (below: OpenBLAS's
    AVX-512 kernels, on one thread nearly always, on more only for first layers of a few
    channels), where blocks pay only for layers with at most ``BLOCK_CHANNELS_WITH_PIECES``
    channels that compute ∂L/∂x (docs/performance.md has the measurements). ∂L/∂W comes from the same columns: the error is arranged by
    block the same way (``E_B``), and ``E_B @ columnsᵀ`` is folded back onto W by
    adding the part of each block position, the adjoint of spreading W into W_B.
    ∂L/∂x is col2im of ``W_Bᵀ @ E_B``: patches of 36 pixels per channel to add back
    instead of 100, with more rows in the product again.

    Products in pieces (a speed trick, the same numbers up to rounding): where NumPy's
    OpenBLAS runs a product's shape slowly (few kernels times many columns, a few short
    rows times a long sum), the product is one ``np.matmul`` over a stack of narrow column
    pieces instead, a 3-D view of the same arrays (``_product``,
    ``_product_with_transposed``; where it pays is a rule measured by
    ``benchmarks/bench_products.py``, read from the BLAS kernels and threads, never timed).

    Pointwise layers (1x1 kernels, stride 1, no blocks) need no im2col at all: the
    columns matrix is the input itself as ``(c, y·x·b)``, a free view of a batch-last
    input, and ∂L/∂x is the product ``Wᵀ E`` without any adds, so neither the padded copy
    nor the columns copy is made.

    Memory layout (a speed trick, invisible in the shapes): internally the batch axis
    is the *last*, fastest-varying one, ``(c, y, x, b)``. The copies that build the
    columns then move long contiguous runs, and the product's result, rearranged by
    block and with the bias added in the same pass, is the output
    ``(K, out_y, out_x, b)``; ``forward`` returns it as a transposed view of shape
    ``(b, K, out_y, out_x)``. NumPy's element-wise operations, ``zeros_like`` and
    strided slicing keep that layout, so the following ReLU and Pooling produce the
    same layout and the error arriving in ``backward`` reshapes to ``(K, out_y·out_x·b)``
    for free. An error of any other layout is still correct; it just costs one copy.

    Attributes
    ----------
    switches : tuple of str
        The attributes below that a checkpoint keeps: settings that change how the layer
        runs, never its results where a result is returned.
    compute_input_gradient : bool
        Default True. The first layer of a network has nobody to pass ∂L/∂x to:
        set False there and ``backward`` skips that (costly) part and returns None.
    output_block : (B_y, B_x)
        Output positions per im2col column (see above); ``(1, B)`` for 1-D layers. By
        default chosen by the rule above at every forward pass; once set, kept. Any block
        gives the same numbers up to rounding. A speed setting only: it is not saved with
        the network, and a loaded network follows the rule again. Setting it discards the
        last forward pass (backward then needs a new one).

    Cache: ``input_shape``, ``columns`` (for a pointwise layer its input as the columns
    matrix, a view; None otherwise, see "Tiles"), and the zero-padded input the tiles are
    built from. It and the other scratch arrays (the tile, the padded error, ...) live in
    buffers (``_buffers``) reused from call to call while the input shape stays the same
    (allocating and zero-filling them every batch costs as much as filling them).
    """

    switches = ("compute_input_gradient",)
    TILE_BYTES = 2 << 20  # size of a tile of the columns (see "Tiles"; measured in docs/performance.md)
    WHOLE_BYTES = 4 << 20  # columns up to this size are built whole, in one tile kept for backward (see "Tiles")
    COPY_CHUNK = 16  # images per copy when a batch-first input goes into the padded buffer
    BLOCK_CHANNELS_WITH_PIECES = 8  # the most channels for which blocks pay where products run in pieces

    def __init__(self, stride_shape, convolution_shape, num_kernels, dtype=np.float64, rng=None):
        super().__init__(dtype)
        self.convolution_shape = positive_ints(self.name, "convolution_shape", convolution_shape, (2, 3),
                                               allow_int=False)
        self.spatial_dimensions = len(self.convolution_shape) - 1
        self.stride_shape = stride_per_axis(self.name, stride_shape, self.spatial_dimensions)
        self.num_kernels = positive_int(self.name, "num_kernels", num_kernels)
        self.compute_input_gradient = True
        self._output_block = self._block_by_rule()
        self._block_set = False  # set by the user: then kept, else the rule's at every forward pass
        self.start_uniform(rng)
        self.input_shape = None
        self.columns = None
        self._input_rows = None  # the forward input as (c, y·x·b) rows, where it is batch-last: see backward
        self._buffers = {}  # name -> (what it was made for, array): see _buffer
        self._window_view = (None, None, None)  # (padded buffer, output block, windows view): see _windows
        self._tile_holds = None  # the block rows (top, bottom) whose columns the "tile" buffer holds

    def parameter_shapes(self):
        return (self.num_kernels,) + self.convolution_shape, (self.num_kernels,)

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

    @property
    def output_block(self):
        return self._output_block

    @output_block.setter
    def output_block(self, block):
        try:
            block = tuple(block)
        except TypeError:
            block = ()
        if len(block) != 2 or (self.spatial_dimensions == 1 and block[0] != 1):
            expected = "(B_y, B_x)" if self.spatial_dimensions == 2 else "(1, B_x)"
            raise ValueError(f"{self.name}: output_block must be {expected} for a "
                             f"{self.spatial_dimensions}-D layer, got {block!r}")
        self._output_block = tuple(positive_int(self.name, "every entry of output_block", size) for size in block)
        self._block_set = True
        # The columns of a forward pass fit only the block they were made for: a backward
        # pass now needs a new forward pass first.
        self.input_shape = self.columns = self._tile_holds = None

    def _block_by_rule(self):
        """The output block where none is set (class docstring, "Output blocks").

        2x2 blocks pay for large kernels at stride 1, and few of them: with 32 kernels or more
        the product has rows enough without blocks, and the blocks' zeros (44 % more
        multiplications for 5x5) cost more than they save. Where the product without blocks
        runs in pieces (``_in_pieces``: on one thread, AVX-512, nearly every such layer; on
        two, first layers of at most 3 channels), it is fast too, and blocks pay only with few
        channels and ∂L/∂x computed (5x5, 16 kernels, 14x14, one thread: blocks took 0.70 –
        0.90 of the time for 2 to 8 channels, 1.00 for 10, 1.12 – 1.19 for 12 and 16; 1.11 –
        1.19 for first layers of 3 channels, 0.98 for 1; with two threads they pay for nearly
        all layers whose product does not run in pieces, docs/performance.md).
        """
        if not (self._stride_2d == (1, 1) and min(self._kernel_2d) >= 5 and self.num_kernels <= 16):
            return 1, 1
        channels, patch = self.convolution_shape[0], int(np.prod(self._kernel_2d))
        if _in_pieces(self.num_kernels, channels * patch) and (not self.compute_input_gradient
                                                               or channels > self.BLOCK_CHANNELS_WITH_PIECES):
            return 1, 1
        return 2, 2

    @property
    def _patch_2d(self):
        """The input patch (P_y, P_x) under one output block: (B − 1)·s + m per axis."""
        return tuple((block - 1) * stride + size
                     for block, stride, size in zip(self.output_block, self._stride_2d, self._kernel_2d))

    def forward(self, input_tensor):
        self.check_parameters()
        input_tensor = as_floating(self.name, input_tensor, self.dtype)
        check_image_input(self.name, input_tensor.shape, self.convolution_shape[0], self.spatial_dimensions,
                          f"a {self.spatial_dimensions}-D kernel {self.convolution_shape}")
        images = input_tensor if self.spatial_dimensions == 2 else input_tensor[:, :, np.newaxis, :]
        batch = images.shape[0]
        if not self._block_set:
            # The rule reads the BLAS threads and compute_input_gradient, which may change
            # between passes; a tile built for another block is of no use then.
            block = self._block_by_rule()
            if block != self._output_block:
                self._output_block, self._tile_holds = block, None
        (out_y, out_x), (blocks_y, blocks_x) = self._output_grid(images.shape[2:])
        (block_y, block_x), kernels = self.output_block, self.num_kernels
        self.input_shape = input_tensor.shape

        spread_kernels = self._spread_kernels()
        # The output block by block, (K, blocks_y, B_y, blocks_x, B_x, b): that is (K, y, x, b)
        # in memory once the two block axes are merged with their position axes.
        blocks = np.empty((kernels, blocks_y, block_y, blocks_x, block_x, batch), dtype=self.dtype)
        if self._pointwise:
            # The columns are the input itself (class docstring), kept in both phases: a view
            # of a batch-last input costs nothing, and a testing-phase pass has no copy to save.
            self.columns = images.transpose(1, 2, 3, 0).reshape(images.shape[1], -1)
            self._place(spread_kernels, self.columns, blocks, 0, blocks_y)
        else:
            self.columns = None  # built and multiplied tile by tile, never whole (see _column_tiles)
            rows = images.transpose(1, 2, 3, 0)
            self._input_rows = rows.reshape(rows.shape[0], -1) if rows.flags.c_contiguous else None
            for top, bottom, tile in self._column_tiles(self._padded_input(images)):
                self._place(spread_kernels, tile, blocks, top, bottom)

        # Cut the blocks that overhang the output, then (K, y, x, b) in memory is returned as
        # (b, K, y, x): see the class docstring.
        output = blocks.reshape(kernels, blocks_y * block_y, blocks_x * block_x, batch)[:, :out_y, :out_x]
        output = output.transpose(3, 0, 1, 2)
        return output if self.spatial_dimensions == 2 else output[:, :, 0, :]

    def backward(self, error_tensor):
        input_shape = self._cached("input_shape")
        out_shape = tuple(-(-size // stride) for size, stride in zip(input_shape[2:], self.stride_shape))
        self._check_error_shape(error_tensor, (input_shape[0], self.num_kernels) + out_shape)
        error_tensor = np.asarray(error_tensor, dtype=self.dtype)
        errors = error_tensor if self.spatial_dimensions == 2 else error_tensor[:, :, np.newaxis, :]
        # (b, K, out_y, out_x) -> (K, out_y·out_x·b): a free reshape when the error has the
        # batch-last layout that forward produced, one copy otherwise.
        error_rows = errors.transpose(1, 2, 3, 0).reshape(self.num_kernels, -1)

        error_blocks = self._error_blocks(error_rows, errors.shape[2:])
        self.gradient_bias = row_sums(error_rows)
        if (self.compute_input_gradient and self._input_rows is not None and self._by_correlation()
                and self.num_kernels <= self.convolution_shape[0]):
            # The correlation's columns of E give ∂L/∂W too (``_input_gradient_by_correlation``),
            # so the input's columns need not be built again. (With more kernels than channels
            # those columns are the larger ones, and the products' shapes worse: 16 to 32
            # channels, 3x3, 14x14, 1.05 of the time, docs/performance.md.)
            input_gradient, self.gradient_weights = self._input_gradient_by_correlation(error_rows, self._input_rows)
        else:
            self.gradient_weights = self._fold_kernels(self._spread_gradient(error_blocks))
            input_gradient = None
            if self.compute_input_gradient:
                input_gradient = self._input_gradient(error_rows, error_blocks)
        self.update_parameters()
        return input_gradient

    # -- output blocks ----------------------------------------------------------

    def _output_grid(self, image_shape):
        """(out_y, out_x) for an image (height, width), and the (blocks_y, blocks_x) covering it."""
        out_shape = tuple(-(-size // stride) for size, stride in zip(image_shape, self._stride_2d))
        return out_shape, self._block_counts(out_shape)

    def _block_counts(self, out_shape):
        """How many output blocks cover an output of shape (out_y, out_x), per axis."""
        return tuple(-(-size // block) for size, block in zip(out_shape, self.output_block))

    def _spread_kernels(self):
        """W_B (K·B_y·B_x, c·P_y·P_x): each kernel once per position in the block (class docstring)."""
        kernels, channels = self.num_kernels, self.convolution_shape[0]
        (m, n), (stride_y, stride_x), (block_y, block_x) = self._kernel_2d, self._stride_2d, self.output_block
        spread = np.zeros((kernels, block_y, block_x, channels) + self._patch_2d, dtype=self.dtype)
        weights = self._weights.reshape(kernels, channels, m, n)
        for d_y in range(block_y):
            for d_x in range(block_x):
                spread[:, d_y, d_x, :, d_y * stride_y:d_y * stride_y + m, d_x * stride_x:d_x * stride_x + n] = weights
        return spread.reshape(kernels * block_y * block_x, -1)

    def _fold_kernels(self, spread_gradient):
        """∂L/∂W from ∂L/∂W_B: add up each kernel's parts, the adjoint of ``_spread_kernels``."""
        kernels, channels = self.num_kernels, self.convolution_shape[0]
        (m, n), (stride_y, stride_x), (block_y, block_x) = self._kernel_2d, self._stride_2d, self.output_block
        spread_gradient = spread_gradient.reshape((kernels, block_y, block_x, channels) + self._patch_2d)
        gradient = np.zeros((kernels, channels, m, n), dtype=self.dtype)
        for d_y in range(block_y):
            for d_x in range(block_x):
                gradient += spread_gradient[:, d_y, d_x, :, d_y * stride_y:d_y * stride_y + m,
                                            d_x * stride_x:d_x * stride_x + n]
        return gradient.reshape(self._weights.shape)

    def _place(self, spread_kernels, columns, blocks, top, bottom):
        """Write ``W_B @ columns`` plus the bias into the block rows ``top:bottom`` of ``blocks``.

        ``columns`` are those rows' (c·P_y·P_x, rows·blocks_x·b), ``blocks`` is the whole
        output (K, blocks_y, B_y, blocks_x, B_x, b). Without blocks the product's rows are
        the output's: it is written there directly, and the bias added in place. With
        blocks it goes to a reused buffer first, and one pass both moves each block
        position to its place and adds the bias. (A fresh array for the product would come
        as new pages from the system, and faulting them in can cost more than the product.)
        """
        kernels, _, block_y, blocks_x, block_x, batch = blocks.shape
        if (block_y, block_x) == (1, 1):
            width = blocks_x * batch
            target = blocks.reshape(kernels, -1)[:, top * width:bottom * width]
            _product(spread_kernels, columns, target)
            target += self._bias[:, np.newaxis]
            return
        products = self._flat_buffer("products", spread_kernels.shape[0] * columns.shape[1])
        products = products.reshape(spread_kernels.shape[0], columns.shape[1])
        _product(spread_kernels, columns, products)
        rows = bottom - top
        products = products.reshape(kernels, block_y, block_x, rows, blocks_x, batch).transpose(0, 3, 1, 4, 2, 5)
        np.add(products, self._bias.reshape(-1, 1, 1, 1, 1, 1), out=blocks[:, top:bottom])

    def _error_blocks(self, error_rows, out_shape):
        """E_B (K·B_y·B_x, blocks_y·blocks_x·b): the error arranged like the rows of W_B.

        E_B[(k, d_y, d_x), (u, v, β)] = E[β, k, u·B_y + d_y, v·B_x + d_x], zero where a block
        overhangs the output. With 1x1 blocks that is E itself.
        """
        if self.output_block == (1, 1):
            return error_rows
        (block_y, block_x), kernels, batch = self.output_block, self.num_kernels, self.input_shape[0]
        blocks_y, blocks_x = self._block_counts(out_shape)
        errors = error_rows.reshape(kernels, out_shape[0], out_shape[1], batch)
        # Only the positions inside the output are written; overhanging ones keep the zeros
        # the buffer was made with (the buffer is keyed on the output's shape).
        spread = self._buffer("error_blocks", (kernels, block_y, block_x, blocks_y, blocks_x, batch),
                              zero=True, key=out_shape)
        for d_y in range(block_y):
            for d_x in range(block_x):
                part = errors[:, d_y::block_y, d_x::block_x]
                spread[:, d_y, d_x, :part.shape[1], :part.shape[2]] = part
        return spread.reshape(kernels * block_y * block_x, -1)

    # -- the columns --------------------------------------------------------------

    def _column_tiles(self, padded, bottom_up=False):
        """The im2col matrix of the padded input, tile by tile: ``(top, bottom, tile)`` for the
        output block rows ``top:bottom``, ``tile`` being their columns ``(c·P_y·P_x, rows·blocks_x·b)``.

        A large matrix is never built whole. A tile of about ``TILE_BYTES`` stays in the CPU
        cache while the product reads it, where the whole matrix (29 MB for 16 channels of
        28x28 images, 3x3 kernels, batch 64) would go out to main memory and back, once
        when built, once for the forward product and once for ∂L/∂W: the products on cached
        tiles run about twice as fast (docs/performance.md). The backward pass builds the
        tiles again from the padded input; it runs ``bottom_up``, so that the tile the
        forward pass built last (all of them, for a small layer) is used again as it is.
        """
        return self._tiles(self._windows(padded), "tile", bottom_up, kept=True)

    def _tiles(self, windows, buffer_name, bottom_up=False, kept=False):
        """``(top, bottom, tile)``: copies of ``windows`` (c, P_y, P_x, rows, columns, b), a few
        rows at a time, as ``(c·P_y·P_x, rows·columns·b)`` matrices in the buffer ``buffer_name``.
        ``kept``: the buffer is the "tile" one, and a tile it still holds is not copied again."""
        channels, patch_y, patch_x, blocks_y, blocks_x, batch = windows.shape
        for top, bottom in self._tile_ranges(channels * patch_y * patch_x, blocks_x * batch, blocks_y, bottom_up):
            # A prefix of a flat buffer, so that a short last tile is contiguous too.
            tile = self._flat_buffer(buffer_name, channels * patch_y * patch_x * (bottom - top) * blocks_x * batch)
            tile = tile.reshape(channels, patch_y, patch_x, bottom - top, blocks_x, batch)
            if not kept or self._tile_holds != (top, bottom):
                np.copyto(tile, windows[:, :, :, top:bottom])
                if kept:
                    self._tile_holds = (top, bottom)
            yield top, bottom, tile.reshape(channels * patch_y * patch_x, -1)

    def _tile_ranges(self, height, row_width, total_rows, bottom_up=False):
        """The block rows (top, bottom) of each tile of a (height, total_rows·row_width) matrix:
        all rows in one tile up to WHOLE_BYTES, else about TILE_BYTES a tile, at least one row."""
        row_bytes = height * row_width * self.dtype.itemsize
        if row_bytes * total_rows <= self.WHOLE_BYTES:
            rows = total_rows
        else:
            rows = max(1, min(total_rows, self.TILE_BYTES // row_bytes))
        tops = range(0, total_rows, rows)
        for top in reversed(tops) if bottom_up else tops:
            yield top, min(top + rows, total_rows)

    def _spread_gradient(self, error_blocks):
        """∂L/∂W_B = E_B columnsᵀ, summed over the tiles of the columns (as ``(columns E_Bᵀ)ᵀ``,
        which BLAS runs faster: the long axis of the sum is the last of both operands)."""
        if self._pointwise:
            return _product_with_transposed(self.columns, error_blocks).T
        transposed = None
        for top, bottom, tile in self._column_tiles(self._padded, bottom_up=True):
            width = tile.shape[1] // (bottom - top)
            part = _product_with_transposed(tile, error_blocks[:, top * width:bottom * width])
            transposed = part if transposed is None else np.add(transposed, part, out=transposed)
        return transposed.T

    # -- the input gradient -------------------------------------------------------

    def _input_gradient(self, error_rows, error_blocks):
        """∂L/∂x with the weights of the forward pass (the optimizer has not run yet).

        Four routes to the same numbers: one product for pointwise layers (1x1 kernels at
        stride 1); for layers without output blocks and with no more kernels than channels,
        a correlation of E with the flipped kernels (stride 1) or one such correlation per
        phase of the input (strides), neither with any adds; col2im otherwise. The
        correlations copy the error under every kernel tap, K values per pixel where col2im
        adds c, so with more kernels than channels col2im is as fast or faster (one thread:
        16 to 32 channels, 3x3, stride 2, 32x32, batch 32: 0.98 ms against 1.28; stride 1,
        14x14, batch 64: 1.19 against 1.21, and with two threads 10 % faster for the whole
        layer; 16 to 16 at 28x28, stride 2: 1.06 against 0.73, stride 1: 3.84 against 2.34).
        Except at stride 1 where the correlation's product runs in pieces (``_piece_width``:
        at most 32 channels, OpenBLAS's AVX-512 kernels, one thread): 16 to 32 channels,
        14x14, batch 64, 0.76 ms against 1.11 for col2im; 6 to 16, 0.28 against 0.32 (with
        two threads, no pieces: 0.95 against 0.88 and 0.46 against 0.28); whole layers with
        the correlation in pieces against col2im, 3x3, batch 64: 16 to 64 channels at 14x14
        0.83 of the time, 32 to 64 at 7x7 (batch 128) 0.95. Where output blocks pay in the forward
        pass, col2im of their blocked columns beat the correlation too (16 to 16 channels,
        5x5, 28x28, batch 64: 19.5 ms against 22.2 for the whole layer).
        """
        if self._pointwise:
            return self._input_gradient_of_pointwise(error_rows)
        if self._by_correlation():
            return self._input_gradient_by_correlation(error_rows)[0]
        if self.output_block == (1, 1) and self.num_kernels <= self.convolution_shape[0]:
            return self._input_gradient_by_phases(error_rows)
        return self._input_gradient_by_col2im(error_blocks)

    def _by_correlation(self):
        """Whether ∂L/∂x goes by the correlation of E with the flipped kernels (``_input_gradient``)."""
        if self._pointwise or self.output_block != (1, 1) or self._stride_2d != (1, 1):
            return False
        channels, kernels = self.convolution_shape[0], self.num_kernels
        return kernels <= channels or _in_pieces(channels, kernels * int(np.prod(self._kernel_2d)))

    def _input_gradient_of_pointwise(self, error_rows):
        """∂L/∂x = Wᵀ E for 1x1 kernels at stride 1: the column-space gradient is the image's."""
        batch, channels = self.input_shape[:2]
        height, width = self._image_shape
        input_gradient = _product(self._weights.reshape(self.num_kernels, channels).T, error_rows,
                                  np.empty((channels, error_rows.shape[1]), dtype=self.dtype))
        input_gradient = input_gradient.reshape(channels, height, width, batch).transpose(3, 0, 1, 2)
        return input_gradient if self.spatial_dimensions == 2 else input_gradient[:, :, 0, :]

    def _input_gradient_by_col2im(self, error_blocks):
        """W_Bᵀ E_B in column space, then col2im: add each patch pixel's row back onto the padded image.

        Row (γ, p, q) of the column-space gradient belongs to pixel (p, q) of every block's
        patch; block (u, v) starts at padded pixel (u·step_y, v·step_x) with step = B·s. So
        padded pixel y lies in "phase plane" y mod step_y, at row y // step_y, and row
        (γ, p, q) adds onto plane (p mod step_y, q mod step_x) shifted by (p // step_y,
        q // step_x) rows and columns. Kept apart like this, every add is a shifted
        rectangle (long contiguous runs; a stride-2 slice of the image would move 64
        floats at a time), the pixels that share a shift go in one add, and the planes
        are interleaved into the (cropped, compact) image once at the end.
        Without blocks or strides there is a single plane and this is the textbook col2im.
        """
        batch, channels = self.input_shape[:2]
        height, width = self._image_shape
        (m, n), (patch_y, patch_x) = self._kernel_2d, self._patch_2d
        step_y, step_x = (block * stride for block, stride in zip(self.output_block, self._stride_2d))
        _, (blocks_y, blocks_x) = self._output_grid((height, width))
        plane_rows, plane_columns = (-(-size // step) for size, step in zip(self._padded.shape[1:3], (step_y, step_x)))
        # A reused buffer, zeroed here: a fresh np.zeros of this size would come as new pages
        # from the system every call, and faulting them in costs more than the zeroing.
        planes = self._buffer("planes", (channels, step_y, step_x, plane_rows, plane_columns, batch))
        planes.fill(0)
        # The column-space gradient W_Bᵀ E_B, a few block rows at a time (as the columns in
        # _column_tiles: a tile stays in the cache while it is added onto the planes).
        patch_size = channels * patch_y * patch_x
        transposed_kernels = self._spread_kernels().T
        for first, last in self._tile_ranges(patch_size, blocks_x * batch, blocks_y):
            columns = slice(first * blocks_x * batch, last * blocks_x * batch)
            column_gradient = self._flat_buffer("column_gradient", patch_size * (last - first) * blocks_x * batch)
            column_gradient = column_gradient.reshape(patch_size, -1)
            _product(transposed_kernels, error_blocks[:, columns], column_gradient)
            column_gradient = column_gradient.reshape(channels, patch_y, patch_x, last - first, blocks_x, batch)
            # Patch pixels p = shift·step + phase with the same shift go to the same rectangle of
            # every plane: one add per shift moves all their phases at once.
            for top in range(0, patch_y, step_y):
                for left in range(0, patch_x, step_x):
                    shift_y, shift_x = top // step_y, left // step_x
                    pixels = column_gradient[:, top:top + step_y, left:left + step_x]
                    planes[:, :pixels.shape[1], :pixels.shape[2], shift_y + first:shift_y + last,
                           shift_x:shift_x + blocks_x] += pixels
        # Interleave the planes into the image and crop the padding in one copy per plane, into
        # a compact (c, y, x, b) array: a cropped view of the padded image would slow down
        # every element-wise operation on it downstream (NumPy cannot merge its axes).
        (top, _), (left, _) = same_padding(m), same_padding(n)
        input_gradient = np.empty((channels, height, width, batch), dtype=self.dtype)
        for phase_y in range(step_y):
            first_y = (phase_y - top) % step_y  # first image row whose padded row has this phase
            for phase_x in range(step_x):
                first_x = (phase_x - left) % step_x
                target = input_gradient[:, first_y::step_y, first_x::step_x]
                row, column = (first_y + top) // step_y, (first_x + left) // step_x
                target[...] = planes[:, phase_y, phase_x, row:row + target.shape[1], column:column + target.shape[2]]
        input_gradient = input_gradient.transpose(3, 0, 1, 2)
        return input_gradient if self.spatial_dimensions == 2 else input_gradient[:, :, 0, :]

    def _input_gradient_by_correlation(self, error_rows, input_rows=None):
        """(∂L/∂x, ∂L/∂W or None) for stride 1 without blocks: E correlated with the flipped
        kernels, like a forward pass; ∂L/∂W from the same columns where ``input_rows`` (the
        input as ``(c, y·x·b)`` rows) are given.

        With stride 1, E lives on z's grid, and the backward formula, written per input position, is

            ∂L/∂x[β, γ, y, x] = Σ_{k, p, q} W[k, γ, m−1−p, n−1−q] · Ê[β, k, y + p, x + q]

        where Ê is E zero-padded by m//2 rows above and (m−1)//2 below, n//2 columns left and
        (n−1)//2 right (the forward pass's padding the other way round). That is this layer's
        own forward pass with the kernels flipped and their two channel axes swapped,
        ``W_flipped[γ, k, p, q] = W[k, γ, m−1−p, n−1−q]``, applied to E: im2col of Ê tile by
        tile and one product per tile, written straight into ∂L/∂x. No adds at all, where col2im
        adds m·n column blocks back onto the image, each the size of ∂L/∂x.

        The same columns give ∂L/∂W: row (k, p', q') of the columns of Ê holds
        E[β, k, y + p' − m//2, x + q' − n//2] under pixel (y, x), and with the forward pass's
        padding (m − 1)//2 above, ∂L/∂W[k, γ, p, q] = Σ_{β, y, x} x[β, γ, y, x] ·
        E[β, k, y + (m − 1)//2 − p, x + (n − 1)//2 − q], which is row (k, m − 1 − p, n − 1 − q)
        times the input's rows: one product per tile, ``columns · inputᵀ``, summed over the
        tiles. That saves building the input's columns a second time for ∂L/∂W (16 to 16
        channels, 3x3, 28x28, batch 64: 29 MB of copies a backward pass).
        """
        batch, channels, *_ = self.input_shape
        m, n = self._kernel_2d
        height, width = self._image_shape
        kernels = self.num_kernels
        # Only the interior is ever written: the border keeps the zeros the buffer was made with.
        padded = self._buffer("padded_error", (kernels, height + m - 1, width + n - 1, batch), zero=True)
        padded[:, m // 2:m // 2 + height, n // 2:n // 2 + width] = error_rows.reshape(kernels, height, width, batch)
        windows = sliding_window_view(padded, (m, n), axis=(1, 2)).transpose(0, 4, 5, 1, 2, 3)
        flipped = self._weights.reshape(kernels, channels, m, n)[:, :, ::-1, ::-1]
        flipped = flipped.transpose(1, 0, 2, 3).reshape(channels, kernels * m * n)
        input_gradient = np.empty((channels, height, width, batch), dtype=self.dtype)
        rows_of_gradient = input_gradient.reshape(channels, -1)
        summed = None  # Σ over the tiles of columns · inputᵀ, (K·m·n, c)
        for top, bottom, tile in self._tiles(windows, "error_tile"):
            tile_columns = slice(top * width * batch, bottom * width * batch)
            _product(flipped, tile, rows_of_gradient[:, tile_columns])
            if input_rows is not None:
                part = _product_with_transposed(tile, input_rows[:, tile_columns])
                summed = part if summed is None else np.add(summed, part, out=summed)
        weight_gradient = None
        if input_rows is not None:
            weight_gradient = summed.reshape(kernels, m, n, channels)[:, ::-1, ::-1].transpose(0, 3, 1, 2)
            weight_gradient = weight_gradient.reshape(self._weights.shape)
        input_gradient = input_gradient.transpose(3, 0, 1, 2)  # (c, y, x, b) in memory, as forward's output
        return (input_gradient if self.spatial_dimensions == 2 else input_gradient[:, :, 0, :]), weight_gradient

    def _input_gradient_by_phases(self, error_rows):
        """∂L/∂x for strided layers without blocks: one small correlation of E per phase of the input.

        Per axis, with stride s and a = (m − 1)//2 zeros before the input, input pixel
        i = s·j + φ (phase φ = i mod s) gets contributions only from the kernel positions
        p ≡ φ + a (mod s), each from the error at j + d, d = (φ + a − p)/s:

            ∂L/∂x[β, γ, s·j + φ] = Σ_k Σ_{p ≡ φ + a} W[k, γ, p] · E[β, k, j + (φ + a − p)/s]

        (in 2-D over both axes, phases (φ_y, φ_x)). So each phase is a stride-1 correlation
        of E with the "taps" of the kernel that reach it, about (m/s)·(n/s) of them: the
        error under every tap is copied into a columns matrix, one product per phase gives
        that phase's pixels, and they are written straight into ∂L/∂x. The phases' taps
        together are the kernel's m·n, so the products multiply no zeros, and where col2im
        adds m·n column blocks back onto the image (reading and writing it each time),
        nothing is added here.
        """
        batch, channels = self.input_shape[:2]
        kernels = self.num_kernels
        height, width = self._image_shape
        (m, n), (stride_y, stride_x) = self._kernel_2d, self._stride_2d
        out_y, out_x = (-(-size // stride) for size, stride in zip((height, width), (stride_y, stride_x)))
        taps_y, taps_x = _phase_taps(m, stride_y), _phase_taps(n, stride_x)
        # E zero-padded so that j + d stays inside for every pixel of every phase.
        before_y, after_y = _padding_for_taps(taps_y, height, stride_y, out_y)
        before_x, after_x = _padding_for_taps(taps_x, width, stride_x, out_x)
        padded = self._buffer("padded_error", (kernels, before_y + out_y + after_y, before_x + out_x + after_x, batch),
                              zero=True, key=(out_y, out_x))
        padded[:, before_y:before_y + out_y, before_x:before_x + out_x] = error_rows.reshape(kernels, out_y, out_x, batch)
        weights = self._weights.reshape(kernels, channels, m, n)
        input_gradient = np.empty((channels, height, width, batch), dtype=self.dtype)
        for phase_y, rows_taps in enumerate(taps_y):
            rows = len(range(phase_y, height, stride_y))
            for phase_x, columns_taps in enumerate(taps_x):
                target = input_gradient[:, phase_y::stride_y, phase_x::stride_x]
                if not rows_taps or not columns_taps:  # a kernel smaller than the stride misses this phase
                    target[...] = 0
                    continue
                columns = len(range(phase_x, width, stride_x))
                taps = [(p, d_y, q, d_x) for p, d_y in rows_taps for q, d_x in columns_taps]
                # The error under each tap, (K, taps, rows, columns, b), and the taps' kernels (c, K·taps).
                under_taps = self._flat_buffer("phase_columns", kernels * len(taps) * rows * columns * batch)
                under_taps = under_taps.reshape(kernels, len(taps), rows, columns, batch)
                for index, (_, d_y, _, d_x) in enumerate(taps):
                    under_taps[:, index] = padded[:, before_y + d_y:before_y + d_y + rows,
                                                  before_x + d_x:before_x + d_x + columns]
                tap_kernels = np.stack([weights[:, :, p, q] for p, _, q, _ in taps], axis=1)  # (K, taps, c)
                product = self._flat_buffer("phase_product", channels * rows * columns * batch)
                _product(tap_kernels.reshape(-1, channels).T, under_taps.reshape(kernels * len(taps), -1),
                         product.reshape(channels, -1))
                target[...] = product.reshape(channels, rows, columns, batch)
        input_gradient = input_gradient.transpose(3, 0, 1, 2)  # (c, y, x, b) in memory, as forward's output
        return input_gradient if self.spatial_dimensions == 2 else input_gradient[:, :, 0, :]

    # -- bookkeeping ------------------------------------------------------------

    @property
    def _image_shape(self):
        """(height, width) of the last input, as a 2-D image."""
        return (1,) * (2 - self.spatial_dimensions) + tuple(self.input_shape[2:])

    def replica(self):
        """A shallow copy (see ``BaseLayer.replica``) with scratch buffers of its own."""
        twin = super().replica()
        twin._buffers = {}
        twin._window_view = (None, None, None)
        twin._tile_holds = None
        twin.columns = twin._input_rows = None
        return twin

    @property
    def _pointwise(self):
        """1x1 kernels at stride 1 without blocks: the input is its own columns matrix."""
        return self._kernel_2d == (1, 1) and self._stride_2d == (1, 1) and self.output_block == (1, 1)

    @property
    def _padded(self):
        return self._buffers["padded"][1]

    def _padded_input(self, images):
        """Copy ``images`` (b, c, y, x) into the interior of the reused zero-padded buffer (c, ·, ·, b).

        "Same" padding needs m − 1 rows of zeros, (m − 1)//2 above the image; output blocks
        that overhang the output may need a few more below (and the same for columns).
        Only the interior is ever written, so the zero border survives from call to call
        and ``np.pad`` (a fresh allocation every batch) is not needed.
        """
        batch, channels, height, width = images.shape
        (m, n), strides, blocks = self._kernel_2d, self._stride_2d, self.output_block
        _, block_counts = self._output_grid((height, width))
        # Rows the last block's patch reaches: (blocks·B − 1)·s + kernel size.
        reach = [(count * block - 1) * stride + size
                 for count, block, stride, size in zip(block_counts, blocks, strides, (m, n))]
        shape = (channels, max(height + m - 1, reach[0]), max(width + n - 1, reach[1]), batch)
        # Keyed on the image size: two sizes can share a buffer shape but not its interior.
        padded = self._buffer("padded", shape, zero=True, key=(height, width))
        self._tile_holds = None  # the tile was built from the last input
        (top, _), (left, _) = same_padding(m), same_padding(n)
        interior = padded[:, top:top + height, left:left + width, :]
        if images.strides[0] == images.itemsize or batch <= self.COPY_CHUNK:  # batch-last already
            interior[...] = images.transpose(1, 2, 3, 0)
        else:
            # Batch-first images (the data, in a first layer) are read one value per image here:
            # a chunk of images at a time keeps the rows being read in the cache, where the
            # whole batch at once thrashes it (worst for power-of-two image sizes).
            for start in range(0, batch, self.COPY_CHUNK):
                interior[..., start:start + self.COPY_CHUNK] = images[start:start + self.COPY_CHUNK].transpose(1, 2, 3, 0)
        return padded

    def _windows(self, padded):
        """The patch under every output block, as a view (c, P_y, P_x, blocks_y, blocks_x, b).

        One copy of this view is the columns matrix. The view is kept with the padded buffer
        it looks into (building it costs as much Python time as a small copy).
        """
        cached_padded, cached_block, windows = self._window_view
        # (A deep copy of the layer turns the view into an array of its own: rebuild it then.)
        if cached_padded is not padded or cached_block != self.output_block \
                or not np.may_share_memory(windows, padded):
            (block_y, block_x), (stride_y, stride_x) = self.output_block, self._stride_2d
            _, (blocks_y, blocks_x) = self._output_grid(self._image_shape)
            # sliding_window_view gives (c, y, x, b, P_y, P_x) for every position; keep one per block.
            windows = sliding_window_view(padded, self._patch_2d, axis=(1, 2))
            windows = windows[:, :block_y * stride_y * blocks_y:block_y * stride_y,
                              :block_x * stride_x * blocks_x:block_x * stride_x]
            windows = windows.transpose(0, 4, 5, 1, 2, 3)
            self._window_view = padded, self.output_block, windows
        return windows

    def _flat_buffer(self, name, size):
        """The first ``size`` values of a reused 1-D buffer ``name``, made larger when it is too small."""
        kept = self._buffers.get(name)
        if kept is None or kept[1].dtype != self.dtype or kept[1].size < size:
            kept = self._buffers[name] = (None, np.empty(size, dtype=self.dtype))
        return kept[1][:size]

    def _buffer(self, name, shape, zero=False, key=None):
        """The array kept as ``name`` if it was made for this shape, dtype and ``key``; else a new one.

        A buffer made with ``zero=True`` is only ever written where the data go, the rest
        keeps its zeros; ``key`` (the data's own size) keeps two uses apart that share a
        buffer shape but would write different regions of it.
        """
        made_for = (shape, self.dtype, key)
        kept = self._buffers.get(name)
        if kept is None or kept[0] != made_for:
            array = np.zeros(shape, dtype=self.dtype) if zero else np.empty(shape, dtype=self.dtype)
            kept = self._buffers[name] = (made_for, array)
        return kept[1]


# Products in pieces: where they pay depends on NumPy's BLAS (measured with OpenBLAS 0.3.31 on the
# development VM, docs/performance.md). Its AVX-512 kernels run a product with few rows and many
# columns, and a few short rows times a long sum, far below their speed elsewhere, and have a
# kernel of their own for small products; its AVX2 (Haswell) kernels do not, and there the
# pieces lose.
# With one BLAS thread (``_piece_width``):
PIECE_ROWS = 32  # a product with at most this many rows ...
PIECE_INNER = 32  # ... or an inner dimension of at most this runs in pieces ...
SMALL_PRODUCT = 1_000_000  # ... of at most this many rows x columns x inner (OpenBLAS's small products), ...
PIECE_WIDTHS = (128, 64, 32)  # ... as many columns wide as the widest of these that stays that small.
# With more BLAS threads, only a product of at most this many rows and this inner dimension (a
# first layer's) ...
SHORT_PIECE_ROWS, SHORT_PIECE_INNER = 16, 75
PIECE_COLUMNS = 128  # ... runs in pieces, this wide.
SUM_PIECE_SIZES = (100, 1200)  # a (rows x columns) result of a long sum this small ...
SUM_PIECE_LENGTH = 512  # ... adds up pieces of the sum this long
AVX512_KERNELS = ("SkylakeX", "Cooperlake", "SapphireRapids")  # OpenBLAS's names for its AVX-512 kernels


def _pieces_pay():
    """(products in pieces pay, sums in pieces pay) with NumPy's BLAS as it runs now: both need
    OpenBLAS's AVX-512 kernels, and products in pieces one BLAS thread (with two, the whole
    product, shared by the threads, took 0.53 – 0.80 of the pieces' time; except the very
    short sums of first layers, ``_piece_width``)."""
    library = numpy_blas()
    if library is None or library.architecture not in AVX512_KERNELS:
        return False, False
    return library.get_num_threads() == 1, True


def _piece_width(rows, inner):
    """How many columns wide ``_product`` cuts the pieces of a product of ``rows`` rows and this
    inner dimension; None where it runs the product whole.

    With more than one BLAS thread (AVX-512 kernels), only products of at most
    SHORT_PIECE_ROWS rows with an inner dimension of at most SHORT_PIECE_INNER: the forward
    products of first layers, whose whole product gains little from a second thread
    (first layers, forward and ∂L/∂W, two threads: 1 → 6 channels 5x5 without blocks and in
    pieces 0.53 ms against 0.76 with blocks, 3 → 16 channels 5x5 3.55 against 5.02, 1 → 16
    3x3 0.41 against 0.52, 3 → 16 3x3 1.42 against 1.63; 3 → 32 3x3 6.08 against 5.77; deeper
    layers all in pieces 1.02 – 1.20 of their time, docs/performance.md).
    """
    products, sums = _pieces_pay()
    if not products:
        return PIECE_COLUMNS if sums and rows <= SHORT_PIECE_ROWS and inner <= SHORT_PIECE_INNER else None
    if rows <= PIECE_ROWS or inner <= PIECE_INNER:
        return next((width for width in PIECE_WIDTHS if rows * width * inner <= SMALL_PRODUCT), None)
    return None


def _in_pieces(rows, inner):
    """Whether ``_product`` runs a product of ``rows`` rows and this inner dimension in pieces
    (given columns enough for one piece)."""
    return _piece_width(rows, inner) is not None


def _product(left, right, out):
    """``out[...] = left @ right``; where the pieces pay (``_pieces_pay``) and the shape is
    one OpenBLAS runs slowly (``_piece_width``), as a stack of narrow products (and one for
    the columns left over).

    The same numbers, computed faster. OpenBLAS's AVX-512 kernels multiply a product of at
    most 10⁶ = SMALL_PRODUCT rows x columns x inner with a kernel of their own for small
    products, which skips the copying ("packing") of the operands that its kernel for large
    products starts with. A convolution's product has few rows (its kernels) and many
    columns, so packing its columns is shared by only those few rows, and the product runs
    at 130 – 175 GFLOP/s where pieces small enough for the small kernel reach 190 – 240: 16
    and 32 rows, inner dimensions of 75 to 800, in pieces of 32 to 128 columns (the widest
    under the limit). Pieces above it are no faster than the whole product, or slower (32
    rows, 288 inner, pieces of 128: 152 against 175), and with 64 rows the whole product is
    as fast (210). A short inner dimension (col2im's product: 144 to 576 rows of the
    kernels' transpose times 16 to 32 kernels) gains the same way whatever its rows (150
    rows, inner 16: 219 against 161; 576 rows, inner 32, pieces of 32: 245 against 210, of
    128, over the limit: 200) (``benchmarks/bench_products.py``; docs/performance.md).
    """
    rows, width = out.shape
    piece = _piece_width(rows, left.shape[1])
    # Cutting the last axis into pieces is a view only where that axis is contiguous.
    if piece is None or width < piece or out.strides[1] != out.itemsize:
        return np.matmul(left, right, out=out)
    whole = width - width % piece
    pieces = whole // piece
    np.matmul(left, right[:, :whole].reshape(-1, pieces, piece).transpose(1, 0, 2),
              out=out[:, :whole].reshape(rows, pieces, piece).transpose(1, 0, 2))
    if whole < width:
        np.matmul(left, right[:, whole:], out=out[:, whole:])
    return out


def _product_with_transposed(left, right):
    """``left @ right.T``, a sum over the long rows of both; for a small result (between
    SUM_PIECE_SIZES values), where the pieces pay (``_pieces_pay``), the sum of products
    over pieces of SUM_PIECE_LENGTH columns.

    OpenBLAS's AVX-512 kernels multiply a few short rows by a long inner dimension (∂L/∂W of
    a first layer: 9 to 75 rows times 16 kernels over 50 000 positions) 1.2 to 4.3 times
    faster in pieces, with one thread or two; from 1 600 values of result on, the pieces
    gain nothing.
    """
    size, length = left.shape[0] * right.shape[0], left.shape[1]
    whole = length - length % SUM_PIECE_LENGTH
    if not SUM_PIECE_SIZES[0] <= size <= SUM_PIECE_SIZES[1] or whole < 2 * SUM_PIECE_LENGTH or not _pieces_pay()[1]:
        return left @ right.T
    pieces = whole // SUM_PIECE_LENGTH
    product = np.matmul(left[:, :whole].reshape(-1, pieces, SUM_PIECE_LENGTH).transpose(1, 0, 2),
                        right[:, :whole].reshape(-1, pieces, SUM_PIECE_LENGTH).transpose(1, 2, 0)).sum(axis=0)
    if whole < length:
        product += left[:, whole:] @ right[:, whole:].T
    return product


def _phase_taps(size, stride):
    """Per input phase φ (0 ≤ φ < stride) on one axis: the kernel positions p that reach its
    pixels, each with its error offset d = (φ + a − p) / stride (see _input_gradient_by_phases)."""
    before = same_padding(size)[0]
    return [[(p, (phase + before - p) // stride) for p in range(size) if (phase + before - p) % stride == 0]
            for phase in range(stride)]


def _padding_for_taps(taps, size, stride, out_size):
    """Zeros (before, after) the error needs on one axis so that j + d stays inside for every
    pixel j of every phase and every offset d of its taps."""
    reach = [(d, len(range(phase, size, stride)) - 1 + d) for phase, phase_taps in enumerate(taps) for _, d in phase_taps]
    if not reach:
        return 0, 0
    return max(0, -min(low for low, _ in reach)), max(0, max(high for _, high in reach) - (out_size - 1))
