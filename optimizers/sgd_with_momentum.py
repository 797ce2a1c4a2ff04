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
        """The amount to subtract from the weights for this gradient.

        ``calculate_update`` (in ``Optimizer``, already written) calls this and returns
        ``weights − step``, adding a regularizer's shrinkage itself: do not apply the
        regularizer here, and do not subtract from the weights here.

        State: ``self.velocity``, None before the first call; start it at zeros of the
        gradient's shape and dtype (``zero_state(gradient_tensor)``) and keep it between calls.

        Parameters
        ----------
        gradient_tensor : numpy.ndarray
            g = ∂L/∂w, of the weights' shape (0-d for a weight that is a plain float), float64
            or float32. Do not modify it in place.

        Returns
        -------
        numpy.ndarray of the gradient's shape
            step = −v(k), after updating v(k) = μ · v(k−1) − η · g (μ = ``self.momentum_rate``,
            η = ``self.learning_rate``). A new array, not ``self.velocity`` itself.
        """
        # BEGIN SOLUTION
        if self.velocity is None:
            self.velocity = zero_state(gradient_tensor)
        # v ← μ·v − η·g, in place: the velocity is the optimizer's own array (see Adam._descent_step).
        self.velocity *= self.momentum_rate
        self.velocity -= self.learning_rate * gradient_tensor
        return -self.velocity
        # END SOLUTION
