"""The study's grid (which runs each experiment asks for) and the runner's order of work, checked
with an executor that makes up results instead of training."""
import dataclasses
import heapq
import itertools

import pytest

from experiments.grid import (HALF_DECADES, RunSpec, Settings, allconv_key, allconv_selection_specs, allconv_specs,
                              batch_specs, confirmation_specs, dependent_specs, independent_specs, mnist_specs,
                              selected_experiments, selection_specs, unique)
from experiments.provenance import code_identity
from experiments.runner import run_grid
from experiments.storage import finished_run_ids, load_records

SETTINGS = Settings(selection_seeds=(100,), confirmation_seeds=(0, 1), mnist_seeds=(0, 1), batch_seeds=(0,),
                    allconv_seeds=(0,), epochs=2, arms=("none", "l1", "l2", "normloss", "normloss_coupled"),
                    alphas=(1e-4, 1e-3), norm_loss_further=(10.0,), batch_sizes=(128,))


def test_a_run_id_names_the_run_and_hashes_every_field_but_the_experiment():
    spec = RunSpec("selection", "fashion-mnist", "lenet", "normloss", 1e-3, 64, 0, "he", 5, 10000)
    assert spec.run_id.startswith("fashion-mnist_lenet_normloss_a0.001_b64_he_s0_")
    assert dataclasses.replace(spec, experiment="confirmation").run_id == spec.run_id
    assert dataclasses.replace(spec, eval_size=300).run_id != spec.run_id
    assert dataclasses.replace(spec, learning_rate=0.01).run_id != spec.run_id
    coupled = dataclasses.replace(spec, coupled=True)
    assert coupled.arm == "normloss_coupled" and coupled.run_id.startswith("fashion-mnist_lenet_normloss_coupled_")


def test_the_full_grid_has_half_decade_alphas_from_1e_5_to_1_and_ten_fresh_paired_seeds():
    assert len(HALF_DECADES) == 11
    assert HALF_DECADES[0] == pytest.approx(1e-5) and HALF_DECADES[-1] == 1.0
    assert all(later / earlier == pytest.approx(10 ** 0.5) for earlier, later in zip(HALF_DECADES, HALF_DECADES[1:]))
    full = Settings()
    assert len(full.confirmation_seeds) >= 10 and not set(full.confirmation_seeds) & set(full.selection_seeds)
    assert {"none", "l1", "l2", "normloss", "normloss_coupled"} <= set(full.arms)


def test_selection_asks_for_every_regularized_arm_at_every_alpha_and_none_once():
    specs = selection_specs(SETTINGS)
    # (none + 4 arms × 2 alphas + the 2 Norm Loss arms once more, further on) × 1 selection seed
    assert len(specs) == 11 == len(unique(specs))
    assert {(spec.arm, spec.alpha) for spec in specs} == {("none", 0.0)} | {
        (arm, alpha) for arm in ("l1", "l2", "normloss", "normloss_coupled") for alpha in (1e-4, 1e-3)} | {
        ("normloss", 10.0), ("normloss_coupled", 10.0)}
    assert {spec.seed for spec in specs} == {100}


def test_confirmation_runs_every_arm_with_a_chosen_alpha_on_the_fresh_seeds():
    chosen = {"none": 0.0, "l2": 1e-4, "normloss_coupled": 1e-3}
    specs = confirmation_specs(SETTINGS, chosen)
    assert {(spec.arm, spec.alpha, spec.coupled) for spec in specs} == {
        ("none", 0.0, False), ("l2", 1e-4, False), ("normloss_coupled", 1e-3, True)}
    assert {spec.seed for spec in specs} == {0, 1}


def test_the_batch_runs_scale_the_learning_rate_with_the_batch_size_and_keep_alpha():
    chosen = {"l2": 1e-4, "normloss": 1e-3}
    specs = batch_specs(SETTINGS, chosen)
    assert {(spec.arm, spec.alpha, spec.batch_size, spec.learning_rate) for spec in specs} == {
        ("l2", 1e-4, 64, 0.05), ("l2", 1e-4, 128, 0.1), ("normloss", 1e-3, 64, 0.05),
        ("normloss", 1e-3, 128, 0.1)}
    # The main batch size's runs are confirmation runs, run once.
    assert {spec.run_id for spec in specs if spec.batch_size == 64} <= {
        spec.run_id for spec in confirmation_specs(SETTINGS, chosen)}


def test_none_runs_need_no_selection_and_the_others_use_the_chosen_alphas():
    independent = independent_specs(SETTINGS, ["selection", "confirmation", "mnist", "allconv"])
    assert [spec.experiment for spec in independent[:11]] == ["selection"] * 11
    assert all(spec.regularizer == "none" for spec in independent[11:])
    chosen = {"none": 0.0, "l2": 1e-4}
    assert {(spec.dataset, spec.arm, spec.alpha) for spec in mnist_specs(SETTINGS, chosen)} == {
        ("mnist", "none", 0.0), ("mnist", "l2", 1e-4)}
    assert len(dependent_specs(SETTINGS, ["confirmation", "mnist"], chosen)) == (2 + 2) * 2


def test_an_experiment_brings_the_selection_it_depends_on():
    assert selected_experiments(None) == ["control", "selection", "confirmation", "mnist", "batch", "allconv", "timing"]
    assert selected_experiments("mnist") == ["selection", "mnist"]
    assert selected_experiments("timing") == ["timing"]
    with pytest.raises(ValueError, match="expected an experiment in control, selection, confirmation"):
        selected_experiments("everything")


class MadeUpResults:
    """An executor that returns a record with a made-up validation error instead of training.

    Norm Loss is best at 1e-4 and L2 at 1e-3 on validation; ``crash_after`` runs it raises, as
    a client that dies would stop."""

    def __init__(self, crash_after=None, capacity=1000):
        self.submitted = []
        self.slots = capacity
        self.completed_ids = []
        self._queue = []
        self._order = itertools.count()
        self.crash_after = crash_after

    def capacity(self):
        return self.slots

    def submit(self, spec, priority=0):
        self.submitted.append((spec, len(self.completed_ids)))
        heapq.heappush(self._queue, (-priority, next(self._order), spec))

    def completed(self):
        while self._queue:
            if len(self.completed_ids) == self.crash_after:
                raise KeyboardInterrupt
            _, _, spec = heapq.heappop(self._queue)
            error = {("normloss", 1e-4): 0.10, ("l2", 1e-3): 0.11}.get((spec.arm, spec.alpha), 0.2)
            self.completed_ids.append(spec.run_id)
            yield spec, made_up_record(spec, error)


def made_up_record(spec, error, wall_seconds=0.0):
    """A whole run record of ``spec`` whose every epoch has ``error`` (validation and test)."""
    numbers = {"data_loss": 1.0, "penalty": 0.0, "last_step_learning_rate": 0.01, "weight_norm_mean": 1.0,
               "weight_norm_std": 0.1, "seconds_per_step": 0.01, "layer_norm_means": [1.0, 1.0]}
    rows = [{"epoch": epoch, **numbers, "validation_error": None if epoch == 0 else error,
             "test_error": None if epoch == 0 else error} for epoch in range(spec.epochs + 1)]
    return {"spec": dataclasses.asdict(spec), "run_id": spec.run_id, "diverged": False, "failed": False,
            "executed_on": "nowhere", "wall_seconds": wall_seconds, "steps_per_epoch": 10, "rows": rows,
            "trajectory": [{"step": 0, "weight_norm_mean": 1.0, "weight_norm_std": 0.1, "layer_norm_means": [1.0]}],
            "shrinkage_per_step": 0.0, "code": code_identity()}


def test_the_dependent_runs_start_once_every_selection_run_is_stored(tmp_path):
    experiments = ["selection", "confirmation", "batch", "mnist"]
    executor = MadeUpResults()
    executed, left = run_grid(executor, tmp_path, SETTINGS, experiments, progress=False, log=lambda *args: None)

    assert left == 0
    selection_ids = {spec.run_id for spec in selection_specs(SETTINGS)}
    none_ids = {spec.run_id for spec in independent_specs(SETTINGS, experiments)} - selection_ids
    chosen = {"none": 0.0, "l1": 1e-4, "l2": 1e-3, "normloss": 1e-4, "normloss_coupled": 1e-4}
    dependent = {spec.run_id for spec in dependent_specs(SETTINGS, experiments, chosen)}
    assert finished_run_ids(tmp_path) == selection_ids | dependent
    assert executed == len(selection_ids | dependent)
    # Every run was submitted once; the regularized ones after all 9 selection runs had come back.
    assert len(executor.submitted) == executed
    for spec, completed_before in executor.submitted:
        assert completed_before == (0 if spec.run_id in selection_ids | none_ids else len(selection_ids))
    assert executor.completed_ids[:len(selection_ids)] == [spec.run_id for spec in selection_specs(SETTINGS)]


def test_a_crashed_call_keeps_its_finished_runs_and_the_next_call_runs_only_the_rest(tmp_path):
    experiments = ["selection", "batch", "mnist"]
    with pytest.raises(KeyboardInterrupt):
        run_grid(MadeUpResults(crash_after=5), tmp_path, SETTINGS, experiments, progress=False,
                 log=lambda *args: None)
    kept = finished_run_ids(tmp_path)
    assert len(kept) == 5 and all(record["rows"] for record in load_records(tmp_path))

    executor = MadeUpResults()
    executed, _ = run_grid(executor, tmp_path, SETTINGS, experiments, progress=False, log=lambda *args: None)
    assert not kept & set(executor.completed_ids)
    assert executed == len(finished_run_ids(tmp_path)) - 5

    third = MadeUpResults()
    assert run_grid(third, tmp_path, SETTINGS, experiments, progress=False, log=lambda *args: None) == (0, 0)
    assert third.submitted == []


def test_the_allconv_network_with_a_selection_of_its_own_trains_at_its_own_alphas():
    settings = dataclasses.replace(SETTINGS, allconv_arms=("none", "l2"), allconv_alphas=(1e-4, 1e-3),
                                   allconv_selection_seeds=(7,), allconv_seeds=(0, 1))
    selection = allconv_selection_specs(settings)
    assert [(spec.model, spec.arm, spec.alpha, spec.seed) for spec in selection] == [
        ("allconv", "none", 0.0, 7), ("allconv", "l2", 1e-4, 7), ("allconv", "l2", 1e-3, 7)]
    assert {spec.run_id for spec in selection} <= {spec.run_id for spec in independent_specs(settings, ["allconv"])}
    # Its confirmation waits for its own choice (allconv_key), not LeNet's.
    assert [(spec.arm, spec.alpha) for spec in allconv_specs(settings, {"l2": 1e-3})] == [("none", 0.0)] * 2
    assert [(spec.arm, spec.alpha, spec.seed) for spec in allconv_specs(settings, {"l2": 1e-3, allconv_key("l2"): 1e-4})
            if spec.arm == "l2"] == [("l2", 1e-4, 0), ("l2", 1e-4, 1)]
    # Without a selection of its own it trains at LeNet's alphas, as in the first study.
    first = dataclasses.replace(settings, allconv_selection_seeds=())
    assert allconv_selection_specs(first) == []
    assert {spec.alpha for spec in allconv_specs(first, {"l2": 1e-3}) if spec.arm == "l2"} == {1e-3}
