"""Conv: "same"-padded, strided cross-correlation of 1-D signals and 2-D images."""
import numpy as np

from layers.base import (TrainableLayer, as_floating, check_image_input, positive_int, positive_ints, same_padding,
                         stride_per_axis)


class Conv(TrainableLayer):
    """A bank of ``num_kernels`` kernels slid over the input ("same" padding, then strides).

    For a 2-D input x of shape ``(b, c, y, x)``, kernels W of shape ``(K, c, m, n)``
    and bias b of shape ``(K,)``, the layer computes the cross-correlation (as every
    framework does: the kernel is not flipped)

        z[β, k, i, j] = b[k] + Σ_{γ, p, q} W[k, γ, p, q] · x̃[β, γ, i + p, j + q]
        y[β, k, u, v] = z[β, k, s_y·u, s_x·v]

    where x̃ is x zero-padded so that z has the input's spatial shape ("same"), and
    ``stride_shape = (s_y, s_x)`` keeps every s-th position of z. The output has shape
    ``(b, K, ceil(y / s_y), ceil(x / s_x))``. 1-D is the same with one spatial axis:
    input ``(b, c, x)``, kernels ``(K, c, m)``, output ``(b, K, ceil(x / s))``; the
    layer runs it as images one pixel high.

    Padding (PyTorch's ``padding="same"``): an axis with kernel size m gets
    ``(m − 1) // 2`` zeros before and ``m // 2`` after, so for an even m the extra
    zero goes *after* the data.

    Backward, for the error E = ∂L/∂y, summing over the output positions (u, v) and
    writing i = s_y·u, j = s_x·v for the position in z:

        ∂L/∂W[k, γ, p, q] = Σ_{β, u, v} E[β, k, u, v] · x̃[β, γ, i + p, j + q]
        ∂L/∂b[k]          = Σ_{β, u, v} E[β, k, u, v]
        ∂L/∂x̃[β, γ, i + p, j + q] += Σ_k W[k, γ, p, q] · E[β, k, u, v]   (then cut the padding off)

    How (im2col): for every kernel offset (p, q), the strided slice of x̃ under that
    offset holds the pixel each output position sees there. Stacked, these slices form
    the "columns" matrix of shape ``(c·m·n, b·out_y·out_x)``: one column per output
    position, holding the patch under it. Then

        forward:  y = W.reshape(K, c·m·n) @ columns + b
        backward: ∂L/∂W = E @ columnsᵀ,   ∂L/∂x̃ = Wᵀ @ E added back offset by offset (col2im)

    with E arranged as ``(K, b·out_y·out_x)``. ``layers.fast.Conv`` computes the same
    numbers with more bookkeeping, for speed.

    Cache: ``input_shape``, ``columns``.
    """

    def __init__(self, stride_shape, convolution_shape, num_kernels, dtype=np.float64, rng=None):
        super().__init__(dtype)
        self.convolution_shape = positive_ints(self.name, "convolution_shape", convolution_shape, (2, 3),
                                               allow_int=False)
        self.spatial_dimensions = len(self.convolution_shape) - 1
        self.stride_shape = stride_per_axis(self.name, stride_shape, self.spatial_dimensions)
        self.num_kernels = positive_int(self.name, "num_kernels", num_kernels)
        self.start_uniform(rng)
        self.input_shape = None
        self.columns = None

    def parameter_shapes(self):
        return (self.num_kernels,) + self.convolution_shape, (self.num_kernels,)

    def _fans(self):
        channels, *kernel = self.convolution_shape
        area = int(np.prod(kernel))
        return channels * area, self.num_kernels * area

    def forward(self, input_tensor):
        """Correlate every kernel with the "same"-padded input, then keep every s-th position.

        Parameters
        ----------
        input_tensor : numpy.ndarray of shape (b, c, y, x) (2-D) or (b, c, x) (1-D)
            Already converted to the layer's ``dtype``; c is ``convolution_shape[0]``. Its
            shape is cached as ``self.input_shape`` before your code runs.

        Returns
        -------
        numpy.ndarray of shape (b, K, ceil(y / s_y), ceil(x / s_x)) or (b, K, ceil(x / s)), the layer's dtype
            The output y, K = ``num_kernels``. Cache what ``backward`` needs: im2col (the
            class docstring) keeps ``self.columns``, of shape ``(c·m·n, b·out_y·out_x)``.
        """
        self.check_parameters()
        input_tensor = as_floating(self.name, input_tensor, self.dtype)
        check_image_input(self.name, input_tensor.shape, self.convolution_shape[0], self.spatial_dimensions,
                          f"a {self.spatial_dimensions}-D kernel {self.convolution_shape}")
        self.input_shape = input_tensor.shape
        # BEGIN SOLUTION
        images = self._as_images(input_tensor)
        batch, channels, height, width = images.shape
        (m, n), (stride_y, stride_x) = self._kernel_2d(), self._stride_2d()
        out_y, out_x = -(-height // stride_y), -(-width // stride_x)
        (top, bottom), (left, right) = same_padding(m), same_padding(n)
        padded = np.pad(images, ((0, 0), (0, 0), (top, bottom), (left, right)))
        # columns[γ, p, q, β, u, v] = x̃[β, γ, s_y·u + p, s_x·v + q]
        columns = np.empty((channels, m, n, batch, out_y, out_x), dtype=self.dtype)
        for p in range(m):
            for q in range(n):
                under_offset = padded[:, :, p:p + stride_y * out_y:stride_y, q:q + stride_x * out_x:stride_x]
                columns[:, p, q] = under_offset.transpose(1, 0, 2, 3)
        self.columns = columns.reshape(channels * m * n, batch * out_y * out_x)
        kernels = self.weights.reshape(self.num_kernels, -1)
        output = kernels @ self.columns + self.bias[:, np.newaxis]          # (K, b·out_y·out_x)
        output = output.reshape(self.num_kernels, batch, out_y, out_x).transpose(1, 0, 2, 3)
        return output if self.spatial_dimensions == 2 else output[:, :, 0, :]
        # END SOLUTION

    def backward(self, error_tensor):
        """Gradients of the kernels and the bias, then ∂L/∂x; the optimizer steps last.

        Set ``self.gradient_weights``, shape ``(K, c, m, n)`` or ``(K, c, m)`` (the shape
        of ``weights``), and ``self.gradient_bias``, shape ``(K,)``, both in the layer's
        dtype; the tests read them. Write ∂L/∂x into ``input_gradient``: the stub keeps the
        call ``self.update_parameters()`` after your code (it lets the optimizer, if one is
        set, update the kernels and the bias), so ∂L/∂x is computed with the kernels of the
        forward pass. Keep that call.

        Parameters
        ----------
        error_tensor : numpy.ndarray of the output's shape
            E = ∂L/∂y, ``(b, K, out_y, out_x)`` or ``(b, K, out_x)``, already converted
            to the layer's dtype. Do not modify it in place.

        Returns
        -------
        numpy.ndarray of the input's shape, the layer's dtype
            ∂L/∂x: the padded gradient ∂L/∂x̃ of the class docstring with the padding cut off.
        """
        input_shape = self._cached("input_shape")
        out_shape = tuple(-(-size // stride) for size, stride in zip(input_shape[2:], self.stride_shape))
        self._check_error_shape(error_tensor, (input_shape[0], self.num_kernels) + out_shape)
        error_tensor = np.asarray(error_tensor, dtype=self.dtype)
        # BEGIN SOLUTION
        errors = self._as_images(error_tensor)
        batch, _, out_y, out_x = errors.shape
        channels, (height, width) = input_shape[1], (1,) * (2 - self.spatial_dimensions) + input_shape[2:]
        (m, n), (stride_y, stride_x) = self._kernel_2d(), self._stride_2d()
        error_rows = errors.transpose(1, 0, 2, 3).reshape(self.num_kernels, -1)  # (K, b·out_y·out_x)
        kernels = self.weights.reshape(self.num_kernels, -1)
        self.gradient_weights = (error_rows @ self.columns.T).reshape(self.weights.shape)
        self.gradient_bias = error_rows.sum(axis=1)
        column_gradient = (kernels.T @ error_rows).reshape(channels, m, n, batch, out_y, out_x)
        (top, _), (left, _) = same_padding(m), same_padding(n)
        padded_gradient = np.zeros((batch, channels, height + m - 1, width + n - 1), dtype=self.dtype)
        for p in range(m):  # col2im: every patch pixel back to where it came from
            for q in range(n):
                padded_gradient[:, :, p:p + stride_y * out_y:stride_y, q:q + stride_x * out_x:stride_x] += \
                    column_gradient[:, p, q].transpose(1, 0, 2, 3)
        input_gradient = padded_gradient[:, :, top:top + height, left:left + width]
        if self.spatial_dimensions == 1:
            input_gradient = input_gradient[:, :, 0, :]
        # END SOLUTION
        # Kept in the stub: the optimizer steps only now, after ∂L/∂x, which needs the
        # kernels of the forward pass.
        self.update_parameters()
        return input_gradient

    # A 1-D layer runs as a 2-D one whose images are one pixel high: kernel (1, m), stride (1, s).

    def _as_images(self, tensor):
        return tensor if self.spatial_dimensions == 2 else tensor[:, :, np.newaxis, :]

    def _kernel_2d(self):
        return (1,) * (2 - self.spatial_dimensions) + self.convolution_shape[1:]

    def _stride_2d(self):
        return (1,) * (2 - self.spatial_dimensions) + self.stride_shape
