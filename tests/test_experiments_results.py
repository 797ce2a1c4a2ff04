"""The study's aggregation, selection and statistics on small hand-made result tables: the one
alpha rule (validation error on the selection seeds, never the test set), paired differences
with t intervals, load windows in the timing, and each claim's section of ``summary.md``.

Errors are fractions in the rows and percent in the tables; the arithmetic is in the comments.
"""
import math

import pytest

from experiments import summary
from experiments.grid import Settings, selection_specs
from experiments.paired import holm, interval, paired_difference, seeds_to_resolve
from experiments.results import Results, best_alpha, epochs_to, mean_std, result_rows, select
from experiments.runner import chosen_alphas
from experiments.storage import store_record
from experiments.timing import load_windows
from tests.test_experiments_grid import made_up_record

SETTINGS = Settings(selection_seeds=(100, 101), confirmation_seeds=(0, 1, 2), mnist_seeds=(0, 1, 2),
                    batch_seeds=(0, 1), allconv_seeds=(0,), epochs=2, train_size=640, batch_size=64,
                    arms=("none", "l1", "l2", "normloss", "normloss_coupled"), alphas=(1e-4, 1e-3),
                    batch_sizes=(128,), allconv_epochs=1, allconv_train_size=640)
# t quantiles with 2 degrees of freedom: t(0.975, 2) and t(0.80, 2).
T975_2, T80_2 = 4.302652729749464, 1.0606601717798212


def row(arm, alpha, seed, epoch=2, validation=0.1, test=0.1, dataset="fashion-mnist", model="lenet",
        batch_size=64, epochs=2, data_loss=0.5):
    """One result row, as results.csv holds it."""
    regularizer = arm.replace("_coupled", "")
    return {"dataset": dataset, "model": model, "arm": arm, "regularizer": regularizer,
            "coupled": int(arm.endswith("_coupled")), "alpha": alpha, "batch_size": batch_size,
            "learning_rate": 0.05, "schedule": "cosine", "seed": seed, "initializer": "he", "epochs": epochs,
            "train_size": 640, "epoch": epoch, "data_loss": data_loss, "penalty": 0.01,
            "validation_error": validation, "test_error": test, "weight_norm_mean": 1.0, "weight_norm_std": 0.1,
            "unit_norm_layer1": 1.0, "unit_norm_layer2": 1.1, "unit_norm_layer3": 1.2, "unit_norm_layer4": 1.3,
            "unit_norm_layer5": 1.4, "shrinkage_per_step": 1e-4, "seconds_per_step": 0.01, "diverged": 0,
            "run_id": f"{dataset}_{model}_{arm}_{alpha}_{batch_size}_{seed}"}


# -- the rule ------------------------------------------------------------------------------

def test_best_alpha_takes_the_lowest_mean_validation_error_over_seeds():
    # 1e-4: (0.10 + 0.14) / 2 = 0.120;  1e-3: (0.11 + 0.12) / 2 = 0.115 → 1e-3, although 1e-4 has the best seed.
    assert best_alpha({1e-4: [0.10, 0.14], 1e-3: [0.11, 0.12]}) == 1e-3


def test_best_alpha_breaks_ties_towards_the_smaller_alpha():
    assert best_alpha({1e-2: [0.2, 0.1], 1e-3: [0.1, 0.2], 1e-1: [0.3]}) == 1e-3


def test_best_alpha_ignores_missing_errors_and_alphas_without_any():
    # 1e-3 has no finite error (a NaN from an unfinished evaluation): no candidate;
    # 1e-2's mean is 0.3 over its one finite value.
    assert best_alpha({1e-3: [math.nan], 1e-2: [math.nan, 0.3], 1e-1: [0.35]}) == 1e-2
    assert best_alpha({1e-3: [math.nan]}) is None
    assert best_alpha({}) is None


def test_mean_std_uses_the_sample_deviation_of_the_finite_values():
    mean, std, count = mean_std([0.1, 0.3, math.nan, None])
    # mean 0.2; sample std = sqrt((0.1² + 0.1²) / 1) = 0.1414
    assert (mean, count) == (pytest.approx(0.2), 2)
    assert std == pytest.approx(math.sqrt(0.02))
    assert mean_std([0.25]) == (0.25, 0.0, 1)
    nan_mean, nan_std, none = mean_std([math.nan])
    assert math.isnan(nan_mean) and math.isnan(nan_std) and none == 0


def test_epochs_to_is_the_first_epoch_at_or_below_the_threshold():
    curve = [(1, 0.30), (2, 0.20), (3, 0.25), (4, 0.15)]
    assert epochs_to(curve, 0.20) == 2
    assert epochs_to(curve, 0.16) == 4
    assert epochs_to(curve, 0.10) is None


def test_select_matches_every_condition_and_the_seeds():
    rows = [row("l2", 1e-3, 0), row("l2", 1e-3, 1), row("l2", 1e-4, 0)]
    assert select(rows, alpha=1e-3, seed=1) == [rows[1]]
    assert select(rows, seeds=(0,), arm="l2") == [rows[0], rows[2]]


# -- records to rows -----------------------------------------------------------------------

def record(spec, rows, failed=False, shrinkage=2e-4):
    return {"spec": spec, "run_id": f"run_{spec['regularizer']}_{spec['alpha']}_{spec['seed']}",
            "diverged": False, "failed": failed, "rows": rows, "trajectory": [], "shrinkage_per_step": shrinkage}


def test_result_rows_flatten_records_layer_norms_and_the_arm_and_turn_nulls_into_nan():
    spec = {"experiment": "confirmation", "dataset": "mnist", "model": "lenet", "regularizer": "normloss",
            "alpha": 1e-3, "batch_size": 64, "seed": 0, "initializer": "he", "epochs": 1, "train_size": 640,
            "learning_rate": 0.05, "coupled": True, "schedule": "cosine", "eval_size": None, "trajectory_every": 25}
    rows = result_rows([
        record(spec, [{"epoch": 0, "data_loss": None, "penalty": 0.3, "test_error": None,
                       "layer_norm_means": [1.4, 1.3, 1.2, 1.1, 1.0]},
                      {"epoch": 1, "data_loss": 0.4, "penalty": 0.2, "test_error": 0.2,
                       "layer_norm_means": [1.0, 1.0, 1.0, 1.0, 0.9]}]),
        record({**spec, "seed": 1}, [], failed=True)])
    assert len(rows) == 2                     # the failed run has no rows
    assert rows[0]["arm"] == "normloss_coupled" and rows[0]["coupled"] == 1 and "experiment" not in rows[0]
    assert math.isnan(rows[0]["data_loss"]) and rows[1]["test_error"] == 0.2 and rows[1]["penalty"] == 0.2
    assert (rows[0]["unit_norm_layer1"], rows[1]["unit_norm_layer5"]) == (1.4, 0.9)
    assert "layer_norm_means" not in rows[0] and rows[1]["shrinkage_per_step"] == 2e-4


# -- selection -----------------------------------------------------------------------------

def table_rows():
    """Selection seeds 100, 101: L2 best at 1e-4, Norm Loss best at 1e-3 on validation, while the
    test errors point the other way; confirmation seeds 0-2 at (other) alphas whose validation
    errors are lower still; another batch size; MNIST."""
    return [
        # epoch 1 rows are not final: their (very low) validation errors must not count.
        row("l2", 1e-3, 100, epoch=1, validation=0.01), row("normloss", 1e-4, 100, epoch=1, validation=0.01),
        row("none", 0.0, 100, validation=0.20, test=0.21), row("none", 0.0, 101, validation=0.22, test=0.23),
        row("l1", 1e-3, 100, validation=0.19, test=0.20), row("l1", 1e-3, 101, validation=0.19, test=0.20),
        row("l2", 1e-4, 100, validation=0.10, test=0.30), row("l2", 1e-4, 101, validation=0.12, test=0.30),
        row("l2", 1e-3, 100, validation=0.11, test=0.01), row("l2", 1e-3, 101, validation=0.12, test=0.01),
        row("normloss", 1e-4, 100, validation=0.15, test=0.01), row("normloss", 1e-4, 101, validation=0.15,
                                                                    test=0.01),
        row("normloss", 1e-3, 100, validation=0.10, test=0.30), row("normloss", 1e-3, 101, validation=0.14,
                                                                    test=0.30),
        # Not selection runs: confirmation seeds, another batch size, another dataset.
        row("l2", 1e-3, 0, validation=0.01, test=0.01), row("normloss", 1e-4, 1, validation=0.01, test=0.01),
        row("l2", 1e-3, 100, batch_size=128, validation=0.001, test=0.30),
        row("l2", 1e-3, 100, dataset="mnist", validation=0.001, test=0.01),
    ]


def test_the_alpha_is_chosen_on_validation_error_of_the_selection_seeds_never_on_test_error():
    results = Results(table_rows(), SETTINGS)
    # L2: 1e-4 → (0.10 + 0.12) / 2 = 0.110, 1e-3 → (0.11 + 0.12) / 2 = 0.115 → 1e-4, though its
    # test error (0.30) is the worse one. Norm Loss: 1e-4 → 0.150, 1e-3 → 0.120 → 1e-3, likewise.
    # The confirmation-seed, batch-128 and MNIST rows at 0.01 and below take no part.
    assert results.chosen_alphas() == {"none": 0.0, "l1": 1e-3, "l2": 1e-4, "normloss": 1e-3}


def test_an_arm_without_selection_runs_gets_no_alpha():
    results = Results([entry for entry in table_rows() if entry["arm"] != "l1"], SETTINGS)
    assert "l1" not in results.chosen_alphas() and "normloss_coupled" not in results.chosen_alphas()


def stored_selection_records(output_dir, validation_by_alpha):
    """Store one run record per selection spec of SETTINGS, with hand-made final errors: the given
    validation error, and a test error that would choose the other alpha."""
    for spec in selection_specs(SETTINGS):
        error = validation_by_alpha.get((spec.arm, spec.alpha, spec.seed), 0.5)
        made_up = made_up_record(spec, error)
        for entry in made_up["rows"][1:]:
            entry["test_error"] = 1 - error
        store_record(output_dir, made_up)


def test_the_runner_chooses_with_the_same_rule_from_the_selection_runs_on_disk(tmp_path):
    stored_selection_records(tmp_path, {("l2", 1e-4, 100): 0.10, ("l2", 1e-4, 101): 0.30,     # mean 0.20
                                        ("l2", 1e-3, 100): 0.25, ("l2", 1e-3, 101): 0.25,     # mean 0.25
                                        ("normloss", 1e-4, 100): 0.2, ("normloss", 1e-4, 101): 0.2,
                                        ("normloss", 1e-3, 100): 0.2, ("normloss", 1e-3, 101): 0.2,  # tie → 1e-4
                                        ("normloss_coupled", 1e-3, 100): 0.1})  # (0.1 + 0.5) / 2 < 0.5 → 1e-3
    assert chosen_alphas(tmp_path, SETTINGS) == {"none": 0.0, "l1": 1e-4, "l2": 1e-4, "normloss": 1e-4,
                                                 "normloss_coupled": 1e-3}


# -- statistics ----------------------------------------------------------------------------

def test_interval_is_the_t_interval_of_the_mean_with_the_sample_deviation():
    result = interval([1.0, 2.0, 3.0, math.nan])
    # mean 2, sd 1, n 3: 2 ± t(0.975, 2) / √3
    assert (result.mean, result.sd, result.n) == (pytest.approx(2.0), pytest.approx(1.0), 3)
    assert result.low == pytest.approx(2 - T975_2 / math.sqrt(3))
    assert result.high == pytest.approx(2 + T975_2 / math.sqrt(3))
    assert result.half_width == pytest.approx(T975_2 / math.sqrt(3))
    # the smallest effect detected with 80 % power: (t(0.975, 2) + t(0.80, 2)) · sd / √n
    assert result.resolvable == pytest.approx((T975_2 + T80_2) / math.sqrt(3))
    assert result.excludes_zero is False
    single = interval([0.4])
    assert single.mean == 0.4 and single.n == 1 and math.isnan(single.low) and math.isnan(single.resolvable)
    assert interval([]).n == 0


def test_paired_difference_takes_the_seeds_both_arms_have_seed_by_seed():
    arm = {0: 0.100, 1: 0.110, 2: 0.115, 3: 0.50, 4: math.nan}
    reference = {0: 0.120, 1: 0.140, 2: 0.140, 4: 0.20, 5: 0.30}
    difference = paired_difference(arm, reference)
    # seeds 0, 1, 2 only: differences −0.020, −0.030, −0.025: mean −0.025, sd 0.005;
    # upper end −0.025 + 4.303 · 0.005 / √3 = −0.0126 < 0: resolved.
    assert difference.n == 3
    assert difference.mean == pytest.approx(-0.025) and difference.sd == pytest.approx(0.005)
    assert difference.high == pytest.approx(-0.025 + T975_2 * 0.005 / math.sqrt(3))
    assert difference.excludes_zero
    # The unpaired spread (arm 0.100 … 0.115, reference 0.12 … 0.14) would not matter: only the differences do.
    assert paired_difference(reference, arm).mean == pytest.approx(0.025)


def test_holm_multiplies_the_ranked_p_values_and_keeps_them_monotone():
    # ranked 0.01, 0.02, 0.04 of m = 3: 3 · 0.01 = 0.03, 2 · 0.02 = 0.04, 1 · 0.04 = 0.04
    assert holm([0.04, 0.01, 0.02]) == pytest.approx([0.04, 0.03, 0.04])
    # 0.02 · 2 = 0.04 would fall below the first's 0.045: kept at 0.045; capped at 1
    assert holm([0.015, 0.02, 0.9]) == pytest.approx([0.045, 0.045, 0.9])
    assert holm([0.6, 0.7]) == pytest.approx([1.0, 1.0])
    assert holm([]) == []


def test_the_p_value_is_the_two_sided_paired_t_test():
    from scipy.stats import ttest_1samp

    values = [0.3, -0.1, 0.5, 0.2]
    assert interval(values).p_value == pytest.approx(ttest_1samp(values, 0.0).pvalue)
    assert math.isnan(interval([0.1]).p_value)


def test_seeds_to_resolve_is_the_fewest_seeds_whose_resolvable_effect_reaches_the_target():
    # sd 1, effect 1: n = 10 gives (2.262 + 0.883) / √10 = 0.995 ≤ 1; n = 9 gives (2.306 + 0.889) / 3 = 1.065.
    assert seeds_to_resolve(1.0, 1.0) == 10
    assert seeds_to_resolve(1.0, 100.0) == 2
    assert seeds_to_resolve(0.5, 0.4) > seeds_to_resolve(0.3, 0.4)


# -- load windows --------------------------------------------------------------------------

def test_load_windows_are_rounds_that_lost_the_core_or_ran_off_the_median():
    rounds = [{"wall": 1.00, "cpu": 0.99}, {"wall": 1.02, "cpu": 1.01}, {"wall": 0.98, "cpu": 0.97},
              {"wall": 1.30, "cpu": 1.29},    # 27 % slower than the median (1.02): a load window
              {"wall": 1.01, "cpu": 0.80}]    # the process ran 79 % of the time: another process had the core
    assert load_windows(rounds) == [3, 4]
    assert load_windows([]) == []


# -- summary.md, claim by claim ---------------------------------------------------------------

def confirmation_rows():
    """Confirmation seeds 0, 1, 2 at the alphas table_rows() chooses (L2 1e-4, Norm Loss 1e-3)."""
    rows = table_rows()
    for seed, (none, l2, normloss) in enumerate([(0.20, 0.12, 0.10), (0.22, 0.13, 0.12), (0.21, 0.14, 0.11)]):
        rows += [row("none", 0.0, seed, test=none, epoch=1, data_loss=0.9), row("none", 0.0, seed, test=none),
                 row("l2", 1e-4, seed, test=l2, epoch=1, data_loss=0.8), row("l2", 1e-4, seed, test=l2),
                 row("normloss", 1e-3, seed, test=normloss + 0.05, epoch=1, data_loss=0.7),
                 row("normloss", 1e-3, seed, test=normloss)]
    return rows


def test_claim_accuracy_reports_each_arm_and_the_paired_differences_with_their_intervals():
    text = "\n".join(summary.claim_accuracy(Results(confirmation_rows(), SETTINGS)))
    # Norm Loss test (0.10, 0.12, 0.11) → 11.00 ± 1.00; validation 0.1 on every row.
    assert "| Norm Loss | 0.001 | 10.00 ± 0.00 | 11.00 ± 1.00 | 3 |" in text
    # Norm Loss − L2 per seed: −0.02, −0.01, −0.03 → mean −2.00 points, sd 1.00,
    # CI −2 ± 4.303 · 1 / √3 = −2 ± 2.48 → [−4.48, +0.48]: not resolved.
    half = T975_2 / math.sqrt(3)
    # t = 2 / (1 / √3) = 3.464 with 2 degrees of freedom: p = 0.0742.
    assert (f"| Norm Loss − L2 | 3 | -2.00 [{-2 - half:+.2f}, {-2 + half:+.2f}] | 1.00 | {half:.2f} | "
            f"{(T975_2 + T80_2) / math.sqrt(3):.2f} | 0.074 | 0.074 | not resolved |") in text
    # Holm over the table's three differences: p 0, 0.005 (L2 − none: −0.08, −0.09, −0.07) and 0.074
    # become 3 · 0, 2 · 0.005 and 1 · 0.074.
    assert "| L2 − none | 3 | -8.00 [-10.48, -5.52] | 1.00 | 2.48 | 3.10 | 0.005 | 0.010 | resolved: lower |" in text
    # Norm Loss − none: −0.10, −0.10, −0.10 … sd 0 → resolved, lower, p 0 before and after Holm.
    assert "| Norm Loss − none | 3 | -10.00 [-10.00, -10.00] | 0.00 | 0.00 | 0.00 | 0.000 | 0.000 | resolved: lower |" \
        in text


def test_claim_convergence_gives_intervals_per_epoch_and_epochs_to_the_worst_final_error():
    text = "\n".join(summary.claim_convergence(Results(confirmation_rows(), SETTINGS)))
    # none's data loss is 0.9 after epoch 1 on every seed: no spread.
    assert "| none | 0.9000 ± 0.0000 | 0.5000 ± 0.0000 |" in text
    # The worst final mean test error is none's 21 %: none reaches it at epoch 1 on seeds 0 and 2
    # (0.20, 0.21) and never on seed 1 (0.22 at both epochs); Norm Loss at epoch 1 on every seed.
    assert "Epochs to reach 21.00 % test error" in text
    assert "| none | 1.00 | 1 | 3 |" in text and "| Norm Loss | 1.00 | 0 | 3 |" in text


def test_claim_sensitivity_pairs_the_arms_at_each_batch_size():
    rows = confirmation_rows() + [row("l2", 1e-4, 0, batch_size=128, test=0.20),
                                  row("l2", 1e-4, 1, batch_size=128, test=0.22),
                                  row("normloss", 1e-3, 0, batch_size=128, test=0.18),
                                  row("normloss", 1e-3, 1, batch_size=128, test=0.21)]
    text = "\n".join(summary.claim_sensitivity(Results(rows, SETTINGS)))
    # Batch 128: peak learning rate 0.05 · 128 / 64 = 0.1.
    assert "| 128 | 0.1 | Norm Loss | 0.001 | 19.50 ± 2.12 | 2 |" in text
    # Norm Loss − L2 at 128: −0.02, −0.01 → −1.50 points, CI −1.5 ± 12.706 · 0.707 / √2 = ± 6.35.
    assert "| 128 | Norm Loss − L2 | 2 | -1.50 [-7.85, +4.85] |" in text


def test_claim_cost_reports_the_ratio_the_share_and_the_excluded_rounds():
    common = {"model": "lenet", "batch_size": 64, "rounds": 15, "excluded_rounds": 2, "steps_per_round": 5}
    timing = [{**common, "regularizer": "none", "median_seconds_per_step": 0.004, "ratio_to_none": 1.0,
               "regularizer_seconds_per_step": 0.0, "regularizer_share_of_step": 0.0},
              {**common, "regularizer": "normloss", "median_seconds_per_step": 0.0041, "ratio_to_none": 1.025,
               "regularizer_seconds_per_step": 1e-4, "regularizer_share_of_step": 1e-4 / 0.0041}]
    text = "\n".join(summary.claim_cost(timing))
    # 0.1 ms of 4.1 ms = 2.44 %.
    assert "| Norm Loss | 4.10 | 1.025 | 100 | 2.44 |" in text
    assert "15 rounds of 5 steps, 2 excluded as load windows" in text
    assert summary.claim_cost([]) == []


def test_the_paper_setting_is_costed_from_the_measured_speed():
    timing = [{"model": "allconv", "regularizer": "none", "batch_size": 64, "median_seconds_per_step": 0.0192}]
    text = "\n".join(summary.paper_setting_section(timing))
    # 2 · 3 · 1 934 912 multiply-adds · 64 images / 0.0192 s = 38.7 GFLOP/s.
    assert "allconv 38.7 GFLOP/s" in text
    # WRN-28-10: 6 · 5.25e9 · 50 000 · 200 = 3.15e17 FLOP; / 38.7e9 / 86 400 = 94 days.
    assert "| WRN-28-10 | 5.25 | 3.15e+17 | 94 |" in text
    assert summary.paper_setting_section([]) == []


def test_the_selection_section_marks_the_chosen_alpha_and_the_width_of_the_good_range():
    text = "\n".join(summary.selection_section(Results(table_rows(), SETTINGS)))
    # L2 validation 11.00 at 1e-4 (chosen), 11.50 at 1e-3; Norm Loss 15.00 and 12.00 (chosen).
    assert "| 0.0001 | 19.00 | 11.00 ← | 15.00 |" not in text  # L1 has no 1e-4 run: an empty cell
    assert "| 0.0001 |  | 11.00 ← | 15.00 |" in text
    assert "| 0.001 | 19.00 ← | 11.50 | 12.00 ← |" in text
    # Counted over the alphas every arm has (L1 has only 1e-3), so that no arm gets more chances:
    # L2's 11.50 at 1e-3 is within 0.5 points of its best 11.00, but its chosen 1e-4 is not among
    # them, so it has no plateau there; Norm Loss's 12.00 at 1e-3 is its best, a plateau of one alpha.
    assert "over the 1 alphas every arm has" in text
    assert "| L2 | 0.0001 | 11.00 | 1 | — | — | 11.50 |" in text
    assert "| Norm Loss | 0.001 | 12.00 | 1 | 0.001 … 0.001 | 0.0 | 12.00 |" in text


def test_the_plateau_counts_every_arm_over_the_same_alphas_and_only_the_contiguous_run():
    # Norm Loss has two alphas more (10, 100), L2 does not: they are not counted. Over 1e-4 … 1e-2:
    # L2 11.0, 11.2, 12.0 → best 11.0 at 1e-4, 1e-3 within 0.5 (11.2), 1e-2 not: plateau 1e-4 … 1e-3, 1 decade.
    # Norm Loss 11.3, 12.0, 11.0 (+ 11.1 at 10, 11.2 at 100) → best 11.0 at 1e-2; 1e-4 (11.3) is within 0.5
    # points but cut off by 1e-3 (12.0): 1 alpha within besides the best, a plateau of 0 decades.
    errors = {"l2": {1e-4: 0.110, 1e-3: 0.112, 1e-2: 0.120},
              "normloss": {1e-4: 0.113, 1e-3: 0.120, 1e-2: 0.110, 10.0: 0.111, 100.0: 0.112}}
    rows = [row(arm, alpha, seed, validation=error) for arm, by_alpha in errors.items()
            for alpha, error in by_alpha.items() for seed in (100, 101)]
    rows += [row("none", 0.0, seed) for seed in (100, 101)]
    settings = Settings(selection_seeds=(100, 101), epochs=2, train_size=640, arms=("none", "l2", "normloss"),
                        alphas=(1e-4, 1e-3, 1e-2), norm_loss_further=(10.0, 100.0))
    text = "\n".join(summary.selection_section(Results(rows, settings)))
    assert "| L2 | 0.0001 | 11.00 | 2 | 0.0001 … 0.001 | 1.0 | 12.00 |" in text
    assert "| Norm Loss | 0.01 | 11.00 | 2 | 0.01 … 0.01 | 0.0 | 12.00 |" in text


def test_the_summary_lists_failed_runs_and_leaves_out_empty_claims():
    failed = [{"run_id": "mnist_lenet_l2_a-1", "executed_on": "worker tcp://10.0.0.2:4000 on host b",
               "error": "ValueError: alpha must be a number >= 0,\ngot -1 | oops"}]
    text = summary.summary_markdown(Results([], SETTINGS), [], failed)
    assert "## 1." not in text and "## 2." not in text and "## 4." not in text
    assert "## Failed runs" in text
    assert ("| mnist_lenet_l2_a-1 | worker tcp://10.0.0.2:4000 on host b | "
            "ValueError: alpha must be a number >= 0, got -1 \\| oops |") in text


def test_the_allconv_network_chooses_its_own_alphas_on_its_own_selection_seeds():
    settings = Settings(selection_seeds=(100,), arms=("none", "l2"), alphas=(1e-4, 1e-3), epochs=2, train_size=640,
                        allconv_arms=("none", "l2"), allconv_alphas=(1e-4, 1e-3), allconv_selection_seeds=(7, 8),
                        allconv_epochs=2, allconv_train_size=640)
    # LeNet prefers 1e-3 (10 % against 12 %); the all-conv network 1e-4 (mean 11 % against 11.5 %), and
    # its seed-0 runs (not selection seeds) would choose 1e-3 but do not count.
    rows = [row("l2", 1e-4, 100, validation=0.12), row("l2", 1e-3, 100, validation=0.10), row("none", 0.0, 100)]
    rows += [row(arm, alpha, seed, model="allconv", validation=error) for arm, alpha, seed, error in (
        ("none", 0.0, 7, 0.2), ("l2", 1e-4, 7, 0.10), ("l2", 1e-4, 8, 0.12), ("l2", 1e-3, 7, 0.11),
        ("l2", 1e-3, 8, 0.12), ("l2", 1e-3, 0, 0.01))]
    results = Results(rows, settings)
    assert results.chosen_alphas() == {"none": 0.0, "l2": 1e-3}
    assert results.chosen_alphas("allconv") == {"none": 0.0, "l2": 1e-4}
    assert results.every_chosen_alpha() == {"none": 0.0, "l2": 1e-3, "allconv:none": 0.0, "allconv:l2": 1e-4}
