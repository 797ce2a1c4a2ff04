"""The second study's pre-registered analyses (``experiments/inference.py``) on hand-worked values:
TOST equivalence with a stated margin, paired superiority, the paired area under the per-epoch
validation-error curve, the per-seed batch-size interaction with untrained runs set apart, and the
plateau width in decades with its interval over seeds. The arithmetic is in the comments; the t
quantiles are the tables' (t(0.95, 4) = 2.131847, t(0.975, 3) = 3.182446, t(0.975, 2) = 4.302653).
"""
import math

import pytest

from experiments.inference import (batch_interaction, cosine_mean_learning_rate, curve_area, effective_strength,
                                   equilibrium_steps, equivalence, paired_curve_areas, plateau_width, plateau_widths,
                                   superiority, trained, untrained_seeds)
from experiments.grid import MOMENTUM

T95_4, T975_3, T975_2 = 2.131846786326649, 3.182446305284263, 4.302652729749464
# Five paired differences (points): mean 0.4 / 5 = 0.08; deviations 0.02, −0.28, 0.22, −0.08, 0.12,
# squares 0.0004 + 0.0784 + 0.0484 + 0.0064 + 0.0144 = 0.148, sd = √(0.148 / 4) = 0.192354,
# se = 0.192354 / √5 = 0.086023.
DIFFERENCES = [0.1, -0.2, 0.3, 0.0, 0.2]
SE = math.sqrt(0.148 / 4) / math.sqrt(5)


def test_tost_is_equivalent_when_the_90_percent_interval_lies_inside_the_margin():
    result = equivalence(DIFFERENCES, margin=0.4)
    assert (result.mean, result.n) == (pytest.approx(0.08), 5)
    assert result.sd == pytest.approx(math.sqrt(0.148 / 4))
    # 90 % interval: 0.08 ± 2.131847 · 0.086023 = 0.08 ± 0.183388 = [−0.103388, +0.263388], inside ±0.4.
    assert result.low == pytest.approx(0.08 - T95_4 * SE) and result.low == pytest.approx(-0.103388, abs=1e-6)
    assert result.high == pytest.approx(0.263388, abs=1e-6)
    # t₁ = (0.08 + 0.4) / 0.086023 = 5.5799, p₁ = P(T₄ > 5.5799) = 0.00253;
    # t₂ = (0.08 − 0.4) / 0.086023 = −3.7199, p₂ = P(T₄ < −3.7199) = 0.01024; p = max = 0.01024 < 0.05.
    assert result.p_value == pytest.approx(0.010238, abs=1e-5)
    assert result.equivalent


def test_tost_is_not_equivalent_when_the_interval_crosses_the_margin():
    # Margin 0.2: the 90 % interval's upper end 0.263 > 0.2; t₂ = (0.08 − 0.2) / 0.086023 = −1.395,
    # p₂ = P(T₄ < −1.395) = 0.1177 > 0.05.
    result = equivalence(DIFFERENCES, margin=0.2)
    assert result.p_value == pytest.approx(0.117748, abs=1e-5)
    assert not result.equivalent
    # Too few seeds decide nothing; a margin must be stated and positive.
    assert not equivalence([0.1], margin=0.4).equivalent
    with pytest.raises(ValueError, match="margin must be > 0"):
        equivalence(DIFFERENCES, margin=0)


def test_superiority_needs_the_whole_95_percent_interval_below_zero():
    # −0.6, −0.4, −0.9, −0.5: mean −0.6; deviations 0, 0.2, −0.3, 0.1; squares sum 0.14, sd = √(0.14 / 3)
    # = 0.216025, se = 0.108012; interval −0.6 ± 3.182446 · 0.108012 = [−0.943743, −0.256257]: below 0.
    summary, superior = superiority([-0.6, -0.4, -0.9, -0.5])
    assert summary.low == pytest.approx(-0.943743, abs=1e-6) and summary.high == pytest.approx(-0.256257, abs=1e-6)
    assert superior
    # The five differences above: mean +0.08, the interval contains 0: not superior.
    assert not superiority(DIFFERENCES)[1]


def test_the_area_under_the_curve_is_the_mean_height_of_its_trapezoids():
    # Epochs 1-4 at 0.5, 0.3, 0.2, 0.2: (0.5 + 0.3) / 2 + (0.3 + 0.2) / 2 + (0.2 + 0.2) / 2 = 0.85, over
    # 3 epoch intervals: 0.283333.
    assert curve_area([0.5, 0.3, 0.2, 0.2]) == pytest.approx(0.85 / 3)
    assert curve_area([0.25]) == 0.25
    with pytest.raises(ValueError, match="finite errors for every epoch"):
        curve_area([0.5, math.nan])


def test_paired_curve_areas_compare_seed_by_seed():
    # Seed 0: arm [0.4, 0.2, 0.2] → (0.3 + 0.2) / 2 = 0.25; reference [0.5, 0.3, 0.2] → (0.4 + 0.25) / 2
    # = 0.325; difference −0.075. Seed 1: arm [0.3, 0.3, 0.1] → (0.3 + 0.2) / 2 = 0.25; reference
    # [0.5, 0.2, 0.2] → (0.35 + 0.2) / 2 = 0.275; difference −0.025. Mean −0.05; sd = √((0.025² · 2) / 1)
    # = 0.035355; the interval −0.05 ± 12.706205 · 0.035355 / √2 = −0.05 ± 0.317655. Seed 2 has no reference.
    result = paired_curve_areas({0: [0.4, 0.2, 0.2], 1: [0.3, 0.3, 0.1], 2: [0.9, 0.9, 0.9]},
                                {0: [0.5, 0.3, 0.2], 1: [0.5, 0.2, 0.2]})
    assert (result.n, result.mean) == (2, pytest.approx(-0.05))
    assert result.high == pytest.approx(-0.05 + 0.317655, abs=1e-5)


def test_the_batch_interaction_is_per_seed_and_sets_untrained_runs_apart():
    normloss_at_b = {0: 0.12, 1: 0.13, 2: 0.90, 3: 0.11}
    normloss_at_64 = {0: 0.10, 1: 0.11, 2: 0.10, 3: 0.10}
    l2_at_b = {0: 0.13, 1: 0.12, 2: 0.12, 3: 0.12}
    l2_at_64 = {0: 0.10, 1: 0.10, 2: 0.11, 3: 0.10, 4: 0.10}
    # Whether a run trained is read from its validation error: seed 2's Norm Loss run at b sits at
    # chance there (0.90 >= 0.85) and is set apart, not averaged in as a zero; seed 4 is not in all four.
    validation = [{0: 0.1, 1: 0.1, 2: 0.90, 3: 0.1}, normloss_at_64, l2_at_b, l2_at_64]
    never_trained = untrained_seeds(*validation)
    assert never_trained == [2]
    result = batch_interaction(normloss_at_b, normloss_at_64, l2_at_b, l2_at_64, set_apart=never_trained)
    # Seed 0: (0.12 − 0.10) − (0.13 − 0.10) = −0.01; seed 1: 0.02 − 0.02 = 0; seed 3: 0.01 − 0.02 = −0.01.
    # Mean −0.006667; deviations −0.003333, 0.006667, −0.003333; squares 6.6667e-5 / 2 → sd 0.005774;
    # interval −0.006667 ± 4.302653 · 0.005774 / √3 = −0.006667 ± 0.014343.
    assert result.n == 3 and result.mean == pytest.approx(-0.02 / 3)
    assert result.sd == pytest.approx(0.005774, abs=1e-6)
    assert result.high - result.mean == pytest.approx(T975_2 * 0.0057735 / math.sqrt(3), abs=1e-6)
    assert not trained(math.nan) and not trained(0.85) and trained(0.849)


HALF_DECADES = [1e-4, 10 ** -3.5, 1e-3, 10 ** -2.5, 1e-2]


def test_the_plateau_is_the_contiguous_run_within_the_tolerance_of_the_best():
    # Best 0.110 at 1e-3; within 0.005 (<= 0.115): 10^-3.5 (0.114) and 10^-2.5 (0.113), not 1e-4 (0.120)
    # or 1e-2 (0.130): the plateau runs from 10^-3.5 to 10^-2.5, log10(10^-2.5 / 10^-3.5) = 1 decade.
    assert plateau_width(zip(HALF_DECADES, [0.120, 0.114, 0.110, 0.113, 0.130])) == pytest.approx(1.0)
    # 1e-4 (0.112) and 1e-2 (0.113) are within the tolerance too, but cut off by 0.120 and 0.125: 0 decades.
    assert plateau_width(zip(HALF_DECADES, [0.112, 0.120, 0.110, 0.125, 0.113])) == 0.0
    # Everything within 0.005 of 0.110: the whole grid, 10^-4 to 10^-2, 2 decades.
    assert plateau_width(zip(HALF_DECADES, [0.114, 0.111, 0.110, 0.112, 0.115])) == pytest.approx(2.0)
    with pytest.raises(ValueError, match="leave out 'none'"):
        plateau_width([(0.0, 0.1), (1e-3, 0.1)])


def test_plateau_widths_over_seeds_have_a_t_interval():
    # Widths 1.0, 0.0 and 2.0 decades (the three curves above): mean 1.0, sd 1.0,
    # interval 1 ± 4.302653 / √3 = [−1.484138, 3.484138].
    widths, summary = plateau_widths({7: list(zip(HALF_DECADES, [0.120, 0.114, 0.110, 0.113, 0.130])),
                                      8: list(zip(HALF_DECADES, [0.112, 0.120, 0.110, 0.125, 0.113])),
                                      9: list(zip(HALF_DECADES, [0.114, 0.111, 0.110, 0.112, 0.115]))})
    assert widths == {7: pytest.approx(1.0), 8: 0.0, 9: pytest.approx(2.0)}
    assert (summary.mean, summary.sd) == (pytest.approx(1.0), pytest.approx(1.0))
    assert summary.low == pytest.approx(1 - T975_2 / math.sqrt(3))


def test_effective_strength_of_coupled_l2_is_the_sum_of_learning_rate_times_alpha_over_one_minus_momentum():
    # Coupled L2 shrinks every unit by η̄·α / (1 − μ) per step (its record's shrinkage_per_step); over
    # 6280 steps at mean learning rate 0.025 and α = 10^-2.5: 6280 · 0.025 · 0.0031623 / 0.1 = 4.965.
    alpha, mean_rate, steps = 10 ** -2.5, 0.025, 6280
    assert effective_strength(mean_rate * alpha / (1 - MOMENTUM), steps) == pytest.approx(4.9648, abs=1e-4)


def test_the_mean_of_the_cosine_schedule_and_the_steps_to_weight_decays_equilibrium():
    # T = 4: η₀/2 · (1 + cos 0) + (1 + cos π/4) + (1 + cos π/2) + (1 + cos 3π/4)) / 4
    #      = η₀/2 · (4 + 1 + 0.7071 + 0 − 0.7071) / 4 = η₀/2 · 1.25
    assert cosine_mean_learning_rate(0.05, 4) == pytest.approx(0.05 / 2 * 1.25)
    assert cosine_mean_learning_rate(0.05, 4) == pytest.approx(
        sum(0.05 * (1 + math.cos(math.pi * t / 4)) / 2 for t in range(4)) / 4)
    # η̄ = 0.025, α = 1e-3, μ = 0.9: shrinkage 0.025 · 1e-3 / 0.1 = 2.5e-4 per step; ‖w‖² shrinks at
    # twice that, so its time constant is 1 / 5e-4 = 2000 steps.
    assert equilibrium_steps(0.025, 1e-3, 0.9) == pytest.approx(2000)


def test_a_seed_is_set_apart_by_its_validation_error_not_its_test_error():
    # The pre-registered rule reads "never trained" from the final validation error: a test error at
    # chance beside a validation error that trained keeps the seed, and the other way round sets it apart.
    trained_everywhere = {0: 0.12, 1: 0.12}
    assert untrained_seeds(trained_everywhere, {0: 0.12, 1: 0.12}) == []
    assert untrained_seeds(trained_everywhere, {0: 0.86, 1: 0.12}) == [0]
    assert untrained_seeds({0: math.nan, 1: 0.12}, trained_everywhere) == [0]
