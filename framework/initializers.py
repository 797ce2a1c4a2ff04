"""The weight initializers, re-exported from :mod:`layers.initializers`, where they live
beside the layers they initialize (as the exercise keeps Initializers among its Layers).

``from framework.initializers import He`` keeps working for code written before the move.
"""
from layers.initializers import INITIALIZERS, Constant, He, SmallNormal, UniformRandom, Xavier  # noqa: F401

__all__ = ["Constant", "UniformRandom", "Xavier", "He", "SmallNormal", "INITIALIZERS"]
