"""The study's command as careful as ``normnet train``: a damaged, foreign or misnamed file of the study
is one clear line naming it, never a traceback or a silently wrong table; one command per folder;
every wait on a scheduler bounded; a cluster's failure one line naming the run; Ctrl-C quiet.

Most of these need no data and no training; the few that train say so (``study_data``).
"""
import contextlib
import copy
import dataclasses
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

from experiments import report
from experiments.executors import DaskCluster, StudyError, scheduler_address
from experiments.grid import RunSpec, Settings
from experiments.results import result_rows
from experiments.runner import run_compare
from experiments.storage import (RecordError, load_records, load_timing, run_path, runs_folder, store_record,
                                 write_json)
from framework.cli import main
from framework.training import RunFolderError, locked_run_folder
from tests.test_experiments_grid import made_up_record

SPEC = RunSpec("selection", "fashion-mnist", "lenet", "l2", 1e-3, 64, 100, "he", 2, 640)
OTHER_SPEC = dataclasses.replace(SPEC, seed=101)
TIMING_ROW = {"model": "lenet", "regularizer": "none", "alpha": 0.0, "batch_size": 64, "rounds": 3,
              "excluded_rounds": 0, "steps_per_round": 5, "median_seconds_per_step": 0.01,
              "min_seconds_per_step": 0.009, "max_seconds_per_step": 0.011, "ratio_to_none": 1.0,
              "regularizer_seconds_per_step": 0.0, "regularizer_share_of_step": 0.0}


def silent(*args):
    pass


def write_run_file(output_dir, name, content):
    folder = runs_folder(output_dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


# -- damaged, foreign and misnamed run files --------------------------------------------------------

@pytest.mark.parametrize("content, expected", [
    ("", "Expecting value"),
    ("{", "Expecting"),
    ("{}", "the field 'spec' is missing"),
    ("[1, 2]", "expected an object, found list"),
    ('{"spec": {}, "run_id": "x"}', "the field 'rows' is missing"),
])
def test_a_damaged_run_file_is_named_with_the_way_out(tmp_path, content, expected):
    write_run_file(tmp_path, "broken_run", content)
    with pytest.raises(ValueError) as error:
        load_records(tmp_path)
    message = str(error.value)
    assert "broken_run.json: not a run record" in message and expected in message
    assert "delete it" in message


def damaged(change):
    """A made-up record of SPEC with ``change`` applied to it."""
    record = json.loads(json.dumps(made_up_record(SPEC, 0.2)))
    change(record)
    return record


@pytest.mark.parametrize("change, expected", [
    (lambda record: record.pop("diverged"), "the field 'diverged' is missing"),
    (lambda record: record.pop("trajectory"), "the field 'trajectory' is missing"),
    (lambda record: record.update(rows={"epoch": 0}), "'rows' should be list, found dict"),
    (lambda record: record.update(diverged="no"), "'diverged' should be bool, found str"),
    (lambda record: record["rows"][1].pop("test_error"), "row 1: the field 'test_error' is missing"),
    (lambda record: record["rows"][1].update(validation_error="0.2"), "row 1: 'validation_error' should be"),
    (lambda record: record["rows"][1].update(validation_error=True), "found bool"),
    (lambda record: record["rows"][1].update(test_error=7.0), "'test_error' 7.0 is not an error rate"),
    (lambda record: record["rows"].pop(), "2 rows for 2 epochs"),
    (lambda record: record["rows"][2].update(epoch=5), "row 2 is of epoch 5"),
    (lambda record: record["trajectory"][0].update(layer_norm_means=["a"]), "expected a list of numbers"),
    (lambda record: record["spec"].update(seed="100"), "the spec's 'seed' should be int, found str"),
    (lambda record: record["spec"].pop("epochs"), "the spec's field 'epochs' is missing"),
    (lambda record: record["spec"].update(colour="red"), "unknown fields ['colour']"),
    (lambda record: record["spec"].update(seed=5), "is not its spec's"),
    (lambda record: record.update(failed=True), "a failed run's record: the field 'error' is missing"),
    (lambda record: record.update(code={"digest": 1}), "'code': 'digest' should be str"),
])
def test_a_record_with_a_field_missing_or_of_the_wrong_type_is_one_error_naming_its_file(tmp_path, change,
                                                                                          expected):
    # Before: a KeyError, AttributeError or TypeError from deep in the report, or a silent wrong table.
    path = write_run_file(tmp_path, SPEC.run_id, damaged(change))
    with pytest.raises(RecordError) as error:
        load_records(tmp_path)
    assert str(error.value).startswith(f"{path}: not a run record: ") and expected in str(error.value)


def test_a_record_stored_under_another_runs_name_is_refused_not_counted_as_a_seed(tmp_path):
    store_record(tmp_path, made_up_record(SPEC, 0.2))
    copied = run_path(tmp_path, OTHER_SPEC.run_id)
    copied.write_bytes(run_path(tmp_path, SPEC.run_id).read_bytes())
    with pytest.raises(RecordError, match=f"{copied}: not a run record: holds the record of run {SPEC.run_id}"):
        load_records(tmp_path)


def test_a_record_of_another_grid_is_left_out_of_the_report(tmp_path):
    # Both records are whole and named rightly, but only SPEC's run is in the grid: the other (a run
    # of other settings) must not become a second row of seed 100.
    foreign = dataclasses.replace(SPEC, learning_rate=0.01)
    store_record(tmp_path, made_up_record(SPEC, 0.2))
    store_record(tmp_path, made_up_record(foreign, 0.9))
    printed = []
    report.write_reports(tmp_path, Settings.quick(), log=printed.append, grid={SPEC.run_id})
    results = report.read_csv(tmp_path / "results.csv")
    assert {row["run_id"] for row in results} == {SPEC.run_id}
    assert any(f"1 run records in {tmp_path}/runs are not runs of this grid" in line
               and foreign.run_id in line for line in printed)


def test_a_fifo_among_the_run_files_is_refused_without_waiting(tmp_path):
    folder = runs_folder(tmp_path)
    folder.mkdir(parents=True)
    os.mkfifo(folder / "pipe.json")
    with pytest.raises(RecordError, match="pipe.json: not a run record: not a regular file"):
        load_records(tmp_path)


@pytest.mark.parametrize("content, expected", [
    ("[]", "expected a non-empty list of rows, found an empty list"),
    ('[{"model": "lenet"', "not JSON"),
    ("{}", "expected a non-empty list of rows, found an empty dict"),
    (json.dumps([{**TIMING_ROW, "rounds": "3"}]), "row 0: 'rounds' should be int, found str"),
    (json.dumps([{key: value for key, value in TIMING_ROW.items() if key != "model"}]),
     "row 0: the field 'model' is missing"),
])
def test_a_damaged_timing_file_is_one_error_naming_it(tmp_path, content, expected):
    # Before: [] was an IndexError, a truncated file a JSON message naming no file.
    path = tmp_path / "timing.json"
    path.write_text(content)
    with pytest.raises(RecordError) as error:
        load_timing(path)
    assert str(error.value).startswith(f"{path}: not the timing's rows: ") and expected in str(error.value)
    assert "delete it" in str(error.value)


def test_normnet_compare_over_a_damaged_run_file_prints_one_line(tmp_path):
    write_run_file(tmp_path, "broken_run", "{}")
    # The command reads the finished records before it runs or reports anything.
    result = subprocess.run([sys.executable, "-c", "import sys\n"
                             "from framework.cli import main\n"
                             "sys.exit(main(['compare', '--quick', '--output-dir', sys.argv[1], '--workers', '1']))",
                             str(tmp_path)], capture_output=True, text=True, timeout=600)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "broken_run.json: not a run record" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


# -- the seeded fuzz test of study records and timing.json ------------------------------------------

def mutations(value, rng, path=()):
    """Every (path, container) inside a JSON value, for picking a place to damage."""
    places = [(path, value)]
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, entry in items:
        if isinstance(entry, (dict, list)):
            places += mutations(entry, rng, path + (key,))
    return places


ODD_VALUES = (None, True, False, 0, -1, 1.5, 1e308, -1e308, "", "x", "0.1", [], {}, [None], {"a": 1}, 2 ** 70)


def mutate(document, rng):
    """``document`` (JSON text) damaged one random way: a field dropped, a value replaced by an odd
    one, a field added, or the bytes truncated or flipped."""
    how = rng.integers(5)
    if how == 3:
        return document[:rng.integers(len(document))]
    if how == 4:
        index = rng.integers(len(document))
        return document[:index] + chr(rng.integers(32, 127)) + document[index + 1:]
    value = json.loads(document)
    places = mutations(value, rng)
    _, container = places[rng.integers(len(places))]
    keys = list(container) if isinstance(container, dict) else list(range(len(container)))
    if not keys:
        return json.dumps(value) + " "
    key = keys[rng.integers(len(keys))]
    if how == 0:
        container.pop(key)
    elif how == 1:
        container[key] = copy.deepcopy(ODD_VALUES[rng.integers(len(ODD_VALUES))])
    elif isinstance(container, dict):
        container[f"extra_{rng.integers(100)}"] = 1
    else:
        container.append(copy.deepcopy(container[key]))
    return json.dumps(value)


def test_fuzzed_run_records_and_timing_files_load_correctly_or_fail_naming_the_file(tmp_path):
    import numpy as np

    rng = np.random.default_rng(20261207)
    record_text = json.dumps(made_up_record(SPEC, 0.2))
    timing_text = json.dumps([TIMING_ROW, {**TIMING_ROW, "regularizer": "l2", "alpha": 1e-3}])
    outcomes = {"loaded": 0, "refused": 0}
    for trial in range(400):
        folder = tmp_path / str(trial)
        text = mutate(record_text, rng)
        path = write_run_file(folder, SPEC.run_id, text)
        timing = folder / "timing.json"
        timing.write_text(mutate(timing_text, rng))
        for load, named in ((lambda: result_rows(load_records(folder)), path),
                            (lambda: report._write_csv(folder / "timing.csv", list(TIMING_ROW),
                                                       load_timing(timing)), timing)):
            try:
                load()
            except RecordError as error:
                assert str(error).startswith(f"{named}: ") and "\n" not in str(error), str(error)
                outcomes["refused"] += 1
            else:
                outcomes["loaded"] += 1
    # Both ways out happen: the fuzzing reaches the checks, and harmless damage (an extra field) loads.
    assert outcomes["loaded"] > 20 and outcomes["refused"] > 400


def test_a_full_disk_names_the_file_it_could_not_write(tmp_path, monkeypatch):
    import errno

    from experiments import storage

    def no_space(path, write):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(storage, "atomic_write", no_space)
    with pytest.raises(OSError, match=f"cannot write {tmp_path / 'timing.json'}: No space left on device"):
        write_json(tmp_path / "timing.json", [TIMING_ROW])


# -- one command per folder ------------------------------------------------------------------------

def test_a_second_compare_into_a_folder_in_use_is_refused(tmp_path):
    # Before: both trained every run, and their "alone" timings ran at once.
    with locked_run_folder(tmp_path / "out"):
        with pytest.raises(RunFolderError, match="is in use by another normnet command"):
            run_compare(tmp_path / "out", quick=True, progress=False, log=silent)


# -- scheduler addresses and the handshake ---------------------------------------------------------

@pytest.mark.parametrize("address, expected", [
    ("tls://127.0.0.1:8786", "tls:// needs certificates"),
    ("tcp://127.0.0.1:abc", "with a host and a port from 1 to 65535"),
    ("tcp://127.0.0.1:99999", "with a host and a port from 1 to 65535"),
    ("tcp://", "with a host and a port"),
    ("inproc://x", "the protocol 'inproc'"),
    ("127.0.0.1:8786", "expected a scheduler address like tcp://HOST:PORT"),
])
def test_a_scheduler_address_is_checked_before_any_connection(address, expected, capsys):
    with pytest.raises(ValueError, match=expected):
        scheduler_address(address)
    started = time.monotonic()
    with pytest.raises(SystemExit) as exit_code:
        main(["compare", "--scheduler", address, "--output-dir", "unused"])
    assert exit_code.value.code == 2 and time.monotonic() - started < 5
    error = capsys.readouterr().err
    assert expected.split(" (")[0] in error and "Traceback" not in error


@pytest.mark.parametrize("address", ["tcp://127.0.0.1:8786", "tcp://[::1]:8786", "tcp://scheduler.lab:1"])
def test_good_scheduler_addresses_pass(address):
    assert scheduler_address(address) == address


@contextlib.contextmanager
def fake_server(reply):
    """A TCP server on a free port that accepts connections and answers ``reply`` (bytes, or None
    for silence) to each; yields its tcp:// address."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    connections = []

    def serve():
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            connections.append(connection)
            if reply is not None:
                with contextlib.suppress(OSError):
                    connection.recv(65536)
                    connection.sendall(reply)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"tcp://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        listener.close()
        for connection in connections:
            connection.close()


HTTP_400 = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 11\r\nConnection: close\r\n\r\nBad Request"


@pytest.mark.parametrize("reply, expected", [
    (None, "no Dask scheduler answered at tcp://127.0.0.1:"),
    (HTTP_400, "does not answer as a Dask scheduler"),
])
def test_a_port_that_is_not_a_dask_scheduler_is_refused_within_the_handshake_time_out(tmp_path, reply, expected):
    # Before: a silent server was waited for forever, an HTTP one ended in "Unable to allocate 3.01 EiB".
    with fake_server(reply) as address:
        started = time.monotonic()
        with pytest.raises(StudyError, match=expected):
            with DaskCluster(scheduler=address, log=silent, handshake_timeout=1.0):
                pass
        assert time.monotonic() - started < 10


def test_the_handshake_time_out_is_an_option_with_a_stated_default(capsys):
    with pytest.raises(SystemExit):
        main(["compare", "--help"])
    assert "--scheduler-timeout SECONDS" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_code:
        main(["compare", "--scheduler-timeout", "0", "--output-dir", "unused"])
    assert exit_code.value.code == 2 and "expected a number of seconds > 0" in capsys.readouterr().err


def test_normnet_compare_at_a_silent_port_prints_one_line_after_the_time_out(tmp_path, study_data):
    with fake_server(None) as address:
        result = subprocess.run([sys.executable, "-m", "framework.cli", "compare", "--quick", "--only", "selection",
                                 "--scheduler", address, "--scheduler-timeout", "2", "--output-dir",
                                 str(tmp_path / "out"), "--no-progress"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"normnet compare: error: no Dask scheduler answered at {address} within 2 s (nothing listens there, or "
        "something that does not speak Dask's protocol; --scheduler-timeout changes the bound)"]


def test_a_client_without_the_timing_data_stops_before_the_grid(tmp_path):
    # Before: the cluster trained every run, then the client failed at the timing step, every time.
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(Exception) as error:
        run_compare(tmp_path / "out", quick=True, data_dir=empty, scheduler="tcp://127.0.0.1:9", progress=False,
                    log=silent)
    assert "this process cannot find fashion-mnist" in str(error.value)
    assert not runs_folder(tmp_path / "out").exists()


# -- a cluster's failure, one line naming the run --------------------------------------------------

class GoneFuture:
    """A Dask future as the client sees it once the scheduler died (or a task raised)."""

    def __init__(self, key, status, error=None):
        self.key, self.status, self.error = key, status, error

    def exception(self):
        return self.error

    def release(self):
        pass


@pytest.mark.parametrize("status, error, expected", [
    ("cancelled", None, "lost the Dask cluster on a test cluster while run {run} was in progress (cancelled)"),
    ("lost", None, "lost the Dask cluster on a test cluster while run {run} was in progress (lost)"),
    ("error", ModuleNotFoundError("No module named 'experiments'\nmore"),
     "run {run} could not execute on a test cluster: ModuleNotFoundError: No module named 'experiments' (is normnet "
     "installed on every worker?)"),
])
def test_a_cluster_that_fails_is_one_line_naming_the_run(status, error, expected):
    # Before: "RuntimeError: ... NoneType: None (is normnet installed on every worker?)".
    cluster = DaskCluster(workers=1)
    cluster.description = "on a test cluster"
    cluster._completion = [GoneFuture("run-x", status, error)]
    cluster._specs = {"run-x": SPEC}
    with pytest.raises(StudyError) as raised:
        next(cluster.completed())
    assert str(raised.value).startswith(expected.format(run=SPEC.run_id)) and "\n" not in str(raised.value)


@pytest.mark.slow
def test_ctrl_c_stops_a_local_cluster_quietly(study_data, tmp_path):
    # Before: four worker tracebacks in 81 lines. The whole process group gets SIGINT, as from a terminal.
    process = subprocess.Popen([sys.executable, "-m", "framework.cli", "compare", "--quick", "--workers", "2",
                                "--output-dir", str(tmp_path / "out"), "--no-progress"], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, start_new_session=True)
    printed = []
    for line in process.stdout:
        printed.append(line)
        if line.startswith("running the grid"):
            break
    time.sleep(2)
    os.killpg(process.pid, signal.SIGINT)
    rest, _ = process.communicate(timeout=120)
    after = rest.strip().splitlines()
    assert process.returncode == 130
    assert "Traceback" not in rest and "KeyboardInterrupt" not in rest
    assert after[-1].startswith("interrupted: finished runs are kept in") and len(after) <= 30
