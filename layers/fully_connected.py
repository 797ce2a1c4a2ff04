"""FullyConnected: an affine map of feature vectors."""
import numpy as np

from layers.base import TrainableLayer, as_floating, positive_int


class FullyConnected(TrainableLayer):
    """y = x Wᵀ + b for a batch of feature vectors.

    Shapes: input x ``(b, input_size)``, output y ``(b, output_size)``;
    ``weights`` W ``(output_size, input_size)`` (output units on axis 0, as in
    PyTorch, so a regularizer can group each unit's incoming weights),
    ``bias`` b ``(output_size,)``.

    Backward, for the error E = ∂L/∂y of shape ``(b, output_size)``:

        ∂L/∂W = Eᵀ x        ∂L/∂b = Σ_b E        ∂L/∂x = E W

    ∂L/∂x uses the weights of the forward pass: the optimizer updates W and b only
    after it (``update_parameters``).

    Cache: ``input_tensor`` (x, for ∂L/∂W).
    """

    def __init__(self, input_size, output_size, dtype=np.float64, rng=None):
        super().__init__(dtype)
        self.input_size = positive_int(self.name, "input_size", input_size)
        self.output_size = positive_int(self.name, "output_size", output_size)
        self.start_uniform(rng)
        self.input_tensor = None

    def parameter_shapes(self):
        return (self.output_size, self.input_size), (self.output_size,)

    def _fans(self):
        return self.input_size, self.output_size

    def forward(self, input_tensor):
        """Compute y = x Wᵀ + b for the batch.

        Parameters
        ----------
        input_tensor : numpy.ndarray of shape (b, input_size)
            The batch x, one feature vector per row. Already converted to the layer's
            ``dtype`` (float64 or float32) and cached as ``self.input_tensor`` before your
            code runs.

        Returns
        -------
        numpy.ndarray of shape (b, output_size), the layer's dtype
            The output y. ``weights`` W is ``(output_size, input_size)``, ``bias`` b is
            ``(output_size,)`` and broadcasts over the rows.
        """
        self.check_parameters()
        input_tensor = as_floating(self.name, input_tensor, self.dtype)
        if input_tensor.ndim != 2 or input_tensor.shape[1] != self.input_size:
            raise ValueError(f"{self.name}: expected input of shape (batch, {self.input_size}), "
                             f"got {input_tensor.shape}")
        self.input_tensor = input_tensor
        # BEGIN SOLUTION
        return input_tensor @ self.weights.T + self.bias
        # END SOLUTION

    def backward(self, error_tensor):
        """Gradients of W and b, then ∂L/∂x; the optimizer steps last.

        Set ``self.gradient_weights`` = Eᵀ x, shape ``(output_size, input_size)`` (the
        shape of ``weights``), and ``self.gradient_bias`` = Σ_b E, shape ``(output_size,)``
        (the shape of ``bias``), both in the layer's dtype; the tests read them. Write ∂L/∂x
        into ``previous_error``: the stub keeps the call ``self.update_parameters()`` after
        your code (it lets the optimizer, if one is set, update W and b from those
        gradients), so ∂L/∂x is computed with the weights of the forward pass. Keep that call.

        Parameters
        ----------
        error_tensor : numpy.ndarray of shape (b, output_size)
            E = ∂L/∂y, already converted to the layer's dtype. Do not modify it in place.

        Returns
        -------
        numpy.ndarray of shape (b, input_size), the layer's dtype
            ∂L/∂x = E W, computed with the weights of the forward pass.
        """
        input_tensor = self._cached("input_tensor")
        self._check_error_shape(error_tensor, (input_tensor.shape[0], self.output_size))
        error_tensor = np.asarray(error_tensor, dtype=self.dtype)
        # BEGIN SOLUTION
        self.gradient_weights = error_tensor.T @ input_tensor
        self.gradient_bias = error_tensor.sum(axis=0)
        previous_error = error_tensor @ self.weights
        # END SOLUTION
        # Kept in the stub: the optimizer steps only now, after ∂L/∂x, which needs the
        # weights of the forward pass.
        self.update_parameters()
        return previous_error
