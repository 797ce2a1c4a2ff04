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
        """Turn each row of scores into probabilities.

        Parameters
        ----------
        input_tensor : numpy.ndarray of shape (b, classes), floating dtype
            The scores x, one row per batch item; they may be huge (±1e4), so subtract
            each row's maximum before ``np.exp``.

        Returns
        -------
        numpy.ndarray of shape (b, classes), the input's dtype
            ŷ, each row positive and summing to 1. Cache it as ``self.output`` (the
            backward pass needs only ŷ).
        """
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
        """Apply SoftMax's Jacobian to the error, row by row.

        Parameters
        ----------
        error_tensor : numpy.ndarray of shape (b, classes)
            E = ∂L/∂ŷ. Do not modify it in place.

        Returns
        -------
        numpy.ndarray of shape (b, classes)
            ∂L/∂x = ŷ ⊙ (E − Σ_j E_j ŷ_j), the sum taken in each row: every score moves
            every probability, so the diagonal ŷ(1 − ŷ) alone is wrong.
        """
        output = self._cached("output")
        self._check_error_shape(error_tensor, output.shape)
        # BEGIN SOLUTION
        weighted_sum = np.sum(error_tensor * output, axis=1, keepdims=True)
        return output * (error_tensor - weighted_sum)
        # END SOLUTION
