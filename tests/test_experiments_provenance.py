"""A study that spans several sittings: every record names the code that trained it, records of
different code are not mixed, each call re-runs one finished run and checks it bit for bit, changed
code joins only by reproducing finished runs, and ``--deadline`` stops submitting runs in time.

The tests that train use tiny runs (256 images, one epoch) and need the study's data.
"""
import dataclasses
import datetime
import json

import pytest

from experiments.executors import StudyError
from experiments.grid import Settings, selection_specs
from experiments.provenance import (CODE_FILE, TRAINING_CODE, code_identity, combined_digest, file_digests,
                                    loaded_file_digests, training_files)
from experiments.runner import Deadline, parse_deadline, run_compare, run_grid, verify_runs
from experiments.storage import load_records, run_path, store_record
from tests.test_experiments_grid import SETTINGS, MadeUpResults, made_up_record

TINY = Settings(selection_seeds=(100,), epochs=1, train_size=256, eval_size=200, arms=("none", "l2"),
                alphas=(1e-3,), norm_loss_further=(), trajectory_every=2)
OTHER_CODE = {"digest": "0" * 64, "numpy": "1.0.0", "python": "3.0.0"}


def silent(*args):
    pass


def selection(output_dir, **options):
    return run_compare(output_dir, settings=TINY, only="selection", progress=False, log=silent, **options)


# -- the digest of the training code ----------------------------------------------------------------

def test_the_digest_covers_the_training_code_and_nothing_else(tmp_path):
    for name in ("framework/training.py", "layers/fast/conv.py", "data/loader.py", "optimizers/sgd.py",
                 "regularizers/norm_loss.py", "experiments/grid.py", "experiments/runs.py",
                 "experiments/summary.py", "docs/index.md", "tests/test_conv.py", "README.md",
                 "framework/__pycache__/training.cpython-311.pyc"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(f"# {name}\n")
    assert training_files(tmp_path) == ["data/loader.py", "experiments/grid.py", "experiments/runs.py",
                                        "framework/training.py", "layers/fast/conv.py", "optimizers/sgd.py",
                                        "regularizers/norm_loss.py"]
    before = combined_digest(file_digests(tmp_path))
    # Documentation, tests and the report are not training code: editing them keeps the records valid.
    for name in ("docs/index.md", "tests/test_conv.py", "README.md", "experiments/summary.py"):
        (tmp_path / name).write_text("edited\n")
    assert combined_digest(file_digests(tmp_path)) == before
    (tmp_path / "layers/fast/conv.py").write_text("# a faster convolution\n")
    assert combined_digest(file_digests(tmp_path)) != before
    (tmp_path / "layers/fast/conv.py").write_text("# layers/fast/conv.py\n")
    (tmp_path / "framework/new.py").write_text("")
    assert combined_digest(file_digests(tmp_path)) != before


def test_this_processs_identity_is_the_digest_of_its_files_and_the_library_versions():
    import platform

    import numpy

    identity = code_identity()
    assert identity == {"digest": combined_digest(loaded_file_digests()), "numpy": numpy.__version__,
                        "python": platform.python_version()}
    assert set(TRAINING_CODE) >= {"framework", "layers", "optimizers", "regularizers", "data"}


# -- records of other code ---------------------------------------------------------------------------

def test_records_of_code_the_study_has_not_accepted_are_refused(tmp_path):
    spec = selection_specs(TINY)[0]
    store_record(tmp_path, {**made_up_record(spec, 0.2), "code": OTHER_CODE})
    with pytest.raises(StudyError, match=f"1 run records in {tmp_path}/runs were trained by code this study has not "
                                         f"accepted \\(the first, {spec.run_id}: code 000000000000, NumPy 1.0.0"):
        selection(tmp_path)


def test_a_record_without_the_code_that_trained_it_is_refused(tmp_path):
    spec = selection_specs(TINY)[0]
    record = made_up_record(spec, 0.2)
    record.pop("code")
    store_record(tmp_path, record)
    with pytest.raises(StudyError, match="code it does not record"):
        selection(tmp_path)


def pretend_the_code_was_other(output_dir, changed_file="framework/training.py"):
    """Rewrite a study as if its runs had been trained by OTHER_CODE, whose ``changed_file`` differed."""
    files = loaded_file_digests()
    files[changed_file] = "f" * 64
    (output_dir / CODE_FILE).write_text(json.dumps({"identities": [{**OTHER_CODE, "files": files,
                                                                     "accepted": "the study's first call"}]}))
    for record in load_records(output_dir):
        store_record(output_dir, {**record, "code": OTHER_CODE})


def test_changed_code_is_refused_naming_the_files_then_adopted_once_finished_runs_reproduce(study_data, tmp_path):
    assert selection(tmp_path) == 2
    pretend_the_code_was_other(tmp_path)
    with pytest.raises(StudyError, match="the training code changed since this study's runs \\(numpy 1.0.0 → "
                                         ".*framework/training.py\\).*--adopt-code"):
        selection(tmp_path)

    printed = []
    assert run_compare(tmp_path, settings=TINY, only="selection", progress=False, log=printed.append,
                       adopt_code=True) == 0
    assert any(line.startswith("accepted code ") and "1 finished runs reproduced bit for bit" in line
               for line in printed)
    identities = json.loads((tmp_path / CODE_FILE).read_text())["identities"]
    assert [identity["digest"] for identity in identities] == [OTHER_CODE["digest"], code_identity()["digest"]]
    assert identities[1]["accepted"].startswith("re-ran fashion-mnist_lenet_")
    # Now both codes are the study's: the next call goes on without --adopt-code.
    assert selection(tmp_path) == 0


def test_a_finished_run_that_this_code_does_not_reproduce_stops_the_call(study_data, tmp_path):
    assert selection(tmp_path) == 2
    for record in load_records(tmp_path):
        record["rows"][1]["validation_error"] += 1e-12   # as another machine's arithmetic might
        store_record(tmp_path, record)
    with pytest.raises(StudyError, match="is not reproduced bit for bit by this code and machine"):
        selection(tmp_path)


def test_rerun_finished_keeps_what_reproduces_moves_aside_what_does_not_and_runs_that_again(study_data, tmp_path):
    assert selection(tmp_path) == 2
    pretend_the_code_was_other(tmp_path)
    changed, kept = load_records(tmp_path)
    changed["rows"][1]["validation_error"] += 1e-12   # as code that flushes subnormal numbers might
    store_record(tmp_path, changed)

    printed = []
    assert run_compare(tmp_path, settings=TINY, only="selection", progress=False, log=printed.append,
                       rerun=True) == 1   # the superseded run, once more
    assert f"  {kept['run_id']}: reproduced bit for bit" in printed
    superseded = tmp_path / "superseded" / f"{changed['run_id']}.{OTHER_CODE['digest'][:12]}.json"
    assert any(line.startswith(f"  {changed['run_id']}: differs (") and str(superseded) in line for line in printed)
    assert json.loads(superseded.read_text())["rows"][1]["validation_error"] == changed["rows"][1]["validation_error"]
    records = {record["run_id"]: record for record in load_records(tmp_path)}
    assert records[kept["run_id"]]["code"] == OTHER_CODE   # kept as it was
    assert records[changed["run_id"]]["code"] == code_identity()   # trained again by this code
    identities = json.loads((tmp_path / CODE_FILE).read_text())["identities"]
    assert identities[-1]["digest"] == code_identity()["digest"]
    assert identities[-1]["accepted"] == ("re-ran all 2 finished runs: 1 bit for bit, 1 differed and were moved to "
                                          "superseded/ to run again")
    assert selection(tmp_path) == 0


def test_each_call_re_runs_one_finished_run_and_says_which(study_data, tmp_path):
    assert selection(tmp_path) == 2
    printed = []
    assert run_compare(tmp_path, settings=TINY, only="selection", progress=False, log=printed.append) == 0
    checked = [line for line in printed if line.startswith("checking that ")]
    assert len(checked) == 1 and "gives its record again, bit for bit" in checked[0]
    run_id = checked[0].split()[2]
    assert run_path(tmp_path, run_id).exists()


class Replaying:
    """An executor that gives back the stored record of each run submitted."""

    def __init__(self, records):
        self.records = {record["run_id"]: record for record in records}
        self.submitted = []

    def submit(self, spec, priority=0):
        self.submitted.append(spec)

    def completed(self):
        while self.submitted:
            spec = self.submitted.pop(0)
            yield spec, self.records[spec.run_id]


def test_the_run_checked_again_is_one_of_the_quicker_half_of_the_cheapest_runs(tmp_path):
    specs = selection_specs(SETTINGS)[:5]
    records = [made_up_record(spec, 0.2, wall_seconds) for spec, wall_seconds in zip(specs, (60, 900, 50, 1100, 70))]
    offered = []

    def choose(candidates):
        offered.append({record["wall_seconds"] for record in candidates})
        return candidates[0]

    verified = verify_runs(Replaying(records), tmp_path, records, choose=choose, log=silent)
    # Runs of one size can differ five times in wall time; a check costs what a quick one does.
    assert offered == [{50, 60, 70}] and verified == [specs[2].run_id]


# -- the deadline --------------------------------------------------------------------------------------

def test_parse_deadline_reads_a_clock_time_or_an_iso_moment_and_refuses_the_past():
    now = datetime.datetime(2026, 12, 7, 0, 30, tzinfo=datetime.timezone.utc)
    assert parse_deadline("02:05", now) == datetime.datetime(2026, 12, 7, 2, 5, tzinfo=datetime.timezone.utc)
    # A clock time already past today is tomorrow's.
    assert parse_deadline("00:10", now) == datetime.datetime(2026, 12, 8, 0, 10, tzinfo=datetime.timezone.utc)
    assert parse_deadline("2026-12-07T03:00", now).hour == 3
    with pytest.raises(ValueError, match="has passed"):
        parse_deadline("2026-12-06T03:00", now)
    with pytest.raises(ValueError, match="expected a deadline as HH:MM"):
        parse_deadline("soon", now)


class Clock:
    """A clock that the made-up executor moves 10 s per finished run."""

    def __init__(self):
        self.now = datetime.datetime(2026, 12, 7, 1, 0, tzinfo=datetime.timezone.utc)

    def __call__(self):
        return self.now


class SlowMadeUpResults(MadeUpResults):
    def __init__(self, clock):
        super().__init__(capacity=1)
        self.clock = clock

    def completed(self):
        for spec, record in super().completed():
            self.clock.now += datetime.timedelta(seconds=10)
            yield spec, {**record, "wall_seconds": 10.0}


def test_the_deadline_stops_submitting_runs_that_would_end_after_it(tmp_path):
    clock = Clock()
    # A run is expected to take 10 s (the plan's estimate, then the runs seen) times the margin 1.5,
    # so one starts only while now + 15 s <= 01:00:45, at 01:00:00, :10, :20 and :30: four runs.
    deadline = Deadline(clock.now + datetime.timedelta(seconds=45), estimate=lambda spec: 10.0, clock=clock)
    executor = SlowMadeUpResults(clock)
    printed = []
    executed, left = run_grid(executor, tmp_path, SETTINGS, ["selection"], progress=False, log=printed.append,
                              deadline=deadline)
    assert executed == 4 and left == len(selection_specs(SETTINGS)) - 4
    assert [spec.run_id for spec, _ in executor.submitted] == [spec.run_id for spec in selection_specs(SETTINGS)[:4]]
    assert printed[-1] == (f"deadline 2026-12-07 01:00: {left} runs not started (they would end after it); run the "
                           "same command again to continue")

    # The next call, with time enough, runs the rest and only the rest.
    later = Deadline(None)
    executed, left = run_grid(MadeUpResults(capacity=1), tmp_path, SETTINGS, ["selection"], progress=False,
                              log=silent, deadline=later)
    assert (executed, left) == (len(selection_specs(SETTINGS)) - 4, 0)


def test_the_expected_duration_is_the_longest_of_the_kind_seen(tmp_path):
    spec = selection_specs(SETTINGS)[0]
    longer = dataclasses.replace(spec, epochs=spec.epochs + 1)
    deadline = Deadline(None, [made_up_record(spec, 0.2, wall_seconds=30.0),
                               made_up_record(dataclasses.replace(spec, seed=7), 0.2, wall_seconds=50.0)],
                        estimate=lambda spec: 4.0)
    assert deadline.expected_seconds(spec) == pytest.approx(75.0)      # 1.5 × 50 s
    assert deadline.expected_seconds(longer) == pytest.approx(6.0)     # none seen: 1.5 × the estimate
