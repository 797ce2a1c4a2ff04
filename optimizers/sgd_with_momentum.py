"""Gradient descent with momentum."""
from optimizers.optimizer import Optimizer, check_hyperparameter, zero_state


class SgdWithMomentum(Optimizer):
    """Gradient descent with momentum.

        v(k) = μ · v(k−1) − η · g(k),   v(0) = 0
        w(k+1) = w(k) + v(k)

    State: ``velocity`` (None until the first update).
    """

    def __init__(self, learning_rate, momentum_rate=0.9):
        super().__init__(learning_rate)
        self.momentum_rate = check_hyperparameter("SgdWithMomentum", "momentum_rate", momentum_rate,
                                                  high=1.0, low_open=False, high_open=True)
        self.velocity = None

    def _descent_step(self, gradient_tensor):
        # BEGIN SOLUTION
        if self.velocity is None:
            self.velocity = zero_state(gradient_tensor)
        # v ← μ·v − η·g, in place: the velocity is the optimizer's own array (see Adam._descent_step).
        self.velocity *= self.momentum_rate
        self.velocity -= self.learning_rate * gradient_tensor
        return -self.velocity
        # END SOLUTION
