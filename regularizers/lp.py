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
        # BEGIN SOLUTION
        return self.alpha * np.asarray(weights)
        # END SOLUTION

    def norm(self, weights):
        # BEGIN SOLUTION
        return self.alpha * float(np.sum(np.square(weights)))
        # END SOLUTION


class L1Regularizer(Regularizer):
    """L1 regularization.

        norm(w)               = α · Σ |w|
        calculate_gradient(w) = α · sign(w)      (sign(0) = 0, the subgradient at the kink)
    """

    def calculate_gradient(self, weights):
        # BEGIN SOLUTION
        return self.alpha * np.sign(weights)
        # END SOLUTION

    def norm(self, weights):
        # BEGIN SOLUTION
        return self.alpha * float(np.sum(np.abs(weights)))
        # END SOLUTION
