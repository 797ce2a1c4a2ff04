"""The analyses the second study pre-registers (``docs/norm_loss_preregistration.md``), on paired seeds.

Runs of different arms with the same seed start from the same weights and see the same batches, so
each analysis works on one number per seed, a paired difference d_s, and asks about its mean μ:

    equivalence (claim 1)   two one-sided t tests (TOST) of H₀: μ ≤ −m and H₀: μ ≥ +m at level α:
                            t₁ = (d̄ + m) / se, p₁ = P(T > t₁);  t₂ = (d̄ − m) / se, p₂ = P(T < t₂);
                            equivalent within ±m when max(p₁, p₂) < α, which is the same as the
                            100·(1 − 2α) % interval d̄ ± t(1 − α, n − 1)·se lying inside (−m, +m)
    superiority (claim 1)   the two-sided 95 % t interval of d̄ entirely below 0 (errors: lower is
                            better), i.e. the one-sided t test of μ < 0 at 2.5 %
    convergence (claim 2)   the area under a run's per-epoch validation-error curve (trapezoids over
                            epochs 1 … E, divided by E − 1: the curve's mean height), paired by seed
    batch size (claim 3b)   per seed (Norm Loss at b − Norm Loss at 64) − (L2 at b − L2 at 64); a seed
                            in which a run never trained is reported apart, never averaged in as 0
    sensitivity (claim 3a)  per seed, the width in decades of the plateau: the contiguous run of
                            alphas around the best whose error is within ``tolerance`` of the best;
                            on nominal alpha or on effective strength (:func:`effective_strength`)

with se = sd_d / √n and T a t variable with n − 1 degrees of freedom. Errors are fractions here.
"""
import dataclasses
import math

from experiments.paired import interval

# A run whose final validation error is at least this never trained (chance is 0.9 on ten classes).
NEVER_TRAINED = 0.85


@dataclasses.dataclass(frozen=True)
class Equivalence:
    """The TOST of paired differences against the margin ±``margin`` at level ``level``."""

    mean: float
    sd: float
    n: int
    margin: float
    level: float
    low: float     # the 100·(1 − 2·level) % interval of the mean
    high: float
    p_value: float  # max(p₁, p₂)

    @property
    def equivalent(self):
        return self.n >= 2 and self.p_value < self.level


def equivalence(differences, margin, level=0.05):
    """:class:`Equivalence` of the finite paired ``differences`` within ±``margin`` (see the module)."""
    from scipy.stats import t

    if not margin > 0:
        raise ValueError(f"equivalence: the margin must be > 0, got {margin!r}")
    values = _finite(differences)
    n = len(values)
    if n < 2:
        return Equivalence(math.nan, math.nan, n, margin, level, math.nan, math.nan, math.nan)
    summary = interval(values)
    standard_error = summary.sd / math.sqrt(n)
    if standard_error == 0:
        inside = -margin < summary.mean < margin
        return Equivalence(summary.mean, 0.0, n, margin, level, summary.mean, summary.mean, 0.0 if inside else 1.0)
    critical = float(t.ppf(1 - level, n - 1))
    p_lower = float(t.sf((summary.mean + margin) / standard_error, n - 1))
    p_upper = float(t.cdf((summary.mean - margin) / standard_error, n - 1))
    return Equivalence(summary.mean, summary.sd, n, margin, level, summary.mean - critical * standard_error,
                       summary.mean + critical * standard_error, max(p_lower, p_upper))


def superiority(differences):
    """(the 95 % :class:`~experiments.paired.Interval` of the paired ``differences``, whether it lies
    entirely below 0: the arm's error is lower)."""
    summary = interval(_finite(differences))
    return summary, summary.n >= 2 and summary.high < 0


def curve_area(errors):
    """The mean height of a per-epoch error curve: trapezoids over epochs 1 … E, divided by E − 1.

    ``errors``: the validation errors after epochs 1 … E (epoch 0 has none). One epoch: that error.
    """
    errors = list(errors)
    if not errors or not all(math.isfinite(error) for error in errors):
        raise ValueError(f"curve_area: expected finite errors for every epoch, got {errors!r}")
    if len(errors) == 1:
        return errors[0]
    return sum((left + right) / 2 for left, right in zip(errors, errors[1:])) / (len(errors) - 1)


def paired_curve_areas(arm_curves, reference_curves):
    """:class:`~experiments.paired.Interval` of area(arm) − area(reference) over the seeds both have;
    ``*_curves``: seed → the validation errors after epochs 1 … E."""
    seeds = sorted(set(arm_curves) & set(reference_curves))
    return interval([curve_area(arm_curves[seed]) - curve_area(reference_curves[seed]) for seed in seeds])


def trained(error):
    """Whether a run with final validation error ``error`` trained (NaN, a divergence: no)."""
    return math.isfinite(error) and error < NEVER_TRAINED


def untrained_seeds(*final_validation_errors):
    """The sorted seeds, among those in every mapping (seed → final validation error), where at least
    one of the runs never trained: the seeds the batch-size analysis sets apart."""
    seeds = set.intersection(*(set(errors) for errors in final_validation_errors))
    return sorted(seed for seed in seeds if not all(trained(errors[seed]) for errors in final_validation_errors))


def batch_interaction(normloss_at_b, normloss_at_64, l2_at_b, l2_at_64, set_apart=()):
    """Interval of (Norm Loss at b − at 64) − (L2 at b − at 64) over the seeds in all four mappings
    (seed → final test error) but not in ``set_apart`` (see untrained_seeds)."""
    seeds = sorted((set(normloss_at_b) & set(normloss_at_64) & set(l2_at_b) & set(l2_at_64)) - set(set_apart))
    return interval([(normloss_at_b[seed] - normloss_at_64[seed]) - (l2_at_b[seed] - l2_at_64[seed])
                     for seed in seeds])


def plateau_width(points, tolerance=0.005):
    """The width in decades of the plateau of one seed's error against alpha (or effective strength).

    ``points``: (x > 0, error) pairs, one per alpha of the grid. The plateau is the contiguous run
    of points, in order of x, around the lowest error whose errors are all within ``tolerance``
    of it; its width is log10(x_last / x_first) (0 when the best point stands alone).
    """
    points = sorted((x, error) for x, error in points if math.isfinite(error))
    if any(x <= 0 for x, _ in points):
        raise ValueError("plateau_width: alpha (or effective strength) must be > 0; leave out 'none'")
    if not points:
        return math.nan
    errors = [error for _, error in points]
    best = errors.index(min(errors))
    threshold = errors[best] + tolerance
    first = last = best
    while first > 0 and errors[first - 1] <= threshold:
        first -= 1
    while last < len(points) - 1 and errors[last + 1] <= threshold:
        last += 1
    return math.log10(points[last][0] / points[first][0])


def plateau_widths(points_by_seed, tolerance=0.005):
    """(seed → plateau width in decades, their :class:`~experiments.paired.Interval` over seeds)."""
    widths = {seed: plateau_width(points, tolerance) for seed, points in sorted(points_by_seed.items())}
    return widths, interval(list(widths.values()))


def effective_strength(shrinkage_per_step, steps):
    """The regularizer's pull over a whole run: its relative shrinkage per step (the record's
    ``shrinkage_per_step``: mean |η̄·g_o| / ‖w_o‖, with 1/(1 − μ) for a coupled form) times the steps.

    For coupled L2 (g = α·w) it is Σ_t η_t·α / (1 − μ), the quantity published weight-decay recipes
    are compared by; for Norm Loss (g = 2α·w(1 − 1/‖w‖)) it counts the pull at the final norms, so
    that both arms sit on one axis whatever their α conventions.
    """
    return shrinkage_per_step * steps


def cosine_mean_learning_rate(peak, steps):
    """The mean of η_t = η₀ (1 + cos(π t / T)) / 2 over the steps t = 0 … T − 1: η₀ (1 + 1/T) / 2
    (the cosines of t and T − t cancel, leaving cos 0 = 1)."""
    return peak * (1 + 1 / steps) / 2


def equilibrium_steps(mean_learning_rate, alpha, momentum):
    """The steps coupled L2 needs to bring a batch-normalized (scale-invariant) layer's weight norm
    to its equilibrium with the gradient's growth: 1 / (2·η̄·α / (1 − μ)), the time constant of
    ‖w‖² under the shrinkage factor (1 − η̄·α/(1 − μ)) per step."""
    return (1 - momentum) / (2 * mean_learning_rate * alpha)


def _finite(values):
    return [value for value in values if value is not None and math.isfinite(value)]

