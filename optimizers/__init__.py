"""Optimizers: compute new weights from (weights, gradient), applying a regularizer as shrinkage.

``OPTIMIZERS`` is the one table of optimizers by name; the model builders, the command
line, persistence and the study all read it.
"""
from optimizers.adam import Adam
from optimizers.optimizer import Optimizer
from optimizers.sgd import Sgd
from optimizers.sgd_with_momentum import SgdWithMomentum

OPTIMIZERS = {"adam": Adam, "sgd": Sgd, "momentum": SgdWithMomentum}

__all__ = ["Optimizer", "Sgd", "SgdWithMomentum", "Adam", "OPTIMIZERS"]
