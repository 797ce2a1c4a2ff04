"""The study's aggregation and selection on small hand-made result tables: the one best-alpha
rule, the grouping of ``Results``, and each claim's section of ``summary.md``.

Errors are fractions in the rows and percent in the tables; the arithmetic is in the comments.
"""
import math

import pytest

from experiments.grid import Settings, main_specs
from experiments.results import Results, best_alpha, epochs_to, mean_std, result_rows, select
from experiments.runner import chosen_alphas
from experiments.storage import store_record
from experiments import summary

SETTINGS = Settings(seeds=(0, 1), epochs=2, batch_size=64, alphas={"l1": (1e-3,), "l2": (1e-4, 1e-3),
                                                                   "normloss": (1e-4, 1e-3)},
                    batch_sizes=(64, 128), allconv_epochs=1, allconv_batch_size=32, norm_alpha=1e-3)


def row(regularizer, alpha, seed, epoch=2, validation=0.1, test=0.1, dataset="fashion-mnist", model="lenet",
        batch_size=64, initializer="he", epochs=2, train_loss=0.5):
    """One result row, as results.csv holds it."""
    return {"dataset": dataset, "model": model, "regularizer": regularizer, "alpha": alpha,
            "batch_size": batch_size, "seed": seed, "initializer": initializer, "epochs": epochs,
            "train_size": 640, "learning_rate": 0.05, "epoch": epoch, "train_loss": train_loss,
            "validation_error": validation, "test_error": test, "weight_norm_mean": 1.0, "weight_norm_std": 0.1,
            "seconds_per_step": 0.01, "diverged": 0, "run_id": f"{dataset}_{regularizer}_{alpha}_{seed}"}


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


def test_select_matches_every_condition():
    rows = [row("l2", 1e-3, 0), row("l2", 1e-3, 1), row("l2", 1e-4, 0)]
    assert select(rows, alpha=1e-3, seed=1) == [rows[1]]


# -- records to rows -----------------------------------------------------------------------

def record(spec, rows, failed=False):
    return {"spec": spec, "run_id": f"run_{spec['regularizer']}_{spec['alpha']}_{spec['seed']}",
            "diverged": False, "failed": failed, "rows": rows, "trajectory": []}


def test_result_rows_flatten_records_and_turn_nulls_into_nan():
    spec = {"experiment": "main", "dataset": "mnist", "model": "lenet", "regularizer": "l2", "alpha": 1e-3,
            "batch_size": 64, "seed": 0, "initializer": "he", "epochs": 1, "train_size": 640,
            "learning_rate": 0.05, "eval_size": None, "trajectory_every": 25}
    rows = result_rows([
        record(spec, [{"epoch": 0, "train_loss": None, "test_error": None},
                      {"epoch": 1, "train_loss": 0.4, "test_error": 0.2}]),
        record({**spec, "seed": 1}, [], failed=True)])
    assert len(rows) == 2                     # the failed run has no rows
    assert rows[0]["regularizer"] == "l2" and rows[0]["diverged"] == 0 and "experiment" not in rows[0]
    assert math.isnan(rows[0]["train_loss"]) and rows[1]["test_error"] == 0.2


# -- grouping ------------------------------------------------------------------------------

def table_rows():
    """Fashion-MNIST LeNet: L2 best at 1e-4, Norm Loss best at 1e-3; MNIST at those alphas; an
    all-conv setting of its own; rows that must not sway the choice (other batch size, small init)."""
    return [
        # epoch 1 rows are not final: their (very low) validation errors must not count.
        row("l2", 1e-3, 0, epoch=1, validation=0.01), row("normloss", 1e-4, 0, epoch=1, validation=0.01),
        row("none", 0.0, 0, validation=0.20, test=0.21), row("none", 0.0, 1, validation=0.22, test=0.23),
        row("l1", 1e-3, 0, validation=0.19, test=0.20), row("l1", 1e-3, 1, validation=0.19, test=0.20),
        row("l2", 1e-4, 0, validation=0.10, test=0.12), row("l2", 1e-4, 1, validation=0.12, test=0.12),
        row("l2", 1e-3, 0, validation=0.11, test=0.10), row("l2", 1e-3, 1, validation=0.12, test=0.10),
        row("normloss", 1e-4, 0, validation=0.15, test=0.16), row("normloss", 1e-4, 1, validation=0.15, test=0.14),
        row("normloss", 1e-3, 0, validation=0.10, test=0.10), row("normloss", 1e-3, 1, validation=0.14, test=0.14),
        row("l2", 1e-3, 0, batch_size=128, validation=0.01, test=0.30),
        row("l2", 1e-3, 0, initializer="small", validation=0.01, test=0.90),
        row("l2", 1e-4, 0, dataset="mnist", validation=0.02, test=0.03),
        row("l2", 1e-3, 0, dataset="mnist", validation=0.01, test=0.01),
        row("normloss", 1e-3, 0, dataset="mnist", validation=0.03, test=0.04),
        row("l2", 1e-2, 0, model="allconv", batch_size=32, epochs=1, epoch=1, validation=0.3, test=0.3),
        row("l2", 1e-3, 0, model="allconv", batch_size=32, epochs=1, epoch=1, validation=0.4, test=0.4),
    ]


def test_results_final_keeps_only_the_last_epoch():
    results = Results(table_rows(), SETTINGS)
    final = results.final(regularizer="l2", alpha=1e-3, **results.setting("fashion-mnist", "lenet"))
    assert [(entry["seed"], entry["epoch"]) for entry in final] == [(0, 2), (1, 2)]
    assert results.alphas("l2", **results.setting("fashion-mnist", "lenet")) == [1e-4, 1e-3]


def test_results_choose_alphas_within_a_setting_only():
    results = Results(table_rows(), SETTINGS)
    # L2: 1e-4 → (0.10 + 0.12) / 2 = 0.110, 1e-3 → (0.11 + 0.12) / 2 = 0.115 (the batch-128 and
    # small-init rows at 0.01 belong to other settings). Norm Loss: 1e-4 → 0.150, 1e-3 → 0.120.
    assert results.best_alphas("fashion-mnist", "lenet") == {"none": 0.0, "l1": 1e-3, "l2": 1e-4,
                                                              "normloss": 1e-3}
    # The all-conv network chooses on its own rows (0.3 at 1e-2 against 0.4 at 1e-3).
    assert results.chosen("fashion-mnist", "allconv") == {"l2": 1e-2}


def test_mnist_uses_the_alphas_chosen_on_the_main_dataset_where_it_has_runs():
    results = Results(table_rows(), SETTINGS)
    # MNIST's own best L2 would be 1e-3 (0.01); the table uses Fashion-MNIST's 1e-4. It has no
    # "none" or L1 runs, so those are left out.
    assert results.chosen("mnist", "lenet") == {"l2": 1e-4, "normloss": 1e-3}


def stored_main_records(output_dir, validation_by_alpha):
    """Store one run record per "main" spec of SETTINGS, with hand-made final validation errors."""
    for spec in main_specs(SETTINGS):
        error = validation_by_alpha.get((spec.regularizer, spec.alpha, spec.seed), 0.5)
        rows = [{"epoch": epoch, "train_loss": 0.5, "validation_error": error, "test_error": error}
                for epoch in (1, 2)]
        spec_fields = {key: getattr(spec, key) for key in spec.__dataclass_fields__}
        store_record(output_dir, {"spec": spec_fields, "run_id": spec.run_id, "diverged": False, "failed": False,
                                  "rows": rows, "trajectory": []})


def test_the_runner_chooses_with_the_same_rule_from_the_main_runs_on_disk(tmp_path):
    stored_main_records(tmp_path, {("l2", 1e-4, 0): 0.10, ("l2", 1e-4, 1): 0.30,     # mean 0.20
                                   ("l2", 1e-3, 0): 0.25, ("l2", 1e-3, 1): 0.25,     # mean 0.25
                                   ("normloss", 1e-4, 0): 0.2, ("normloss", 1e-4, 1): 0.2,
                                   ("normloss", 1e-3, 0): 0.2, ("normloss", 1e-3, 1): 0.2})  # tie → 1e-4
    assert chosen_alphas(tmp_path, SETTINGS) == {"none": 0.0, "l1": 1e-3, "l2": 1e-4, "normloss": 1e-4}


# -- summary.md, claim by claim ---------------------------------------------------------------

def test_claim_accuracy_reports_each_regularizer_at_its_best_alpha():
    text = "\n".join(summary.claim_accuracy(Results(table_rows(), SETTINGS)))
    # Norm Loss at 1e-3: validation (0.10, 0.14) → 12.00 ± 2.83; test (0.10, 0.14) → 12.00 ± 2.83.
    assert "| Norm Loss | 0.001 | 12.00 ± 2.83 | 12.00 ± 2.83 | 2 |" in text
    # L2 at 1e-4: validation (0.10, 0.12) → 11.00 ± 1.41, test (0.12, 0.12) → 12.00 ± 0.00.
    assert "| L2 (weight decay) | 0.0001 | 11.00 ± 1.41 | 12.00 ± 0.00 | 2 |" in text
    assert "### MNIST, LeNet (alphas chosen on Fashion-MNIST)" in text
    assert "| L2 (weight decay) | 0.0001 | 2.00 ± 0.00 | 3.00 ± 0.00 | 1 |" in text


def test_claim_convergence_counts_the_epochs_to_the_worst_final_error():
    rows = [row("none", 0.0, 0, epoch=1, test=0.30), row("none", 0.0, 0, epoch=2, test=0.20),
            row("normloss", 1e-3, 0, epoch=1, test=0.18), row("normloss", 1e-3, 0, epoch=2, test=0.15)]
    text = "\n".join(summary.claim_convergence(Results(rows, SETTINGS)))
    # The worst final mean is none's 0.20: none reaches it in epoch 2, Norm Loss already in epoch 1.
    assert "epochs to 20.00 %" in text
    assert "| none | 0 | 30.00 ± 0.00 | 20.00 ± 0.00 | 0.500 ± 0.000 | 2 |" in text
    assert "| Norm Loss | 0.001 | 18.00 ± 0.00 | 15.00 ± 0.00 | 0.500 ± 0.000 | 1 |" in text


def test_claim_sensitivity_reports_the_spread_across_alphas_and_batch_sizes():
    rows = table_rows() + [row("normloss", 1e-3, 0, batch_size=128, test=0.20),
                           row("normloss", 1e-3, 1, batch_size=128, test=0.22)]
    text = "\n".join(summary.claim_sensitivity(Results(rows, SETTINGS)))
    # Norm Loss mean test error: 1e-4 → 0.15, 1e-3 → 0.12: max − min 3.00 points, population std 1.50.
    assert "| Norm Loss | 0.0001 … 0.001 | 2 | 3.00 | 1.50 | 12.00 | 15.00 |" in text
    # Across batch sizes at its alpha 1e-3: 0.12 (64) and 0.21 (128): 9.00 points, std 4.50.
    assert "| Norm Loss | 0.001 | 64, 128 | 9.00 | 4.50 |" in text
    # L2's best alpha 1e-4 has no run at another batch size: no batch row for it.
    assert "| L2 (weight decay) | 0.0001 | 64, 128 |" not in text


def test_claim_cost_reports_the_ratio_and_the_regularizers_share():
    timing = [{"regularizer": "none", "batch_size": 64, "rounds": 3, "steps_per_round": 5,
               "median_seconds_per_step": 0.004, "ratio_to_none": 1.0, "regularizer_seconds_per_step": 0.0,
               "regularizer_share_of_step": 0.0},
              {"regularizer": "normloss", "batch_size": 64, "rounds": 3, "steps_per_round": 5,
               "median_seconds_per_step": 0.0041, "ratio_to_none": 1.025, "regularizer_seconds_per_step": 1e-4,
               "regularizer_share_of_step": 1e-4 / 0.0041}]
    text = "\n".join(summary.claim_cost(timing))
    # 0.1 ms of 4.1 ms = 2.44 %.
    assert "| Norm Loss | 4.10 | 1.025 | 100 | 2.44 |" in text
    assert "3 rounds of 5 steps" in text
    assert summary.claim_cost([]) == []


def test_the_summary_lists_failed_runs_and_leaves_out_empty_claims():
    failed = [{"run_id": "mnist_lenet_l2_a-1", "executed_on": "worker tcp://10.0.0.2:4000 on host b",
               "error": "ValueError: alpha must be a number >= 0,\ngot -1 | oops"}]
    text = summary.summary_markdown(Results([], SETTINGS), [], [], failed)
    assert "## 1." not in text and "## 2." not in text and "## 4." not in text
    assert "## Failed runs" in text
    assert ("| mnist_lenet_l2_a-1 | worker tcp://10.0.0.2:4000 on host b | "
            "ValueError: alpha must be a number >= 0, got -1 \\| oops |") in text
