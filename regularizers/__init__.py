"""Weight regularizers: L1, L2 (weight decay) and Norm Loss."""
from regularizers.lp import L1Regularizer, L2Regularizer
from regularizers.norm_loss import NormLoss, unit_norms
from regularizers.regularizer import Regularizer

__all__ = ["Regularizer", "L1Regularizer", "L2Regularizer", "NormLoss", "unit_norms"]
