"""Plain stochastic gradient descent."""
from optimizers.optimizer import Optimizer


class Sgd(Optimizer):
    """Stochastic gradient descent: step = η · g."""

    def _descent_step(self, gradient_tensor):
        """The amount to subtract from the weights for this gradient.

        ``calculate_update`` (in ``Optimizer``, already written) calls this and returns
        ``weights − step``, adding a regularizer's shrinkage itself: do not apply the
        regularizer here, and do not subtract from the weights here.

        Parameters
        ----------
        gradient_tensor : numpy.ndarray
            g = ∂L/∂w, of the weights' shape (0-d for a weight that is a plain float), float64
            or float32. Do not modify it in place.

        Returns
        -------
        numpy.ndarray of the gradient's shape
            step = η · g with η = ``self.learning_rate``: along the gradient, so that
            w − step goes downhill. A new array.
        """
        # BEGIN SOLUTION
        return self.learning_rate * gradient_tensor
        # END SOLUTION
