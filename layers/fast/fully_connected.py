"""The fast FullyConnected: the teaching layer's numbers, with the input gradient in the input's memory layout."""
import numpy as np

from layers.base import TrainableLayer, as_floating, positive_int
from layers.fast.sums import row_sums


class FullyConnected(TrainableLayer):
    """y = x Wᵀ + b for a batch of feature vectors: ``layers.fully_connected.FullyConnected``
    (constructor, parameters, results), with one speed setting described in ``backward``.

    Shapes: input ``(b, input_size)``, output ``(b, output_size)``;
    ``weights`` ``(output_size, input_size)`` (output units on axis 0, as in
    PyTorch, so a regularizer can group each unit's incoming weights),
    ``bias`` ``(output_size,)``.

    Backward, for the error E = ∂L/∂y of shape ``(b, output_size)``:

        ∂L/∂W = Eᵀ x        ∂L/∂b = Σ_b E        ∂L/∂x = E W

    Cache: ``input_tensor``.
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
        self.check_parameters()
        input_tensor = as_floating(self.name, input_tensor, self.dtype)
        if input_tensor.ndim != 2 or input_tensor.shape[1] != self.input_size:
            raise ValueError(f"{self.name}: expected input of shape (batch, {self.input_size}), "
                             f"got {input_tensor.shape}")
        self.input_tensor = input_tensor
        return input_tensor @ self._weights.T + self._bias

    def backward(self, error_tensor):
        input_tensor = self._cached("input_tensor")
        self._check_error_shape(error_tensor, (input_tensor.shape[0], self.output_size))
        error_tensor = np.asarray(error_tensor, dtype=self.dtype)
        self.gradient_weights = error_tensor.T @ input_tensor
        self.gradient_bias = row_sums(error_tensor.T)  # Σ over the batch, by BLAS
        # E W (with the weights of the forward pass), written in the input's memory layout:
        # behind Flatten of a batch-last Conv stack (see the fast Conv) that is column-major,
        # and the ReLU and Pooling below then multiply arrays of matching layouts
        # (mismatched layouts defeat NumPy's fast loops).
        previous_error = np.matmul(error_tensor, self._weights, out=np.empty_like(input_tensor))
        self.update_parameters()
        return previous_error
