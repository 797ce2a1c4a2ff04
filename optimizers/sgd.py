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
        gradient_tensor : numpy.ndarray (any shape) or float
            g = ∂L/∂w, the shape of the weights. Do not modify it in place.

        Returns
        -------
        numpy.ndarray of the gradient's shape (a float for a float gradient)
            step = η · g, η = ``self.learning_rate``; positive along the gradient, so that w − step goes downhill. A new array, never the optimizer's own state.
        """
        # BEGIN SOLUTION
        return self.learning_rate * gradient_tensor
        # END SOLUTION
