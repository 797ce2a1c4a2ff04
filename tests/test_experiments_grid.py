"""The study's grid (which runs each experiment asks for) and the runner's order of work, checked
with an executor that makes up results instead of training."""
import dataclasses
import heapq
import itertools

import pytest

from experiments.grid import (RunSpec, Settings, batch_specs, dependent_specs, independent_specs, main_specs,
                              mnist_specs, norms_specs, selected_experiments, unique)
from experiments.runner import run_grid
from experiments.storage import finished_run_ids, load_records

SETTINGS = Settings(seeds=(0, 1), epochs=2, alphas={"l1": (1e-3,), "l2": (1e-4, 1e-3), "normloss": (1e-4, 1e-3)},
                    batch_sizes=(64, 128), allconv_alphas=(1e-3,), norm_alpha=1e-3)


def test_a_run_id_names_the_run_and_hashes_every_field_but_the_experiment():
    spec = RunSpec("main", "fashion-mnist", "lenet", "normloss", 1e-3, 64, 0, "he", 5, 10000)
    assert spec.run_id.startswith("fashion-mnist_lenet_normloss_a0.001_b64_he_s0_")
    assert dataclasses.replace(spec, experiment="norms").run_id == spec.run_id
    assert dataclasses.replace(spec, eval_size=300).run_id != spec.run_id
    assert dataclasses.replace(spec, learning_rate=0.01).run_id != spec.run_id


def test_main_asks_for_every_regularizer_at_every_alpha_and_seed():
    specs = main_specs(SETTINGS)
    # (none + 1 L1 + 2 L2 + 2 Norm Loss alphas) × 2 seeds
    assert len(specs) == 6 * 2 == len(unique(specs))
    assert {(spec.regularizer, spec.alpha) for spec in specs} == {
        ("none", 0.0), ("l1", 1e-3), ("l2", 1e-4), ("l2", 1e-3), ("normloss", 1e-4), ("normloss", 1e-3)}


def test_runs_shared_by_experiments_are_run_once_main_first():
    specs = independent_specs(SETTINGS, ["main", "norms", "allconv"])
    # The He runs of "norms" at norm_alpha are "main" runs: only the small-initializer ones are new.
    he_norms = [spec for spec in norms_specs(SETTINGS) if spec.initializer == "he"]
    assert {spec.run_id for spec in he_norms} <= {spec.run_id for spec in main_specs(SETTINGS)}
    assert len(specs) == 12 + 6 + 3 * 2
    assert [spec.experiment for spec in specs[:12]] == ["main"] * 12
    assert unique(specs + specs[:3]) == specs


def test_dependent_runs_use_the_chosen_alphas_and_skip_regularizers_without_one():
    chosen = {"none": 0.0, "l2": 1e-4}
    assert {(spec.regularizer, spec.alpha, spec.batch_size) for spec in batch_specs(SETTINGS, chosen)} == {
        ("l2", 1e-4, 64), ("l2", 1e-4, 128)}
    assert {(spec.dataset, spec.regularizer, spec.alpha) for spec in mnist_specs(SETTINGS, chosen)} == {
        ("mnist", "none", 0.0), ("mnist", "l2", 1e-4)}
    assert len(dependent_specs(SETTINGS, ["batch", "mnist"], chosen)) == (2 + 2) * 2


def test_an_experiment_brings_the_main_runs_it_depends_on():
    assert selected_experiments(None) == ["main", "timing", "norms", "batch", "mnist", "allconv"]
    assert selected_experiments("mnist") == ["main", "mnist"]
    assert selected_experiments("allconv") == ["allconv"]
    with pytest.raises(ValueError, match="expected an experiment in main, timing"):
        selected_experiments("everything")


class MadeUpResults:
    """An executor that returns a record with a made-up validation error instead of training.

    Norm Loss is best at 1e-4 and L2 at 1e-3; ``crash_after`` runs it raises, as a client
    that dies would stop."""

    def __init__(self, crash_after=None):
        self.submitted = []
        self.completed_ids = []
        self._queue = []
        self._order = itertools.count()
        self.crash_after = crash_after

    def submit(self, spec, priority=0):
        self.submitted.append((spec, len(self.completed_ids)))
        heapq.heappush(self._queue, (-priority, next(self._order), spec))

    def completed(self):
        while self._queue:
            if len(self.completed_ids) == self.crash_after:
                raise KeyboardInterrupt
            _, _, spec = heapq.heappop(self._queue)
            error = {("normloss", 1e-4): 0.10, ("l2", 1e-3): 0.11}.get((spec.regularizer, spec.alpha), 0.2)
            self.completed_ids.append(spec.run_id)
            yield spec, {"spec": dataclasses.asdict(spec), "run_id": spec.run_id, "diverged": False,
                         "failed": False, "executed_on": "nowhere", "wall_seconds": 0.0, "trajectory": [],
                         "rows": [{"epoch": epoch, "validation_error": error, "test_error": error}
                                  for epoch in range(1, spec.epochs + 1)]}


def test_the_dependent_runs_start_once_every_main_run_is_stored(tmp_path):
    executor = MadeUpResults()
    executed = run_grid(executor, tmp_path, SETTINGS, ["main", "batch", "mnist"], progress=False,
                        log=lambda *args: None)

    main_ids = {spec.run_id for spec in main_specs(SETTINGS)}
    chosen = {"none": 0.0, "l1": 1e-3, "l2": 1e-3, "normloss": 1e-4}
    dependent = {spec.run_id for spec in dependent_specs(SETTINGS, ["batch", "mnist"], chosen)}
    assert finished_run_ids(tmp_path) == main_ids | dependent
    assert executed == len(main_ids | dependent)
    # Every run was submitted once; the dependent ones after all 12 main runs had come back.
    assert len(executor.submitted) == executed
    for spec, completed_before in executor.submitted:
        assert completed_before == (0 if spec.run_id in main_ids else len(main_ids))
    assert executor.completed_ids[:len(main_ids)] == [spec.run_id for spec in main_specs(SETTINGS)]


def test_a_crashed_call_keeps_its_finished_runs_and_the_next_call_runs_only_the_rest(tmp_path):
    experiments = ["main", "batch", "mnist"]
    with pytest.raises(KeyboardInterrupt):
        run_grid(MadeUpResults(crash_after=5), tmp_path, SETTINGS, experiments, progress=False,
                 log=lambda *args: None)
    kept = finished_run_ids(tmp_path)
    assert len(kept) == 5 and all(record["rows"] for record in load_records(tmp_path))

    executor = MadeUpResults()
    executed = run_grid(executor, tmp_path, SETTINGS, experiments, progress=False, log=lambda *args: None)
    assert not kept & set(executor.completed_ids)
    assert executed == len(finished_run_ids(tmp_path)) - 5

    third = MadeUpResults()
    assert run_grid(third, tmp_path, SETTINGS, experiments, progress=False, log=lambda *args: None) == 0
    assert third.submitted == []
