"""The study's statistics: means with t intervals across seeds, and paired differences between arms.

Runs of different arms with the same seed start from the same weights and see the same
batches, so the difference of two arms is taken seed by seed, d_s = x_s − y_s, which removes
the part of the seed-to-seed spread that both arms share. For n paired seeds:

    mean  d̄ = Σ d_s / n,   sd_d = sqrt(Σ (d_s − d̄)² / (n − 1))
    95 % confidence interval   d̄ ± t(0.975, n − 1) · sd_d / √n
    smallest resolvable effect (power 80 %, two-sided 5 % level)
                               (t(0.975, n − 1) + t(0.80, n − 1)) · sd_d / √n

An interval that excludes 0 resolves the difference; a true difference smaller than the
smallest resolvable effect is more likely missed than found. Several differences tested
together are judged by Holm's adjusted p values (:func:`holm`).
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

    @property
    def p_value(self):
        """Two-sided p of the t test of a zero mean: 2 · (1 − F_t(|mean| / (sd / √n), n − 1)); NaN below 2 values."""
        from scipy.stats import t

        if self.n < 2:
            return math.nan
        if self.sd == 0:
            return 1.0 if self.mean == 0 else 0.0
        return float(2 * t.sf(abs(self.mean) / (self.sd / math.sqrt(self.n)), self.n - 1))


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


def holm(p_values):
    """Holm's step-down adjustment of ``p_values`` for testing them together (same order back).

    With the p values sorted ascending, p₍ᵢ₎ becomes max over j ≤ i of min(1, (m − j + 1) · p₍ⱼ₎):
    a difference whose adjusted p is below 0.05 stays significant however many were tested.
    """
    order = sorted(range(len(p_values)), key=lambda index: p_values[index])
    adjusted = [math.nan] * len(p_values)
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (len(p_values) - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted


def seeds_to_resolve(sd, effect, most=10_000):
    """The fewest paired seeds n whose smallest resolvable effect (t(0.975, n − 1) + t(0.80, n − 1)) ·
    sd / √n is at most ``effect`` (``sd``: the standard deviation of the paired differences)."""
    for n in range(2, most + 1):
        if (_t(1 - (1 - CONFIDENCE) / 2, n - 1) + _t(POWER, n - 1)) * sd / math.sqrt(n) <= effect:
            return n
    raise ValueError(f"seeds_to_resolve: more than {most} seeds for sd {sd} and effect {effect}")
