"""The fast Pooling: the teaching ``layers.pooling.Pooling``'s numbers, in the input's memory layout."""
import functools
import itertools

import numpy as np

from layers.base import BaseLayer, pooling_output_shape, positive_ints, stride_per_axis


class Pooling(BaseLayer):
    """The maximum of every ``pooling_shape`` window, windows placed every ``stride_shape``:
    the same layer as ``layers.pooling.Pooling`` (constructor, results), built for speed.

    For a 2-D input x of shape ``(b, c, y, x)``, window (p_y, p_x), stride (s_y, s_x):

        y[β, γ, u, v] = max_{0 ≤ p < p_y, 0 ≤ q < p_x} x[β, γ, s_y·u + p, s_x·v + q]

    "valid": only windows lying wholly inside the input, so the output has shape
    ``(b, c, (y − p_y) // s_y + 1, (x − p_x) // s_x + 1)``. Windows may overlap
    (stride < window) or leave gaps (stride > window). A 1-D window ``(p,)`` works the
    same on signals ``(b, c, x)``.

    Backward: the maximum passes its error on unchanged and every other entry of the
    window gets nothing, so ∂L/∂x[position] = Σ of E over the windows whose maximum
    sits at that position (with overlapping windows one position can win several).
    A window with tied maxima sends its error to the first of them in row-major order
    (as PyTorch does), never to several.

    How it is computed: a window has only p_y·p_x entries, so the layer loops over
    the window offsets (p, q); for each, the strided slice
    ``x[..., p::s_y, q::s_x]`` (cut to the output's size) holds that entry of *every*
    window at once. The maximum is ``np.maximum`` of these views (a view costs nothing,
    where a ``reshape`` + ``max(axis=...)`` formulation copies the input).
    Backward compares each view with the output to find the winners again. Where the
    windows tile the input exactly (stride = window, sizes divisible: LeNet's 2x2), the
    input splits into windows as a view, ``(b, c, y/p_y, p_y, x/p_x, p_x)``, and one
    comparison with the output broadcast over each window finds every winner at once, one
    product with the error broadcast alike writes the whole gradient (0.80 – 0.92 of the
    time of the view-by-view route, docs/performance.md). Unless a window has tied maxima (or
    a NaN one): then the view-by-view route runs, which gives ties to their first entry.

    The layer accepts input of any memory layout and its outputs and gradients keep
    that layout (``np.maximum`` and ``zeros_like`` follow the input's memory order),
    which keeps the batch-last layout the fast ``Conv`` produces cheap downstream.

    Cache: ``input_tensor``, ``output``.
    """

    def __init__(self, stride_shape, pooling_shape):
        super().__init__()
        self.pooling_shape = positive_ints(self.name, "pooling_shape", pooling_shape, (1, 2), allow_int=False)
        self.stride_shape = stride_per_axis(self.name, stride_shape, len(self.pooling_shape))
        # Windows overlap when a stride is smaller than the window along its axis.
        self._overlapping = any(stride < size for stride, size in zip(self.stride_shape, self.pooling_shape))
        self.input_tensor = None
        self.output = None

    def forward(self, input_tensor):
        input_tensor = np.asarray(input_tensor)
        output_shape = pooling_output_shape(self.name, input_tensor.shape, self.pooling_shape, self.stride_shape)
        self.input_tensor = input_tensor
        windows = self._window_entries(input_tensor, output_shape)
        output = next(windows).copy(order="K")
        for entry in windows:
            np.maximum(output, entry, out=output)
        self.output = output
        return output

    def backward(self, error_tensor):
        input_tensor, output = self._cached("input_tensor"), self._cached("output")
        self._check_error_shape(error_tensor, output.shape)
        # One copy into the output's memory layout (batch-last inside a LeNet) when the error
        # comes in another (row-major, say, from a layer that does not keep layouts): the
        # products below then run on matching layouts, where NumPy's fast loops apply.
        error_tensor = np.asarray(error_tensor)
        if error_tensor.strides != output.strides:
            error_tensor = _like(output, error_tensor)
        # Windows that tile the input exactly (stride = window, sizes divisible) write every
        # position below, so the gradient needs no zero fill first.
        tiled = self.stride_shape == self.pooling_shape and all(
            size % window == 0 for size, window in zip(input_tensor.shape[2:], self.pooling_shape))
        if tiled:
            input_gradient = self._tiled_backward(input_tensor, output, error_tensor)
            if input_gradient is not None:
                return input_gradient
        input_gradient = np.empty_like(input_tensor) if tiled else np.zeros_like(input_tensor)
        # Windows whose maximum is not yet found. ``*_like`` keeps the memory layout of the
        # output: an operation on two arrays of different layouts is several times slower.
        unclaimed = np.ones_like(output, dtype=bool)
        for entry, gradient_entry in zip(self._window_entries(input_tensor, output.shape),
                                         self._window_entries(input_gradient, output.shape)):
            winner = entry == output
            winner &= unclaimed      # the first maximum of each window wins, later ties get nothing
            unclaimed ^= winner
            # E · [winner]; a product with the mask is faster than np.where (and np.add with
            # where=). Overlapping windows add up in the same position;
            # windows that do not overlap own their positions, so the product is written
            # straight into place without a temporary.
            if self._overlapping:
                gradient_entry += error_tensor * winner
            else:
                np.multiply(error_tensor, winner, out=gradient_entry)
        return input_gradient

    def _tiled_backward(self, input_tensor, output, error_tensor):
        """∂L/∂x for windows that tile the input, every window at once (class docstring); None
        where a window has no single maximum (tied maxima, or NaN), which the caller handles."""
        split = input_tensor.shape[:2] + tuple(
            axis for size, window in zip(input_tensor.shape[2:], self.pooling_shape) for axis in (size // window, window))
        spread = output.shape[:2] + tuple(axis for count in output.shape[2:] for axis in (count, 1))
        winners = input_tensor.reshape(split) == output.reshape(spread)
        # One winner per window exactly: as many winners as windows, and none without (a window
        # whose maximum is NaN has none; a finite or infinite maximum is one of its entries).
        if np.count_nonzero(winners) != output.size or np.isnan(np.add.reduce(output, axis=None)):
            return None
        input_gradient = np.empty_like(input_tensor)
        # Splitting axes is always a view, so the product lands in the gradient itself.
        np.multiply(error_tensor.reshape(spread), winners, out=input_gradient.reshape(split))
        return input_gradient

    def _window_entries(self, tensor, output_shape):
        """For each window offset, the strided view of ``tensor`` holding that entry of every window."""
        counts = tuple(output_shape[-len(self.pooling_shape):])
        for index in _window_slices(self.pooling_shape, self.stride_shape, counts):
            yield tensor[index]


@functools.lru_cache(maxsize=64)
def _window_slices(pooling_shape, stride_shape, counts):
    """The index ``(..., slice_y, slice_x)`` of each window offset (p, q), in row-major order.

    Cached: the same few shapes come back every batch, and building the slices in Python
    costs a noticeable share of a LeNet training step.
    """
    return tuple((Ellipsis,) + tuple(slice(start, start + stride * (count - 1) + 1, stride)
                                     for start, stride, count in zip(offset, stride_shape, counts))
                 for offset in itertools.product(*(range(size) for size in pooling_shape)))


def _like(template, values):
    """A copy of ``values`` in the memory layout of ``template`` (same shape)."""
    copy = np.empty_like(template, dtype=np.result_type(values))
    copy[...] = values
    return copy

