"""Norm Loss (Georgiou et al., ICPR 2020): steer every unit's weight vector to unit norm."""
import numpy as np

from regularizers.regularizer import Regularizer


def unit_norms(weights):
    """Euclidean norm ‖w_o‖ of each output unit's incoming weights (axis 0 indexes units).

    A FullyConnected kernel ``(out, in)`` gives one norm per row; a Conv kernel
    ``(K, c, m, n)`` one per kernel over all c·m·n weights. Returns shape ``(out,)``.
    """
    weights = np.asarray(weights)
    if weights.ndim < 1:
        raise ValueError("Norm Loss needs a kernel with output units on axis 0, got a scalar")
    flat = weights.reshape(weights.shape[0], -1)
    return np.sqrt(np.einsum("oi,oi->o", flat, flat))


class NormLoss(Regularizer):
    """Norm Loss: a soft constraint towards the Oblique manifold ddiag(W Wᵀ) = I.

        norm(w)               = α · Σ_o (1 − ‖w_o‖)²                        (Georgiou et al., ICPR 2020, eq. 3, 4)
        calculate_gradient(w) = α · 2 · w_o · (1 − 1/‖w_o‖)   for each unit o  (eq. 6)

    where ``w_o`` is all incoming weights of output unit ``o`` (axis 0 of the kernel).

    Relation to weight decay (eq. 5): weight decay's gradient is 2·w, it
    always shrinks. Norm Loss's gradient is the same 2·w scaled per unit by
    (1 − 1/‖w_o‖): positive (shrink) when ‖w_o‖ > 1, negative (grow) when
    ‖w_o‖ < 1, zero on the unit sphere. It is weight decay with a per-unit
    factor that changes sign at norm 1.

    At ‖w_o‖ = 0 the penalty is not differentiable; the gradient there is set to 0
    (every direction is equally good), which avoids a 0/0 NaN.
    """

    def calculate_gradient(self, weights):
        """The penalty's gradient, which the optimizer applies as shrinkage.

        Parameters
        ----------
        weights : numpy.ndarray
            A kernel, any shape (``(out, in)`` or ``(K, c, m, n)``), float64 or float32.

        Returns
        -------
        numpy.ndarray of the weights' shape and dtype
            α · 2 · w_o · (1 − 1/‖w_o‖) for each output unit o (axis 0; ``unit_norms`` gives the
            ‖w_o‖), and 0 for a unit of norm 0. Integer weights have been converted to float64
            before your code runs.
        """
        weights = np.asarray(weights)
        if not np.issubdtype(weights.dtype, np.floating):
            weights = weights.astype(np.float64)  # an integer kernel must not truncate the factor
        # BEGIN SOLUTION
        norms = unit_norms(weights)
        # (1 − 1/‖w‖) with 0 where ‖w‖ = 0: np.divide with `where` never evaluates 1/0.
        inverse = np.divide(1, norms, out=np.zeros_like(norms), where=norms > 0)
        factor = np.where(norms > 0, 1 - inverse, 0).astype(weights.dtype, copy=False)
        factor = factor.reshape((-1,) + (1,) * (weights.ndim - 1))
        return (2 * self.alpha) * factor * weights
        # END SOLUTION

    def norm(self, weights):
        """The penalty, which the network adds to the reported loss.

        Parameters
        ----------
        weights : numpy.ndarray
            A kernel, any shape, float64 or float32.

        Returns
        -------
        float
            α · Σ_o (1 − ‖w_o‖)², as a Python float: wrap the sum in ``float(...)`` (a NumPy scalar such as
            ``np.float64`` is not accepted, and a test checks the type).
        """
        # BEGIN SOLUTION
        return self.alpha * float(np.sum(np.square(1 - unit_norms(weights))))
        # END SOLUTION
