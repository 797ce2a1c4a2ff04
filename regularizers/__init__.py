"""Weight regularizers: L1, L2 (weight decay) and Norm Loss.

``REGULARIZERS`` is the one table of regularizers by name ("none" is the absence of
one); the model builders, the command line, persistence and the study all read it.
"""
from regularizers.lp import L1Regularizer, L2Regularizer
from regularizers.norm_loss import NormLoss, unit_norms
from regularizers.regularizer import Regularizer

REGULARIZERS = {"none": None, "l1": L1Regularizer, "l2": L2Regularizer, "normloss": NormLoss}

__all__ = ["Regularizer", "L1Regularizer", "L2Regularizer", "NormLoss", "unit_norms", "REGULARIZERS"]
