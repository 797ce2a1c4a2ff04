"""`normnet train`'s run folder: a finished run is never overwritten silently, one run writes to a
folder at a time, a kill -9 at any point loses at most the epoch in progress (real fault injection:
a child process killed at a chosen point, then --resume, compared bit for bit with an uninterrupted
run), a diverging run keeps a true last good checkpoint, and files respect the umask."""
import csv
import json
import os
import shutil
import signal
import subprocess
import sys

import numpy as np
import pytest

from framework.cli import build_parser, main
from framework.persistence import METADATA_KEY, CheckpointError, _digest, read_checkpoint
from framework.training import (CHECKPOINT, LOCK, RUN_FILES, RunFolderError, TrainConfig, locked_run_folder,
                                train)
from tests.conftest import REPOSITORY, mnist_folder

# Ten steps per epoch, two epochs, dropout (whose generator a resume must restore) and a
# learning-rate schedule (which a resume must continue).
SETTINGS = ["--epochs", "2", "--batch-size", "32", "--train-size", "320", "--dropout", "0.5", "--lr-decay", "0.5",
            "--seed", "7", "--no-progress"]
TIMING_COLUMNS = ("seconds", "seconds_per_step", "images_per_second")


def train_arguments(folder, *extra):
    return ["train", *SETTINGS, "--data-dir", str(mnist_folder()), "--output-dir", str(folder), *extra]


def quiet(*_):
    pass


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """A finished two-epoch run, written under umask 022."""
    folder = tmp_path_factory.mktemp("finished") / "run"
    previous = os.umask(0o022)
    try:
        assert main(train_arguments(folder)) == 0
    finally:
        os.umask(previous)
    return folder


@pytest.fixture
def run_copy(finished_run, tmp_path):
    folder = tmp_path / "run"
    shutil.copytree(finished_run, folder)
    return folder


def stored_arrays(path):
    with np.load(path, allow_pickle=False) as archive:
        return {key: archive[key] for key in archive.files if key != METADATA_KEY}


def assert_same_checkpoint(expected, actual):
    """Every array of the two checkpoints, bit for bit."""
    expected, actual = stored_arrays(expected), stored_arrays(actual)
    assert sorted(expected) == sorted(actual)
    for key in expected:
        np.testing.assert_array_equal(expected[key], actual[key], err_msg=key)


def metric_rows(path):
    with open(path) as handle:
        return [{key: value for key, value in row.items() if key not in TIMING_COLUMNS}
                for row in csv.DictReader(handle)]


def one_line_error(capsys):
    error = capsys.readouterr().err.strip()
    assert "\n" not in error and error.startswith("normnet train: error: "), error
    return error


# -- a finished run is never overwritten silently ---------------------------------------------

def test_training_into_a_finished_run_is_refused_with_the_ways_out(run_copy, capsys):
    before = {name: (run_copy / name).read_bytes() for name in RUN_FILES}
    assert main(train_arguments(run_copy)) == 2
    error = one_line_error(capsys)
    assert str(run_copy) in error and "--resume" in error and "--force" in error and "--output-dir" in error
    assert {name: (run_copy / name).read_bytes() for name in RUN_FILES} == before


@pytest.mark.parametrize("name", [name for name in RUN_FILES if name != CHECKPOINT])
def test_a_run_file_without_a_checkpoint_is_the_users_and_takes_the_folder(tmp_path, name):
    (tmp_path / name).write_text("")
    for options in ({}, {"force": True}, {"resume": True}):
        with pytest.raises(RunFolderError, match=f"holds {name} but no {CHECKPOINT} of normnet train"):
            train(TrainConfig(), tmp_path, data_dir=mnist_folder(), log=quiet, **options)
    assert (tmp_path / name).read_text() == ""


def test_force_replaces_the_run_and_keeps_the_users_files(run_copy, capsys):
    (run_copy / "notes.txt").write_text("mine")
    (run_copy / "data.tmp").write_text("mine too")
    assert main(train_arguments(run_copy, "--epochs", "1", "--force")) == 0
    assert len(metric_rows(run_copy / "metrics.csv")) == 1
    assert len(read_checkpoint(run_copy / CHECKPOINT)[1]["history"]) == 1
    assert (run_copy / "notes.txt").read_text() == "mine" and (run_copy / "data.tmp").read_text() == "mine too"


def test_resume_and_force_exclude_each_other(tmp_path):
    with pytest.raises(ValueError, match="exclude each other"):
        train(TrainConfig(), tmp_path, resume=True, force=True)


# -- one run per folder at a time ---------------------------------------------------------------

HOLD_LOCK = """
import sys, time
from framework.training import locked_run_folder
with locked_run_folder(sys.argv[1]):
    print("locked", flush=True)
    time.sleep(120)
"""


def child_environment():
    return dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", NORMNET_DATA=str(mnist_folder()),
                PYTHONPATH=str(REPOSITORY))


def test_a_second_run_into_a_locked_folder_is_refused_and_a_killed_holder_frees_it(tmp_path, capsys):
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(tmp_path)], cwd=REPOSITORY,
                              env=child_environment(), stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        assert main(train_arguments(tmp_path)) == 2
        error = one_line_error(capsys)
        assert f"{tmp_path} is in use by another normnet train (process {holder.pid} holds" in error
    finally:
        holder.kill()  # SIGKILL: the holder gets no chance to clean up
        holder.wait()
    # The lock file stays behind, but the lock died with its process.
    assert (tmp_path / LOCK).exists()
    with locked_run_folder(tmp_path):
        with pytest.raises(RunFolderError, match="in use by another normnet train"):
            with locked_run_folder(tmp_path):
                pass


# -- kill -9 at a chosen point, then --resume -----------------------------------------------------

KILL_AT = """
import os, signal, sys
from pathlib import Path

target, count = sys.argv[1], int(sys.argv[2])
seen = {}

def die_at_the_chosen_call(name):
    seen[name] = seen.get(name, 0) + 1
    if name == target and seen[name] == count:
        os.kill(os.getpid(), signal.SIGKILL)

real_replace = os.replace

def replace(source, destination):
    # The rename that finishes an atomic write: dying here leaves the new file complete but unnamed.
    die_at_the_chosen_call(Path(destination).name)
    return real_replace(source, destination)

os.replace = replace

from framework.neural_network import NeuralNetwork

real_train = NeuralNetwork.train

def train(self, iterations):
    die_at_the_chosen_call("step")
    return real_train(self, iterations)

NeuralNetwork.train = train

from framework.cli import main
sys.exit(main(sys.argv[3:]))
"""


def killed_run(folder, target, count):
    """Run normnet train in a child process that SIGKILLs itself at the ``count``-th ``target``
    (a training step, or the rename that completes a write of the named file)."""
    result = subprocess.run([sys.executable, "-c", KILL_AT, target, str(count), *train_arguments(folder)],
                            cwd=REPOSITORY, env=child_environment(), capture_output=True, text=True, timeout=300)
    assert result.returncode == -signal.SIGKILL, result.stderr


def test_kill_during_training_then_resume_is_bit_identical(finished_run, tmp_path, capsys):
    folder = tmp_path / "run"
    killed_run(folder, "step", 14)  # the 4th step of the second epoch
    assert len(read_checkpoint(folder / CHECKPOINT)[1]["history"]) == 1
    assert main(train_arguments(folder, "--resume")) == 0
    assert_same_checkpoint(finished_run / CHECKPOINT, folder / CHECKPOINT)
    assert metric_rows(folder / "metrics.csv") == metric_rows(finished_run / "metrics.csv")


def test_kill_in_the_middle_of_a_checkpoint_write_then_resume_is_bit_identical(finished_run, tmp_path, capsys):
    folder = tmp_path / "run"
    killed_run(folder, CHECKPOINT, 2)  # the second epoch's checkpoint is written but not yet renamed
    leftovers = list(folder.glob(f".{CHECKPOINT}.*.tmp"))
    assert len(leftovers) == 1
    assert len(read_checkpoint(folder / CHECKPOINT)[1]["history"]) == 1
    (folder / "my.tmp").write_text("a user's file")
    assert main(train_arguments(folder, "--resume")) == 0
    assert_same_checkpoint(finished_run / CHECKPOINT, folder / CHECKPOINT)
    assert not leftovers[0].exists()  # the stale temporary file is cleaned up ...
    assert (folder / "my.tmp").read_text() == "a user's file"  # ... and nothing else


def test_kill_between_checkpoint_and_metrics_then_resume_rewrites_them(finished_run, tmp_path, capsys):
    folder = tmp_path / "run"
    killed_run(folder, "metrics.csv", 2)  # the second epoch's checkpoint is in place, its metrics are not
    assert len(read_checkpoint(folder / CHECKPOINT)[1]["history"]) == 2
    assert len(metric_rows(folder / "metrics.csv")) == 1
    curves_before = (folder / "curves.png").read_bytes()
    assert main(train_arguments(folder, "--resume")) == 0
    assert f"resuming from {folder / CHECKPOINT} after epoch 2" in capsys.readouterr().out
    assert metric_rows(folder / "metrics.csv") == metric_rows(finished_run / "metrics.csv")
    assert (folder / "curves.png").read_bytes() != curves_before  # redrawn with both epochs
    assert_same_checkpoint(finished_run / CHECKPOINT, folder / CHECKPOINT)


# -- a diverging run keeps a true last good checkpoint ------------------------------------------

@pytest.mark.parametrize("poisoned_step, message", [
    (20, "after epoch 2; the last good checkpoint is {checkpoint} (after epoch 1)"),
    (10, "after epoch 1; no epoch finished, so there is no checkpoint"),
])
def test_weights_that_turn_non_finite_never_reach_the_checkpoint(tmp_path, monkeypatch, poisoned_step, message):
    # The last step of an epoch: its loss is finite (computed before the update), its update is not.
    from framework.neural_network import NeuralNetwork

    real_train = NeuralNetwork.train
    calls = {"count": 0}

    def train_then_poison(self, iterations):
        real_train(self, iterations)
        calls["count"] += 1
        if calls["count"] == poisoned_step:
            layer = next(layer for layer in self.layers if layer.trainable)
            layer.weights = np.full_like(layer.weights, np.nan)

    monkeypatch.setattr(NeuralNetwork, "train", train_then_poison)
    config = TrainConfig(epochs=2, batch_size=32, train_size=320, seed=7)
    with pytest.raises(FloatingPointError) as error_info:
        train(config, tmp_path, data_dir=mnist_folder(), log=quiet)
    assert "layers.0.weights holds non-finite values " + message.format(checkpoint=tmp_path / CHECKPOINT) \
        in str(error_info.value)
    if poisoned_step == 20:
        network, extra = read_checkpoint(tmp_path / CHECKPOINT)
        assert len(extra["history"]) == 1
        assert all(np.isfinite(layer.weights).all() for layer in network.layers if layer.trainable)
    else:
        assert not (tmp_path / CHECKPOINT).exists()


# -- a malformed checkpoint on --resume -----------------------------------------------------------

def rewrite_extra(path, change):
    with np.load(path, allow_pickle=False) as archive:
        arrays = {key: archive[key] for key in archive.files}
    metadata = json.loads(arrays.pop(METADATA_KEY).tobytes())
    change(metadata["extra"])
    metadata["digest"] = _digest(metadata, arrays)
    np.savez(path, **arrays, **{METADATA_KEY: np.frombuffer(json.dumps(metadata).encode(), np.uint8)})


@pytest.mark.parametrize("change, message", [
    (lambda extra: extra.update(history="x"), 'extra.history: expected a list of per-epoch rows, got "x"'),
    (lambda extra: extra["history"][1].update(epoch=5), "extra.history[1].epoch: expected 2, got 5"),
    (lambda extra: extra["history"][0].update(train_loss=[1]), "extra.history[0].train_loss: expected a number"),
    (lambda extra: extra.pop("data_state"), "extra.data_state: missing"),
    (lambda extra: extra["data_state"].pop("num_samples"), "extra.data_state.num_samples: missing"),
    (lambda extra: extra.update(config=[]), "extra.config: expected an object, got a list"),
])
def test_resume_from_a_malformed_checkpoint_is_one_clear_line(run_copy, capsys, change, message):
    rewrite_extra(run_copy / CHECKPOINT, change)
    assert main(train_arguments(run_copy, "--resume")) == 2
    error = one_line_error(capsys)
    assert f"{run_copy / CHECKPOINT}: {message}" in error


def test_resume_from_a_checkpoint_whose_extra_is_a_list_is_one_clear_line(run_copy, capsys):
    path = run_copy / CHECKPOINT
    with np.load(path, allow_pickle=False) as archive:
        arrays = {key: archive[key] for key in archive.files}
    metadata = json.loads(arrays.pop(METADATA_KEY).tobytes())
    metadata["extra"] = []
    metadata["digest"] = _digest(metadata, arrays)
    np.savez(path, **arrays, **{METADATA_KEY: np.frombuffer(json.dumps(metadata).encode(), np.uint8)})
    assert main(train_arguments(run_copy, "--resume")) == 2
    assert "extra: expected an object, got a list" in one_line_error(capsys)
    with pytest.raises(CheckpointError):
        train(TrainConfig(epochs=2, batch_size=32, train_size=320, dropout=0.5, lr_decay=0.5, seed=7), run_copy,
              data_dir=mnist_folder(), resume=True, log=quiet)


# -- settings that cannot work are refused before anything runs -------------------------------

def test_a_batch_larger_than_the_training_set_is_refused(tmp_path, capsys):
    assert main(["train", "--batch-size", "100000", "--train-size", "64", "--output-dir", str(tmp_path)]) == 2
    assert "batch_size must be at most train_size (64)" in one_line_error(capsys)
    with pytest.raises(ValueError, match=r"batch_size 70000 is larger than the training set \(60000 images\)"):
        train(TrainConfig(batch_size=70000), tmp_path / "whole", data_dir=mnist_folder(), log=quiet)


def test_a_negative_seed_is_refused_naming_the_option(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--seed", "-1"])
    assert "argument --seed: expected an integer >= 0, got -1" in capsys.readouterr().err
    with pytest.raises(ValueError, match="seed must be an integer >= 0"):
        TrainConfig(seed=-1)


def test_the_train_command_builds_its_config_in_one_place():
    arguments = build_parser().parse_args(["train", "--epochs", "4", "--lr", "0.01", "--teaching-layers",
                                           "--batch-norm", "--train-size", "640"])
    config = TrainConfig.from_arguments(arguments)
    assert (config.epochs, config.learning_rate, config.fast, config.batch_norm, config.train_size) == \
        (4, 0.01, False, True, 640)
    # Every setting of a run is an option of the command.
    defaults = TrainConfig.from_arguments(build_parser().parse_args(["train"]))
    assert all(hasattr(build_parser().parse_args(["train"]), name) for name in defaults.to_dict())
    assert defaults == TrainConfig()


# -- permissions ---------------------------------------------------------------------------------

def test_run_files_respect_the_umask(finished_run):
    for name in RUN_FILES:
        assert (finished_run / name).stat().st_mode & 0o777 == 0o644, name


def test_the_lock_is_released_when_train_returns(finished_run):
    # flock locks of two opens conflict within one process too: a lock train kept would show here.
    with locked_run_folder(finished_run):
        pass


# -- a file normnet did not write is never replaced ------------------------------------------------

def users_files(folder):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text('{"my": "own settings"}')
    (folder / "metrics.csv").write_text("my,own\n1,2\n")
    return {name: (folder / name).read_bytes() for name in ("config.json", "metrics.csv")}


@pytest.mark.parametrize("flag", [[], ["--resume"], ["--force"]])
def test_the_users_own_config_and_metrics_are_never_replaced(tmp_path, capsys, flag):
    folder = tmp_path / "proj"
    before = users_files(folder)
    assert main(train_arguments(folder, *flag)) == 2
    error = one_line_error(capsys)
    assert "config.json" in error and "not written by normnet" in error
    assert {name: (folder / name).read_bytes() for name in before} == before
    assert sorted(path.name for path in folder.iterdir() if path.name != LOCK) == ["config.json", "metrics.csv"]


def test_resume_of_a_run_whose_checkpoint_was_moved_away_replaces_nothing(run_copy, capsys):
    (run_copy / CHECKPOINT).rename(run_copy.parent / "elsewhere.npz")
    before = {name: (run_copy / name).read_bytes() for name in ("metrics.csv", "curves.png", "config.json")}
    assert main(train_arguments(run_copy, "--resume")) == 2
    assert "not written by normnet" in one_line_error(capsys)
    assert {name: (run_copy / name).read_bytes() for name in before} == before


def test_resume_without_a_checkpoint_refuses_a_folder_holding_anything(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("mine")
    assert main(train_arguments(tmp_path, "--resume")) == 2
    error = one_line_error(capsys)
    assert f"no {CHECKPOINT} in {tmp_path} to resume from" in error and "notes.txt" in error
    assert sorted(path.name for path in tmp_path.iterdir() if path.name != LOCK) == ["notes.txt"]


@pytest.mark.parametrize("content", [b"", b"my own archive", None])
def test_a_checkpoint_that_normnet_train_did_not_write_is_never_replaced(tmp_path, capsys, content):
    path = tmp_path / CHECKPOINT
    if content is None:  # a network saved by framework.save: normnet's format, but no training run
        from framework import save
        from framework.models import build_lenet
        save(path, build_lenet())
    else:
        path.write_bytes(content)
    before = path.read_bytes()
    for flag in ([], ["--force"]):
        assert main(train_arguments(tmp_path, *flag)) == 2
        assert f"{path} is not a checkpoint of normnet train" in one_line_error(capsys)
    assert path.read_bytes() == before


# -- --force keeps the old run until the new one has saved its first checkpoint ---------------------

def interrupt_at_step(monkeypatch, count, error=KeyboardInterrupt):
    from framework.neural_network import NeuralNetwork

    real_train = NeuralNetwork.train
    calls = {"count": 0}

    def train(self, iterations):
        calls["count"] += 1
        if calls["count"] == count:
            raise error("stopped by the test")
        return real_train(self, iterations)

    monkeypatch.setattr(NeuralNetwork, "train", train)


def run_bytes(folder):
    return {name: (folder / name).read_bytes() for name in RUN_FILES}


def test_force_interrupted_in_its_first_epoch_keeps_the_old_run(run_copy, capsys, monkeypatch):
    before = run_bytes(run_copy)
    interrupt_at_step(monkeypatch, 3)
    assert main(train_arguments(run_copy, "--force", "--seed", "8")) == 130
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "Traceback" not in error
    assert "nothing was saved" in error and f"the run in {run_copy} is as it was" in error
    assert "finished epochs are saved" not in error
    assert run_bytes(run_copy) == before


def test_force_diverging_in_its_first_epoch_keeps_the_old_run(run_copy, capsys, monkeypatch):
    before = run_bytes(run_copy)
    interrupt_at_step(monkeypatch, 3, FloatingPointError)
    assert main(train_arguments(run_copy, "--force", "--seed", "8")) == 1
    error = capsys.readouterr().err
    assert "no epoch of this run finished" in error and f"the run in {run_copy} is as it was" in error
    assert run_bytes(run_copy) == before


def test_force_replaces_the_old_run_at_its_first_checkpoint(run_copy, capsys):
    assert main(train_arguments(run_copy, "--force", "--epochs", "1", "--seed", "8")) == 0
    config = json.loads((run_copy / "config.json").read_text())
    assert (config["seed"], config["epochs"]) == (8, 1)
    assert read_checkpoint(run_copy / CHECKPOINT)[1]["config"] == config
    assert len(metric_rows(run_copy / "metrics.csv")) == 1


# -- Ctrl-C: one true line, never a traceback ---------------------------------------------------------

def interrupted_main(arguments):
    try:
        return main(arguments)
    except KeyboardInterrupt:
        pytest.fail("KeyboardInterrupt escaped main")


def test_ctrl_c_in_the_first_second_is_one_line(tmp_path, capsys, monkeypatch):
    import framework.cli

    def interrupted(*_):
        raise KeyboardInterrupt

    monkeypatch.setattr(framework.cli, "build_parser", interrupted)
    assert interrupted_main(train_arguments(tmp_path)) == 130
    error = capsys.readouterr().err
    assert error == "normnet: interrupted\n"


def test_ctrl_c_before_the_first_epoch_says_nothing_was_saved(tmp_path, capsys, monkeypatch):
    import framework.training

    def interrupted(*_):
        raise KeyboardInterrupt

    monkeypatch.setattr(framework.training, "load_data", interrupted)
    assert interrupted_main(train_arguments(tmp_path / "run")) == 130
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "nothing was saved" in error and "are saved" not in error


def test_ctrl_c_after_an_epoch_names_the_saved_epochs_and_the_resume_command(tmp_path, capsys, monkeypatch):
    interrupt_at_step(monkeypatch, 14)
    folder = tmp_path / "run"
    assert interrupted_main(train_arguments(folder)) == 130
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert f"epoch 1 is saved in {folder}" in error and f"--output-dir {folder} --resume" in error


# -- a resumed run takes its settings from its checkpoint ---------------------------------------------

def test_the_readme_example_resumes_with_resume_alone(tmp_path, capsys, monkeypatch):
    folder = tmp_path / "normloss"
    interrupt_at_step(monkeypatch, 14)
    assert interrupted_main(train_arguments(folder, "--regularizer", "normloss", "--alpha", "1e-3")) == 130
    monkeypatch.undo()
    assert main(["train", "--output-dir", str(folder), "--resume", "--data-dir", str(mnist_folder()),
                 "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "normloss alpha 0.001" in out
    _, extra = read_checkpoint(folder / CHECKPOINT)
    assert len(extra["history"]) == 2
    assert (extra["config"]["regularizer"], extra["config"]["alpha"], extra["config"]["dropout"]) == \
        ("normloss", 1e-3, 0.5)


def test_resume_refuses_a_disagreeing_option_by_name(run_copy, capsys):
    before = run_bytes(run_copy)
    assert main(["train", "--output-dir", str(run_copy), "--resume", "--learning-rate", "0.1"]) == 2
    error = one_line_error(capsys)
    assert "--learning-rate 0.1" in error and "0.001" in error
    assert run_bytes(run_copy) == before


def test_resume_refuses_fewer_epochs_than_the_run_finished(run_copy, capsys):
    before = run_bytes(run_copy)
    assert main(train_arguments(run_copy, "--resume", "--epochs", "1")) == 2
    error = one_line_error(capsys)
    assert "--epochs 1" in error and "2 epochs" in error
    assert run_bytes(run_copy) == before


def test_resume_with_more_epochs_continues_the_run(run_copy, capsys):
    assert main(["train", "--output-dir", str(run_copy), "--resume", "--epochs", "3",
                 "--data-dir", str(mnist_folder()), "--no-progress"]) == 0
    _, extra = read_checkpoint(run_copy / CHECKPOINT)
    assert len(extra["history"]) == 3 and extra["config"]["epochs"] == 3
    assert json.loads((run_copy / "config.json").read_text())["epochs"] == 3


def test_a_checkpoint_from_before_later_options_resumes_with_the_values_older_code_used(run_copy, capsys):
    # Written before --coupled (and before --lr-decay and --teaching-layers) existed.
    def older(extra):
        for name in ("coupled", "lr_decay", "fast"):
            extra["config"].pop(name)
    rewrite_extra(run_copy / CHECKPOINT, older)
    assert main(["train", "--output-dir", str(run_copy), "--resume", "--data-dir", str(mnist_folder()),
                 "--no-progress"]) == 0
    config = json.loads((run_copy / "config.json").read_text())
    assert (config["coupled"], config["lr_decay"], config["fast"]) == (False, 1.0, True)
    # The first config of all (before --train-size too), and one recording dropout that the model never had.
    first = {name: value for name, value in TrainConfig().to_dict().items()
             if name not in ("coupled", "lr_decay", "train_size", "fast")}
    assert TrainConfig.from_saved(first) == TrainConfig(lr_decay=1.0)
    assert TrainConfig.from_saved(dict(first, model="allconv", dropout=0.5)) == \
        TrainConfig(lr_decay=1.0, model="allconv")


@pytest.mark.parametrize("change, message", [
    (lambda config: config.pop("seed"), "extra.config.seed: missing"),
    (lambda config: config.update(colour="red"), "extra.config.colour: unknown setting"),
    (lambda config: config.update(epochs="2"), "extra.config.epochs must be an integer >= 1, got '2'"),
    (lambda config: config.update(optimizer="rmsprop"), "extra.config.optimizer must be one of adam, "),
    (lambda config: config.update(model=["lenet"]), "extra.config.model must be one of lenet, allconv, got ['lenet']"),
])
def test_a_checkpoint_with_malformed_settings_is_one_clear_line(run_copy, capsys, change, message):
    rewrite_extra(run_copy / CHECKPOINT, lambda extra: change(extra["config"]))
    assert main(train_arguments(run_copy, "--resume")) == 2
    assert f"{run_copy / CHECKPOINT}: {message}" in one_line_error(capsys)


# -- options that do not apply are refused ------------------------------------------------------------

@pytest.mark.parametrize("options, named", [
    (["--model", "allconv", "--dropout", "0.5"], "--dropout"),
    (["--model", "allconv", "--batch-norm"], "--batch-norm"),
    (["--regularizer", "none", "--alpha", "0.5"], "--alpha"),
    (["--regularizer", "none", "--coupled"], "--coupled"),
])
def test_options_that_do_not_apply_are_refused(tmp_path, capsys, options, named):
    folder = tmp_path / "run"
    assert main(["train", *options, "--output-dir", str(folder)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    error = captured.err.strip()
    assert "\n" not in error and f"{named} does not apply to" in error
    assert not folder.exists()


def test_a_config_with_settings_that_do_not_apply_is_refused():
    with pytest.raises(ValueError, match="dropout does not apply to model allconv"):
        TrainConfig(model="allconv", dropout=0.5)
    with pytest.raises(ValueError, match="coupled does not apply to regularizer none"):
        TrainConfig(regularizer="none", coupled=True)


# -- the output: data loss and penalty apart, the announcement after the checks ---------------------

def test_the_output_folder_is_checked_before_the_announcement(capsys):
    assert main(["train", "--output-dir", "/dev/null/x", "--no-progress"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "/dev/null/x" in captured.err


def test_data_loss_and_penalty_are_shown_apart(finished_run, capsys):
    rows = metric_rows(finished_run / "metrics.csv")
    assert {"data_loss", "penalty"} <= set(rows[0]) and "train_loss" not in rows[0]
    assert all(float(row["penalty"]) > 0 for row in rows)
    _, extra = read_checkpoint(finished_run / CHECKPOINT)
    assert [row["penalty"] for row in extra["history"]] == [float(row["penalty"]) for row in rows]


def test_the_epoch_line_shows_data_loss_plus_penalty(tmp_path, capsys):
    assert main(train_arguments(tmp_path / "run", "--epochs", "1")) == 0
    out = capsys.readouterr().out
    row = metric_rows(tmp_path / "run" / "metrics.csv")[0]
    assert f"train loss {float(row['data_loss']):.4f} + penalty {float(row['penalty']):.4f}, test loss" in out


def test_the_curves_show_data_loss_and_penalty_and_old_rows_still_draw():
    from framework.training import loss_series

    new = [{"epoch": 1, "data_loss": 0.5, "penalty": 0.1, "eval_loss": 0.4, "eval_accuracy": 0.9}]
    old = [{"epoch": 1, "train_loss": 0.6, "eval_loss": 0.4, "eval_accuracy": 0.9}]
    assert {label: values for label, (_, values) in loss_series(new + [dict(new[0], epoch=2)], "test").items()} == {
        "training data loss": [0.5, 0.5], "penalty": [0.1, 0.1], "test loss": [0.4, 0.4]}
    series = loss_series(old + [dict(new[0], epoch=2)], "test")
    assert series["training loss (data + penalty)"] == ([1], [0.6]) and series["penalty"] == ([2], [0.1])


def test_a_run_begun_by_older_code_keeps_its_rows_when_resumed(run_copy, capsys):
    # Older code recorded one train_loss per epoch, data loss and penalty together.
    def older(extra):
        for row in extra["history"]:
            row["train_loss"] = row.pop("data_loss") + row.pop("penalty")
    rewrite_extra(run_copy / CHECKPOINT, older)
    assert main(train_arguments(run_copy, "--resume", "--epochs", "3")) == 0
    with open(run_copy / "metrics.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [bool(row["train_loss"]) for row in rows] == [True, True, False]
    assert [bool(row["data_loss"]) and bool(row["penalty"]) for row in rows] == [False, False, True]
    assert "epoch 3/3: train loss" in capsys.readouterr().out


def test_only_the_atomic_writers_own_temporary_files_are_cleaned_up(run_copy, capsys):
    stale, users = run_copy / f".{CHECKPOINT}.0123456789ab.tmp", run_copy / f".{CHECKPOINT}.my-notes.tmp"
    stale.write_bytes(b"left by a kill")
    users.write_text("mine")
    assert main(train_arguments(run_copy, "--resume")) == 0
    assert not stale.exists() and users.read_text() == "mine"


@pytest.mark.parametrize("delay", [0.0, 0.05, 0.15, 0.3, 0.6])
def test_ctrl_c_at_any_moment_of_the_start_prints_no_traceback(tmp_path, delay):
    # From the moment the entry point's module is loaded (what comes before is Python's own
    # start-up and the two lines of the console script): before NumPy has loaded, while the
    # command line is built, while data loads.
    import signal
    import subprocess
    import sys
    import time

    script = ("import sys; from framework.entry import main; print('up', flush=True); "
              "sys.exit(main(['train', '--epochs', '1', '--train-size', '256', '--output-dir', sys.argv[1]]))")
    from tests.conftest import mnist_folder

    environment = dict(os.environ, NORMNET_DATA=str(mnist_folder()))
    process = subprocess.Popen([sys.executable, "-c", script, str(tmp_path / "run")], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=environment)
    assert process.stdout.readline().strip() == "up"
    time.sleep(delay)
    process.send_signal(signal.SIGINT)
    _, error = process.communicate(timeout=60)
    assert "Traceback" not in error, error
    assert process.returncode == 130 and "interrupted" in error.strip().splitlines()[-1], (process.returncode, error)
