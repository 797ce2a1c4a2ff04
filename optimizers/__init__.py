"""Optimizers: compute new weights from (weights, gradient), applying a regularizer as shrinkage."""
from optimizers.optimizer import Optimizer
from optimizers.sgd import Adam, Sgd, SgdWithMomentum

__all__ = ["Optimizer", "Sgd", "SgdWithMomentum", "Adam"]
