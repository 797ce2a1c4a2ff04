"""The regularizer base class.

A regularizer needs nothing but the current weights (the exercise slides "Regularization",
"General outline"): it knows
its penalty, ``norm(weights)``, which the network adds to the reported loss,
and that penalty's gradient, ``calculate_gradient(weights)``, which the
optimizer applies as shrinkage. ``alpha`` is the regularization factor
(called λ in the papers; ``lambda`` is a Python keyword).

Only kernels of FullyConnected and Conv are regularized, never biases nor
BatchNormalization's γ and β; the layers enforce this (``TrainableLayer``).
"""
import math


class Regularizer:
    """Base: holds ``alpha`` and validates it."""

    def __init__(self, alpha):
        try:
            alpha = float(alpha)
        except (TypeError, ValueError):
            raise TypeError(f"{type(self).__name__}: alpha must be a number, got {alpha!r}") from None
        if not math.isfinite(alpha) or alpha < 0:
            raise ValueError(f"{type(self).__name__}: alpha must be finite and >= 0, got {alpha}")
        self.alpha = alpha

    def calculate_gradient(self, weights):
        raise NotImplementedError

    def norm(self, weights):
        raise NotImplementedError

    def __repr__(self):
        return f"{type(self).__name__}(alpha={self.alpha:g})"
