"""SoftMax: class probabilities from scores."""
import numpy as np

from layers.base import SoftMaxLayer


class SoftMax(SoftMaxLayer):
    """Class probabilities of a batch of scores x of shape ``(b, classes)``, row by row:

        ŷ_k = exp(x_k − max_j x_j) / Σ_j exp(x_j − max_j x_j)

    Subtracting the row maximum changes nothing mathematically and keeps exp from
    overflowing for huge scores.

    Backward, for E = ∂L/∂ŷ, row by row (the Jacobian diag(ŷ) − ŷŷᵀ applied to E):

        ∂L/∂x = ŷ ⊙ (E − Σ_j E_j ŷ_j)

    Cache: ``output`` (ŷ).
    """

    def __init__(self):
        super().__init__()
        self.output = None

    def forward(self, input_tensor):
        input_tensor = np.asarray(input_tensor)
        if input_tensor.ndim != 2:
            raise ValueError(f"{self.name}: expected scores of shape (batch, classes), got {input_tensor.shape}")
        # BEGIN SOLUTION
        shifted = input_tensor - input_tensor.max(axis=1, keepdims=True)
        exponentials = np.exp(shifted)
        self.output = exponentials / exponentials.sum(axis=1, keepdims=True)
        return self.output
        # END SOLUTION

    def backward(self, error_tensor):
        output = self._cached("output")
        self._check_error_shape(error_tensor, output.shape)
        # BEGIN SOLUTION
        weighted_sum = np.sum(error_tensor * output, axis=1, keepdims=True)
        return output * (error_tensor - weighted_sum)
        # END SOLUTION
