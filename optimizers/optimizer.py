"""The optimizer base class: the one place where a regularizer changes the weights."""
import math

import numpy as np


def check_hyperparameter(owner, name, value, low=0.0, high=math.inf, low_open=True, high_open=False):
    """Return ``value`` as a float if it lies in the stated interval; a clear error otherwise."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{owner}: {name} must be a number, got {value!r}") from None
    too_low = value <= low if low_open else value < low
    too_high = value >= high if high_open else value > high
    if not math.isfinite(value) or too_low or too_high:
        left = "(" if low_open else "["
        right = ")" if high_open else "]"
        raise ValueError(f"{owner}: {name} must be finite and in {left}{low}, {high}{right}, got {value}")
    return value


class Optimizer:
    """Base of all optimizers.

    ``calculate_update(weight_tensor, gradient_tensor)`` returns the new weights

        w ← w − η · regularizer.calculate_gradient(w) − (the optimizer's own step)

    The regularizer acts as *shrinkage on the current weights*, kept apart from
    the optimizer's moment estimates (the exercise slides "Regularization",
    "Loss function augmentation"). For Sgd this is exactly
    w(k+1) = (1 − ηα) w(k) − η ∂L/∂w(k) for L2; for SgdWithMomentum and Adam it
    is decoupled weight decay: the penalty's gradient never enters the velocity
    or the moments.

    The other form, ``add_regularizer(regularizer, coupled=True)``, is the Norm Loss
    paper's (Georgiou et al., ICPR 2020, eq. 4: the penalty is part of the loss): the
    penalty's gradient is added to the data gradient *before* the optimizer's step,

        w ← w − (the optimizer's own step from ∂L/∂w + regularizer.calculate_gradient(w))

    so it passes through the velocity or Adam's moments. For Sgd the two forms are the
    same update; for Adam the coupled penalty is rescaled per weight like any gradient.

    Subclasses implement ``_descent_step(gradient_tensor)``, returning the amount to
    subtract from the weights.
    """

    def __init__(self, learning_rate):
        self.learning_rate = check_hyperparameter(type(self).__name__, "learning_rate", learning_rate)
        self.regularizer = None
        self.coupled_regularization = False

    def add_regularizer(self, regularizer, coupled=False):
        """Attach a regularizer (an object with ``calculate_gradient`` and ``norm``).

        ``coupled=False`` (the default, the exercise's form): decoupled shrinkage on the
        current weights. ``coupled=True`` (the paper's form): the penalty's gradient joins
        the data gradient and goes through the optimizer's state.
        """
        if not (hasattr(regularizer, "calculate_gradient") and hasattr(regularizer, "norm")):
            raise TypeError(f"{type(self).__name__}.add_regularizer: expected a regularizer with "
                            f"calculate_gradient and norm, got {type(regularizer).__name__}")
        if not isinstance(coupled, (bool, np.bool_)):
            raise TypeError(f"{type(self).__name__}.add_regularizer: coupled must be True or False, "
                            f"got {coupled!r}")
        self.regularizer = regularizer
        self.coupled_regularization = bool(coupled)

    def calculate_update(self, weight_tensor, gradient_tensor):
        """Return the updated weights; works on arrays and on plain Python floats."""
        weight_tensor = np.asarray(weight_tensor)
        gradient_tensor = np.asarray(gradient_tensor)
        if weight_tensor.shape != gradient_tensor.shape:
            raise ValueError(f"{type(self).__name__}.calculate_update: expected a gradient of the "
                             f"weights' shape {weight_tensor.shape}, got {gradient_tensor.shape}")
        coupled = self.regularizer is not None and self.coupled_regularization
        if coupled:
            gradient_tensor = gradient_tensor + self.regularizer.calculate_gradient(weight_tensor)
        step = self._descent_step(gradient_tensor)  # a new array, never the optimizer's state
        if self.regularizer is not None and not coupled:
            step = step + self.learning_rate * self.regularizer.calculate_gradient(weight_tensor)
        updated = weight_tensor - step
        # Keep the caller's precision: float32 weights stay float32 (no silent upcast).
        if np.issubdtype(weight_tensor.dtype, np.floating):
            updated = updated.astype(weight_tensor.dtype, copy=False)
        return updated[()] if updated.ndim == 0 else updated

    def _descent_step(self, gradient_tensor):
        raise NotImplementedError


def zero_state(gradient_tensor):
    """Zeros for a moment or velocity: the gradient's shape, a floating dtype (float32 stays float32)."""
    return np.zeros(np.shape(gradient_tensor), dtype=np.result_type(gradient_tensor, np.float32))
