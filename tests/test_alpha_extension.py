"""The pre-registered α-extension rule (docs/norm_loss_preregistration.md, S1): while an arm's chosen
α is an end of the grid, every arm gets the next two half decades beyond it, until the chosen α is
interior, that end trains no better than chance, or the grid reaches 1e-7 or 100."""
import dataclasses
import heapq

import pytest

from experiments.grid import Settings, confirmation_specs, selection_specs
from experiments.results import Results, alpha_extension, half_decade, result_rows, with_alpha_extension
from experiments.runner import run_grid
from experiments.runs import failed_record
from experiments.storage import load_records
from tests.test_experiments_grid import MadeUpResults, made_up_record

# Half decades 1e-3 … 1e-1 (exponents -6 … -2), two arms, two selection seeds.
PREREGISTERED = Settings(selection_seeds=(1, 2), confirmation_seeds=(10, 11), epochs=2, train_size=640,
                         arms=("none", "l2_coupled", "normloss_coupled"),
                         alphas=tuple(half_decade(exponent) for exponent in range(-6, -1)), norm_loss_further=(),
                         batch_sizes=(), preregistered=True)


def rows_where(errors, settings=PREREGISTERED, seeds=None):
    """Result rows of every selection run of ``settings`` whose (arm, alpha) is in ``errors`` (made-up
    validation error; else 0.2), plus the runs at alphas ``errors`` names beyond the grid."""
    specs = selection_specs(settings)
    grid = {(spec.arm, spec.alpha) for spec in specs}
    for arm, alpha in errors:
        if (arm, alpha) not in grid:
            for seed in settings.selection_seeds:
                specs.append(dataclasses.replace(next(spec for spec in specs if spec.arm == arm), alpha=alpha,
                                                 seed=seed))
    seeds = seeds or settings.selection_seeds
    records = [made_up_record(spec, errors.get((spec.arm, spec.alpha), 0.2)) for spec in specs if spec.seed in seeds]
    return result_rows(records)


def test_an_interior_choice_keeps_the_grid():
    rows = rows_where({("l2_coupled", half_decade(-4)): 0.1, ("normloss_coupled", half_decade(-3)): 0.1})
    assert alpha_extension(rows, PREREGISTERED) == (PREREGISTERED.alphas, ())


def test_an_arm_best_at_the_top_end_gives_every_arm_the_next_two_half_decades():
    rows = rows_where({("l2_coupled", half_decade(-4)): 0.1, ("normloss_coupled", half_decade(-2)): 0.1})
    assert alpha_extension(rows, PREREGISTERED) == (PREREGISTERED.alphas, (half_decade(-1), 1.0))
    extended = with_alpha_extension(PREREGISTERED, rows)
    assert extended.alphas == PREREGISTERED.alphas + (half_decade(-1), 1.0)
    # The new runs are ordinary selection runs of both arms at the new alphas, for every seed.
    new = {spec.run_id: spec for spec in selection_specs(extended)}.keys() - {
        spec.run_id for spec in selection_specs(PREREGISTERED)}
    assert len(new) == 2 * 2 * 2


def test_the_bottom_end_extends_downwards_and_both_ends_at_once():
    rows = rows_where({("l2_coupled", half_decade(-6)): 0.1, ("normloss_coupled", half_decade(-2)): 0.1})
    assert alpha_extension(rows, PREREGISTERED)[1] == (half_decade(-8), half_decade(-7), half_decade(-1), 1.0)


def test_the_rule_goes_on_while_the_new_end_is_best_and_stops_once_the_choice_is_interior():
    errors = {("normloss_coupled", half_decade(-2)): 0.12, ("normloss_coupled", half_decade(-1)): 0.11,
              ("normloss_coupled", 1.0): 0.10, ("l2_coupled", half_decade(-4)): 0.1,
              ("l2_coupled", half_decade(-1)): 0.2, ("l2_coupled", 1.0): 0.9}
    rows = rows_where(errors)
    # The first extension's runs have finished and Norm Loss is best at its new end: two more.
    assert alpha_extension(rows, PREREGISTERED) == (tuple(half_decade(e) for e in range(-6, 1)),
                                                    (half_decade(1), 10.0))
    errors.update({("normloss_coupled", half_decade(1)): 0.105, ("normloss_coupled", 10.0): 0.3,
                   ("l2_coupled", half_decade(1)): 0.9, ("l2_coupled", 10.0): 0.9})
    grid, next_alphas = alpha_extension(rows_where(errors), PREREGISTERED)
    assert grid == tuple(half_decade(e) for e in range(-6, 3)) and next_alphas == ()


def test_the_rule_stops_at_100_and_where_the_end_trains_no_better_than_chance():
    settings = dataclasses.replace(PREREGISTERED, alphas=(10.0, half_decade(3), 100.0))
    rows = rows_where({("normloss_coupled", 100.0): 0.1, ("l2_coupled", half_decade(3)): 0.1}, settings)
    assert alpha_extension(rows, settings) == (settings.alphas, ())
    # Every alpha at chance: the best one is an end, but an end at chance is not extended.
    rows = rows_where({(arm, alpha): 0.9 for arm in ("l2_coupled", "normloss_coupled")
                       for alpha in PREREGISTERED.alphas})
    assert alpha_extension(rows, PREREGISTERED) == (PREREGISTERED.alphas, ())


def test_nothing_is_decided_before_every_run_of_the_grid_has_finished():
    rows = rows_where({("normloss_coupled", half_decade(-2)): 0.1, ("l2_coupled", half_decade(-4)): 0.1}, seeds=(1,))
    assert alpha_extension(rows, PREREGISTERED) == (PREREGISTERED.alphas, ())


def test_a_study_that_is_not_pre_registered_keeps_its_grid():
    settings = dataclasses.replace(PREREGISTERED, preregistered=False)
    rows = rows_where({("normloss_coupled", half_decade(-2)): 0.1}, settings)
    assert alpha_extension(rows, settings) == (settings.alphas, ())


class BestAtTheTop(MadeUpResults):
    """Norm Loss improves with α up to 1 (the grid's top) and stays there; L2 is best at 10^-1.5."""

    def completed(self):
        while self._queue:
            *_, spec = heapq.heappop(self._queue)
            if spec.arm == "normloss_coupled":
                error = 0.2 - 0.1 * min(spec.alpha, 1.0)
            else:
                error = 0.1 if spec.alpha == pytest.approx(half_decade(-3)) else 0.2
            self.completed_ids.append(spec.run_id)
            yield spec, made_up_record(spec, error)


def test_the_runner_runs_the_extension_before_anything_depends_on_the_chosen_alphas(tmp_path):
    settings = dataclasses.replace(PREREGISTERED, alphas=tuple(half_decade(exponent) for exponent in range(-4, 1)))
    executor = BestAtTheTop()
    printed = []
    executed, left = run_grid(executor, tmp_path, settings, ["selection", "confirmation"], progress=False,
                              log=printed.append)
    assert left == 0
    alphas = {(spec.arm, spec.alpha) for spec, _ in executor.submitted if spec.experiment == "selection"}
    assert {("normloss_coupled", half_decade(1)), ("normloss_coupled", 10.0), ("l2_coupled", 10.0)} <= alphas
    assert ("normloss_coupled", half_decade(3)) not in alphas   # 1 is interior now: the rule stops
    assert any(line.startswith("α-extension rule: 8 more selection runs") for line in printed)
    # The regularized confirmation runs were submitted only after the extension finished, at Norm Loss's
    # choice of 1 ("none" needs no alpha and runs whenever there is room).
    order = [spec.run_id for spec, _ in executor.submitted]
    extension = [spec.run_id for spec, _ in executor.submitted if spec.alpha > 1]
    confirmation = {spec.run_id for spec in confirmation_specs(settings, {"l2_coupled": half_decade(-3),
                                                                          "normloss_coupled": 1.0})
                    if spec.arm != "none"}
    assert confirmation <= set(order)
    assert max(order.index(run_id) for run_id in extension) < min(
        order.index(run_id) for run_id in confirmation)
    assert len(load_records(tmp_path)) == executed


def test_a_diverged_run_counts_as_its_record_says_so_the_rule_and_the_choice_agree():
    # L2 at 10^-1 (the top end): one seed diverged (its record holds 90 %), one at 5 %: mean 47.5 %;
    # every other L2 alpha 50 %. The choice takes the end, so the rule must extend past it.
    errors = {("l2_coupled", alpha): 0.5 for alpha in PREREGISTERED.alphas}
    errors.update({("l2_coupled", half_decade(-2)): 0.05, ("normloss_coupled", half_decade(-4)): 0.1})
    rows = rows_where(errors)
    for row in rows:
        if row["arm"] == "l2_coupled" and row["alpha"] == half_decade(-2) and row["seed"] == 1:
            row.update(diverged=1, validation_error=0.9)
    assert Results(rows, PREREGISTERED).chosen_alphas()["l2_coupled"] == half_decade(-2)
    assert alpha_extension(rows, PREREGISTERED)[1] == (half_decade(-1), 1.0)


def test_a_grid_without_an_interior_alpha_is_not_extended():
    settings = dataclasses.replace(PREREGISTERED, alphas=(1e-3, half_decade(-5)))
    rows = rows_where({("l2_coupled", 1e-3): 0.1, ("normloss_coupled", 1e-3): 0.1}, settings)
    assert alpha_extension(rows, settings) == (settings.alphas, ())


def test_the_rule_starts_from_the_preregistered_grid_so_an_extension_asked_on_old_numbers_is_dropped(tmp_path):
    # Runs at 10^-1 and 1 exist (an earlier extension), but the grid's own numbers now choose
    # interior alphas: the grid stays 1e-3 … 1e-1, and the report leaves the others out.
    rows = rows_where({("l2_coupled", half_decade(-4)): 0.1, ("normloss_coupled", half_decade(-3)): 0.1,
                       ("normloss_coupled", half_decade(-1)): 0.05, ("normloss_coupled", 1.0): 0.05,
                       ("l2_coupled", half_decade(-1)): 0.5, ("l2_coupled", 1.0): 0.5})
    assert with_alpha_extension(PREREGISTERED, rows).alphas == PREREGISTERED.alphas


def test_a_failed_selection_run_holds_back_everything_that_depends_on_the_choice(tmp_path):
    settings = dataclasses.replace(PREREGISTERED, alphas=tuple(half_decade(exponent) for exponent in range(-4, 1)))
    failing = selection_specs(settings)[3]

    class OneFails(BestAtTheTop):
        def completed(self):
            for spec, record in super().completed():
                yield spec, (failed_record(spec, "MemoryError: made up", "nowhere") if spec == failing else record)

    printed = []
    executor = OneFails()
    run_grid(executor, tmp_path, settings, ["selection", "confirmation"], progress=False, log=printed.append)
    submitted = [spec for spec, _ in executor.submitted]
    assert not [spec for spec in submitted if spec.experiment == "confirmation" and spec.arm != "none"]
    assert not [spec for spec in submitted if spec.alpha > 1]   # no extension decided on two seeds
    assert any(line.startswith("1 selection runs failed (the first: " + failing.run_id) for line in printed)
