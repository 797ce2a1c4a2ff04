"""Pooling: max pooling over windows of 2-D images (or 1-D signals), no padding."""
import numpy as np

from layers.base import BaseLayer, pooling_output_shape, positive_ints, stride_per_axis


class Pooling(BaseLayer):
    """The maximum of every ``pooling_shape`` window, windows placed every ``stride_shape``.

    For a 2-D input x of shape ``(b, c, y, x)``, window (p_y, p_x), stride (s_y, s_x):

        y[β, γ, u, v] = max_{0 ≤ p < p_y, 0 ≤ q < p_x} x[β, γ, s_y·u + p, s_x·v + q]

    "valid": only windows lying wholly inside the input, so the output has shape
    ``(b, c, (y − p_y) // s_y + 1, (x − p_x) // s_x + 1)``. Windows may overlap
    (stride < window) or leave gaps (stride > window). A 1-D window ``(p,)`` works the
    same on signals ``(b, c, x)``, as images one pixel high.

    Backward: the maximum passes its error on unchanged and every other entry of the
    window gets nothing, so ∂L/∂x[position] = Σ of E over the windows whose maximum
    sits at that position (with overlapping windows one position can win several).
    A window with tied maxima sends its error to the first of them in row-major order
    (as PyTorch does), never to several.

    How: a window has only p_y·p_x entries, so the layer loops over the window offsets
    (p, q); for each, the strided slice ``x[..., p::s_y, q::s_x]`` (cut to the output's
    size) holds that entry of *every* window at once.

    Cache: ``input_tensor``, ``output``.
    """

    def __init__(self, stride_shape, pooling_shape):
        super().__init__()
        self.pooling_shape = positive_ints(self.name, "pooling_shape", pooling_shape, (1, 2), allow_int=False)
        self.stride_shape = stride_per_axis(self.name, stride_shape, len(self.pooling_shape))
        self.input_tensor = None
        self.output = None

    def forward(self, input_tensor):
        """The maximum of every window.

        Parameters
        ----------
        input_tensor : numpy.ndarray of shape (b, c, y, x) (2-D window) or (b, c, x) (1-D)
            Any real dtype. Cached as ``self.input_tensor`` before your code runs.

        Returns
        -------
        numpy.ndarray of shape (b, c, (y − p_y) // s_y + 1, (x − p_x) // s_x + 1), the input's dtype
            (for 1-D, ``(b, c, (x − p) // s + 1)``). Cache it as ``self.output``: backward
            finds each window's maximum by comparing the input with it.
        """
        input_tensor = np.asarray(input_tensor)
        output_shape = pooling_output_shape(self.name, input_tensor.shape, self.pooling_shape, self.stride_shape)
        self.input_tensor = input_tensor
        # BEGIN SOLUTION
        images = self._as_images(input_tensor)
        (window_y, window_x), (stride_y, stride_x) = self._as_2d(self.pooling_shape), self._as_2d(self.stride_shape)
        out_y, out_x = self._as_2d(output_shape[2:])
        output = None
        for p in range(window_y):
            for q in range(window_x):
                entry = images[:, :, p:p + stride_y * (out_y - 1) + 1:stride_y, q:q + stride_x * (out_x - 1) + 1:stride_x]
                output = entry.copy() if output is None else np.maximum(output, entry)
        self.output = output.reshape(output_shape)
        return self.output
        # END SOLUTION

    def backward(self, error_tensor):
        """Send each window's error to the position of its maximum.

        Parameters
        ----------
        error_tensor : numpy.ndarray of the output's shape
            E = ∂L/∂y. Do not modify it in place.

        Returns
        -------
        numpy.ndarray of the input's shape
            ∂L/∂x: zero except at window maxima, where the errors of every window won by
            that position add up (overlapping windows). A window with tied maxima sends its
            whole error to the *first* of them in row-major order, never to several, never
            to the last.
        """
        input_tensor, output = self._cached("input_tensor"), self._cached("output")
        self._check_error_shape(error_tensor, output.shape)
        # BEGIN SOLUTION
        images, outputs = self._as_images(input_tensor), self._as_images(output)
        errors = self._as_images(np.asarray(error_tensor))
        (window_y, window_x), (stride_y, stride_x) = self._as_2d(self.pooling_shape), self._as_2d(self.stride_shape)
        out_y, out_x = outputs.shape[2:]
        input_gradient = np.zeros(images.shape, dtype=np.result_type(input_tensor, error_tensor))
        unclaimed = np.ones(outputs.shape, dtype=bool)  # windows whose maximum is not yet found
        for p in range(window_y):
            for q in range(window_x):
                rows = slice(p, p + stride_y * (out_y - 1) + 1, stride_y)
                columns = slice(q, q + stride_x * (out_x - 1) + 1, stride_x)
                winner = (images[:, :, rows, columns] == outputs) & unclaimed  # first maximum of each window
                unclaimed &= ~winner
                input_gradient[:, :, rows, columns] += errors * winner
        return input_gradient.reshape(input_tensor.shape)
        # END SOLUTION

    def _as_2d(self, sizes):
        """Sizes (or strides) per spatial axis as (y, x): a 1-D signal is an image one pixel high."""
        return (1,) * (2 - len(self.pooling_shape)) + tuple(sizes)

    def _as_images(self, tensor):
        return tensor if tensor.ndim == 4 else tensor[:, :, np.newaxis, :]
