"""Plain stochastic gradient descent."""
from optimizers.optimizer import Optimizer


class Sgd(Optimizer):
    """Stochastic gradient descent: step = η · g."""

    def _descent_step(self, gradient_tensor):
        # BEGIN SOLUTION
        return self.learning_rate * gradient_tensor
        # END SOLUTION
