"""Weight initializers: ``initialize(weights_shape, fan_in, fan_out)`` returns an array.

Randomness comes from the ``rng`` (a ``numpy.random.Generator``) given to the
constructor, or, if none is given, from NumPy's global random state, so that
``np.random.seed(n)`` makes a run repeatable.
"""
import numpy as np


def _normal(rng, scale, shape):
    if rng is None:
        return np.random.normal(0.0, scale, size=shape)
    return rng.normal(0.0, scale, size=shape)


def _check_fans(name, fan_in, fan_out):
    if fan_in <= 0 or fan_out <= 0:
        raise ValueError(f"{name}.initialize: fan_in and fan_out must be positive, "
                         f"got fan_in={fan_in}, fan_out={fan_out}")


class Constant:
    """Every entry equals ``value`` (default 0.1, the exercise's bias constant)."""

    def __init__(self, value=0.1):
        self.value = float(value)

    def initialize(self, weights_shape, fan_in, fan_out):
        """Return new weights of shape ``weights_shape``.

        Parameters
        ----------
        weights_shape : tuple of int
            The shape to fill, e.g. ``(output_size, input_size)`` or ``(K, c, m, n)``.
        fan_in : int
            Inputs per output unit (``input_size``, or c·m·n for a Conv kernel).
        fan_out : int
            Outputs per input unit (``output_size``, or K·m·n for a Conv kernel).

        Returns
        -------
        numpy.ndarray of shape ``weights_shape``, float64
            Every entry equals ``self.value``; the fans are not used.
        """
        # BEGIN SOLUTION
        return np.full(weights_shape, self.value)
        # END SOLUTION


class UniformRandom:
    """Uniform samples on [0, 1)."""

    def __init__(self, rng=None):
        self.rng = rng

    def initialize(self, weights_shape, fan_in, fan_out):
        """Return new weights of shape ``weights_shape``.

        Parameters
        ----------
        weights_shape : tuple of int
            The shape to fill, e.g. ``(output_size, input_size)`` or ``(K, c, m, n)``.
        fan_in : int
            Inputs per output unit (``input_size``, or c·m·n for a Conv kernel).
        fan_out : int
            Outputs per input unit (``output_size``, or K·m·n for a Conv kernel).

        Returns
        -------
        numpy.ndarray of shape ``weights_shape``, float64
            Samples of the uniform distribution on [0, 1); the fans are not used.
            Draw from ``self.rng`` if it is set, else from NumPy's global random state.
        """
        # BEGIN SOLUTION
        if self.rng is None:
            return np.random.uniform(0.0, 1.0, size=weights_shape)
        return self.rng.uniform(0.0, 1.0, size=weights_shape)
        # END SOLUTION


class Xavier:
    """Glorot normal: N(0, σ²) with σ = sqrt(2 / (fan_in + fan_out))."""

    def __init__(self, rng=None):
        self.rng = rng

    def initialize(self, weights_shape, fan_in, fan_out):
        """Return new weights of shape ``weights_shape``.

        Parameters
        ----------
        weights_shape : tuple of int
            The shape to fill, e.g. ``(output_size, input_size)`` or ``(K, c, m, n)``.
        fan_in : int
            Inputs per output unit (``input_size``, or c·m·n for a Conv kernel).
        fan_out : int
            Outputs per input unit (``output_size``, or K·m·n for a Conv kernel).

        Returns
        -------
        numpy.ndarray of shape ``weights_shape``, float64
            Samples of N(0, σ²), σ = sqrt(2 / (fan_in + fan_out)).
            Draw from ``self.rng`` if it is set, else from NumPy's global random state.
        """
        _check_fans("Xavier", fan_in, fan_out)
        # BEGIN SOLUTION
        return _normal(self.rng, np.sqrt(2.0 / (fan_in + fan_out)), weights_shape)
        # END SOLUTION


class He:
    """He normal, for ReLU networks: N(0, σ²) with σ = sqrt(2 / fan_in)."""

    def __init__(self, rng=None):
        self.rng = rng

    def initialize(self, weights_shape, fan_in, fan_out):
        """Return new weights of shape ``weights_shape``.

        Parameters
        ----------
        weights_shape : tuple of int
            The shape to fill, e.g. ``(output_size, input_size)`` or ``(K, c, m, n)``.
        fan_in : int
            Inputs per output unit (``input_size``, or c·m·n for a Conv kernel).
        fan_out : int
            Outputs per input unit (``output_size``, or K·m·n for a Conv kernel).

        Returns
        -------
        numpy.ndarray of shape ``weights_shape``, float64
            Samples of N(0, σ²), σ = sqrt(2 / fan_in); fan_out is not used.
            Draw from ``self.rng`` if it is set, else from NumPy's global random state.
        """
        _check_fans("He", fan_in, fan_out)
        # BEGIN SOLUTION
        return _normal(self.rng, np.sqrt(2.0 / fan_in), weights_shape)
        # END SOLUTION


class SmallNormal:
    """N(0, σ²) with a fixed small σ (default 0.01): every unit starts with a norm well below 1.

    Not a recommended initializer: the Norm Loss experiments use it to show a regularizer
    that *grows* units towards norm 1, where weight decay can only shrink them further.
    """

    def __init__(self, rng=None, scale=0.01):
        self.rng = rng
        self.scale = float(scale)

    def initialize(self, weights_shape, fan_in, fan_out):
        return _normal(self.rng, self.scale, weights_shape)


# The one table of kernel initializers by name, read by the model builders, the command line
# and the study. "small" is SmallNormal: units that start well below norm 1.
INITIALIZERS = {"he": He, "xavier": Xavier, "uniform": UniformRandom, "small": SmallNormal}
