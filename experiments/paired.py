"""The study's statistics: means with t intervals across seeds, and paired differences between arms.

Runs of different arms with the same seed start from the same weights and see the same
batches, so the difference of two arms is taken seed by seed, d_s = x_s − y_s, which removes
the part of the seed-to-seed spread that both arms share. For n paired seeds:

    mean  d̄ = Σ d_s / n,   sd_d = sqrt(Σ (d_s − d̄)² / (n − 1))
    95 % confidence interval   d̄ ± t(0.975, n − 1) · sd_d / √n
    smallest resolvable effect (power 80 %, two-sided 5 % level)
                               (t(0.975, n − 1) + t(0.80, n − 1)) · sd_d / √n

An interval that excludes 0 resolves the difference; a true difference smaller than the
smallest resolvable effect is more likely missed than found.
"""
import dataclasses
import math
import statistics

CONFIDENCE = 0.95
POWER = 0.80


def _t(probability, degrees_of_freedom):
    from scipy.stats import t

    return float(t.ppf(probability, degrees_of_freedom))


@dataclasses.dataclass(frozen=True)
class Interval:
    """The mean of ``n`` values with its t interval and the values' sample standard deviation.

    ``resolvable`` is the smallest true mean the design detects with 80 % power (see the module).
    With fewer than two values sd, the interval and ``resolvable`` are NaN.
    """

    mean: float
    sd: float
    n: int
    low: float
    high: float
    resolvable: float

    @property
    def half_width(self):
        return (self.high - self.low) / 2

    @property
    def excludes_zero(self):
        return self.low > 0 or self.high < 0


def interval(values):
    """:class:`Interval` of the finite ``values``."""
    values = [value for value in values if value is not None and math.isfinite(value)]
    n = len(values)
    if n == 0:
        return Interval(math.nan, math.nan, 0, math.nan, math.nan, math.nan)
    mean = statistics.fmean(values)
    if n < 2:
        return Interval(mean, math.nan, 1, math.nan, math.nan, math.nan)
    sd = statistics.stdev(values)
    standard_error = sd / math.sqrt(n)
    critical = _t(1 - (1 - CONFIDENCE) / 2, n - 1)
    return Interval(mean, sd, n, mean - critical * standard_error, mean + critical * standard_error,
                    (critical + _t(POWER, n - 1)) * standard_error)


def paired_difference(arm_by_seed, reference_by_seed):
    """:class:`Interval` of arm − reference over the seeds both have a finite value for.

    ``arm_by_seed`` and ``reference_by_seed``: seed → value (an error, a loss).
    """
    seeds = sorted(seed for seed in set(arm_by_seed) & set(reference_by_seed)
                   if math.isfinite(arm_by_seed[seed]) and math.isfinite(reference_by_seed[seed]))
    return interval([arm_by_seed[seed] - reference_by_seed[seed] for seed in seeds])


def seeds_to_resolve(sd, effect, most=10_000):
    """The fewest paired seeds n whose smallest resolvable effect (t(0.975, n − 1) + t(0.80, n − 1)) ·
    sd / √n is at most ``effect`` (``sd``: the standard deviation of the paired differences)."""
    for n in range(2, most + 1):
        if (_t(1 - (1 - CONFIDENCE) / 2, n - 1) + _t(POWER, n - 1)) * sd / math.sqrt(n) <= effect:
            return n
    raise ValueError(f"seeds_to_resolve: more than {most} seeds for sd {sd} and effect {effect}")
