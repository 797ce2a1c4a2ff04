"""L2 (weight decay) and L1 regularization, as the exercise slides "Regularization" define them
("Loss function augmentation": L2 and L1 regularization)."""
import numpy as np

from regularizers.regularizer import Regularizer


class L2Regularizer(Regularizer):
    """L2 regularization (weight decay).

        norm(w)               = α · Σ w²
        calculate_gradient(w) = α · w

    This is the *weight-decay convention* of the exercise slides: the shrinkage
    w(k+1) = (1 − ηα) w(k) − η ∂L/∂w(k) uses α·w, which is half the derivative
    2α·w of the stated penalty. (Equivalently, the update minimizes
    L + (α/2)·‖w‖²; the reported loss uses the slides' α·‖w‖².)
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
            α · w (the weight-decay convention, without the factor 2).
        """
        # BEGIN SOLUTION
        return self.alpha * np.asarray(weights)
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
            α · Σ w², as a Python float: wrap the sum in ``float(...)`` (a NumPy scalar such as
            ``np.float64`` is not accepted, and a test checks the type).
        """
        # BEGIN SOLUTION
        return self.alpha * float(np.sum(np.square(weights)))
        # END SOLUTION


class L1Regularizer(Regularizer):
    """L1 regularization.

        norm(w)               = α · Σ |w|
        calculate_gradient(w) = α · sign(w)      (sign(0) = 0, the subgradient at the kink)
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
            α · sign(w), with sign(0) = 0.
        """
        # BEGIN SOLUTION
        return self.alpha * np.sign(weights)
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
            α · Σ |w|, as a Python float: wrap the sum in ``float(...)`` (a NumPy scalar such as
            ``np.float64`` is not accepted, and a test checks the type).
        """
        # BEGIN SOLUTION
        return self.alpha * float(np.sum(np.abs(weights)))
        # END SOLUTION
