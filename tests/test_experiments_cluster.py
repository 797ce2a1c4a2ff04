"""The study's grid on Dask: the same run gives the same numbers in this process and on a worker,
a worker killed in the middle of the grid loses no run, a run that raises is recorded and the
grid goes on, and a process without the data says which process and which files.

Tiny grids (a few hundred images, one epoch) keep these fast; ``tests/test_compare.py`` runs
the real ``--quick`` grid in one process and on a local cluster.
"""
import dataclasses
import json
import signal
import subprocess
import sys
import threading
import time

import pytest

from experiments.executors import DaskCluster, environment_variable
from experiments.grid import Settings, dependent_specs, independent_specs, selected_experiments, selection_specs
from experiments.runner import chosen_alphas, run_compare
from experiments.runs import MissingDataError, execute_run, process_datasets, run_on_worker
from framework.memory import TRIM_VARIABLE
from experiments.storage import finished_run_ids, json_bytes, load_records
from framework.cli import main

# One seed, one epoch, 256 training images: a LeNet run takes a fraction of a second.
TINY = Settings(selection_seeds=(100,), confirmation_seeds=(0,), mnist_seeds=(0,), batch_seeds=(0,),
                allconv_seeds=(0,), epochs=1, train_size=256, eval_size=200, arms=("none", "l1", "l2", "normloss"),
                alphas=(1e-3,), norm_loss_further=(), batch_sizes=(128,), allconv_epochs=1, allconv_train_size=128, allconv_eval_size=200,
                timing_rounds=1, timing_steps=2, trajectory_every=2)
# Runs long enough (about half a second on a worker) that a worker can be killed in the middle of one.
LONGER = Settings(selection_seeds=(100, 101), epochs=1, train_size=3000, eval_size=1000,
                  arms=("none", "l1", "l2", "normloss"), alphas=(1e-3,), norm_loss_further=())


def numbers(record):
    """A run record without where and how fast it ran, as JSON bytes (NaN as null)."""
    kept = {key: value for key, value in record.items() if key not in ("executed_on", "wall_seconds")}
    kept["rows"] = [{key: value for key, value in row.items() if key != "seconds_per_step"} for row in record["rows"]]
    return json_bytes(kept)


def silent(*args):
    pass


def test_one_run_gives_the_same_numbers_bit_for_bit_in_this_process_and_on_a_worker(study_data):
    spec = [spec for spec in selection_specs(TINY) if spec.regularizer == "normloss"][0]
    here = execute_run(spec, process_datasets(None))
    with DaskCluster(workers=1) as cluster:
        there = cluster.client.submit(run_on_worker, spec, None, pure=False).result()
        # One BLAS thread, and glibc's own malloc thresholds rather than the nanny's trimming.
        assert list(cluster.client.run(environment_variable, "OPENBLAS_NUM_THREADS").values()) == ["1"]
        assert list(cluster.client.run(environment_variable, TRIM_VARIABLE).values()) == [None]
    assert here["executed_on"] == "this process"
    assert there["executed_on"].startswith("worker tcp://127.0.0.1:")
    assert not here["failed"] and len(here["rows"]) == 2 and len(here["trajectory"]) > 2
    assert numbers(here) == numbers(there)


def test_a_run_that_raises_is_recorded_as_failed_and_the_grid_goes_on(study_data, tmp_path, capsys):
    # A negative alpha makes the run's TrainConfig raise; every other run must still finish.
    settings = dataclasses.replace(TINY, alphas=(1e-3, -1.0))
    experiments = selected_experiments("selection")

    assert run_compare(tmp_path, settings=settings, only="selection", progress=False, log=print) == 7
    records = {record["run_id"]: record for record in load_records(tmp_path)}
    assert set(records) == {spec.run_id for spec in independent_specs(settings, experiments)}
    failed = [record for record in records.values() if record["failed"]]
    assert [record["spec"]["alpha"] for record in failed] == [-1.0] * 3
    assert failed[0]["error"].startswith("ValueError: ") and "alpha" in failed[0]["error"]
    assert "Traceback" in failed[0]["traceback"]
    assert all(len(record["rows"]) == 2 for record in records.values() if not record["failed"])
    summary = (tmp_path / "summary.md").read_text()
    assert "## Failed runs" in summary and failed[0]["run_id"] in summary
    assert capsys.readouterr().out.strip().splitlines()[-1].startswith(
        "done: 7 runs executed in this call; 3 failed runs in the folder;")

    # A recorded failure is a finished run: the next call executes nothing.
    assert run_compare(tmp_path, settings=settings, only="selection", progress=False, log=silent) == 0


def test_missing_data_in_this_process_names_the_folder_and_the_files(study_data, tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    code = main(["compare", "--quick", "--workers", "1", "--only", "selection", "--data-dir", str(empty),
                 "--output-dir", str(tmp_path / "out"), "--no-progress"])
    error = capsys.readouterr().err
    assert code == 2
    assert "this process cannot find fashion-mnist" in error
    assert str(empty) in error and "train-images-idx3-ubyte" in error and "t10k-labels-idx1-ubyte" in error
    assert finished_run_ids(tmp_path / "out") == set()


def test_a_local_cluster_without_the_data_stops_before_it_starts_with_one_line(study_data, tmp_path, capsys):
    # Before: 15-19 Dask tracebacks from the workers, then the right line. The command's own process
    # checks the data first (the local workers would read the same folder).
    empty = tmp_path / "empty"
    empty.mkdir()
    code = main(["compare", "--quick", "--workers", "2", "--only", "selection", "--data-dir", str(empty),
                 "--output-dir", str(tmp_path / "out"), "--no-progress"])
    error = capsys.readouterr().err
    assert code == 2
    assert len(error.strip().splitlines()) == 1 and "Traceback" not in error
    assert "this process cannot find fashion-mnist" in error and "train-images-idx3-ubyte" in error
    # Nothing is recorded: the runs are not the ones at fault, and run once the data is there.
    assert finished_run_ids(tmp_path / "out") == set()


def test_a_worker_without_the_data_names_its_address_and_the_files(study_data, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    spec = selection_specs(TINY)[0]
    with DaskCluster(empty, workers=1, log=silent) as cluster:
        cluster.submit(spec)
        with pytest.raises(MissingDataError) as error:
            next(cluster.completed())
    assert str(error.value).startswith("worker tcp://127.0.0.1:") and "cannot find fashion-mnist" in str(error.value)
    assert "train-images-idx3-ubyte" in str(error.value)


def start(command, log_path):
    """Start ``command`` with its output in ``log_path`` (a pipe nobody reads could fill and block it)."""
    return subprocess.Popen(command, stdout=open(log_path, "wb"), stderr=subprocess.STDOUT)


def wait_for(condition, what, timeout=60):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


@pytest.mark.slow
def test_a_worker_killed_in_the_middle_of_the_grid_loses_no_run(study_data, tmp_path):
    from distributed import Client

    scheduler_file = tmp_path / "scheduler.json"
    dask = [sys.executable, "-m", "dask"]
    processes = {}
    try:
        processes["scheduler"] = start(dask + ["scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                                               "--scheduler-file", str(scheduler_file)], tmp_path / "scheduler.log")
        wait_for(scheduler_file.exists, "the scheduler file")
        wait_for(lambda: "address" in scheduler_file.read_text(), "the scheduler's address")
        address = json.loads(scheduler_file.read_text())["address"]
        for name in ("doomed", "survivor"):
            processes[name] = start(dask + ["worker", address, "--name", name, "--nthreads", "1", "--no-nanny",
                                            "--no-dashboard", "--host", "127.0.0.1"], tmp_path / f"{name}.log")
        output_dir = tmp_path / "out"
        with Client(address, timeout="30s") as observer:
            observer.wait_for_workers(2, timeout=60)
            workers = {info["name"]: worker for worker, info in observer.scheduler_info()["workers"].items()}
            outcome = {}

            def grid():
                try:
                    outcome["executed"] = run_compare(output_dir, settings=LONGER, only="selection", scheduler=address,
                                                      progress=False, log=silent)
                except BaseException as error:  # noqa: BLE001 - reported by the assertion below
                    outcome["error"] = error

            thread = threading.Thread(target=grid)
            thread.start()
            # Kill the doomed worker once a run has finished and it holds another.
            held = []

            def doomed_is_busy():
                held[:] = observer.processing(workers=[workers["doomed"]]).get(workers["doomed"], [])
                return bool(held) and len(finished_run_ids(output_dir)) >= 1

            wait_for(doomed_is_busy, "the doomed worker to hold a run")
            processes["doomed"].send_signal(signal.SIGKILL)
            thread.join(timeout=120)
            assert not thread.is_alive(), "the grid did not finish after a worker was killed"
        assert "error" not in outcome, outcome.get("error")

        expected = {spec.run_id for spec in selection_specs(LONGER)}
        records = {record["run_id"]: record for record in load_records(output_dir)}
        assert set(records) == expected and outcome["executed"] == len(expected)
        assert not any(record["failed"] for record in records.values())
        # The runs the doomed worker held when it died were finished by the survivor.
        # (A run whose result left the doomed worker just before the kill may count as its own.)
        lost = {key.split("-", 1)[1].rsplit("-", 1)[0] for key in held}
        assert lost and lost <= expected
        assert any(records[run_id]["executed_on"].startswith(f"worker {workers['survivor']} ") for run_id in lost)

        # A second call finds every run finished and executes none.
        assert run_compare(output_dir, settings=LONGER, only="selection", scheduler=address, progress=False,
                           log=silent) == 0
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.kill()
            process.wait(timeout=30)


def test_the_dependent_runs_use_the_alphas_chosen_from_the_selection_runs(study_data, tmp_path):
    experiments = selected_experiments("batch")
    assert run_compare(tmp_path, settings=TINY, only="batch", progress=False, log=silent) > 0
    chosen = chosen_alphas(tmp_path, TINY)
    expected = {spec.run_id for spec in independent_specs(TINY, experiments) + dependent_specs(TINY, experiments,
                                                                                                 chosen)}
    assert finished_run_ids(tmp_path) == expected
