"""`normnet train` / `normnet eval` / `normnet data fetch` end to end on real MNIST, and resume."""
import csv
import json

import numpy as np
import pytest

from framework.cli import main
from framework.persistence import read_checkpoint
from framework.training import CHECKPOINT, TrainConfig, train
from tests.conftest import mnist_folder

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def quiet(*_):
    pass


def small_config(**changes):
    """Ten steps per epoch, with dropout so that resuming must restore the masks' generator
    too, and a learning-rate schedule that a resumed run must continue, not restart."""
    settings = dict(epochs=2, batch_size=32, train_size=320, dropout=0.5, seed=7, learning_rate=1e-3,
                    lr_decay=0.5)
    settings.update(changes)
    return TrainConfig(**settings)


def assert_same_network(first, second):
    assert len(first.layers) == len(second.layers)
    for left, right in zip(first.layers, second.layers):
        if left.trainable:
            np.testing.assert_array_equal(left.weights, right.weights)
            np.testing.assert_array_equal(left.bias, right.bias)


@pytest.mark.slow
def test_end_to_end_a_few_hundred_iterations_reach_over_90_percent(tmp_path, capsys):
    # 12800 images / batch 64 = 200 iterations of Adam 1e-3.
    code = main(["train", "--epochs", "1", "--train-size", "12800", "--data-dir", str(mnist_folder()),
                 "--output-dir", str(tmp_path), "--no-progress"])
    assert code == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1].startswith("test accuracy: ")
    accuracy = float(lines[-1].split(": ")[1])
    assert accuracy > 0.90, lines
    with open(tmp_path / "metrics.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 1 and float(rows[0]["eval_accuracy"]) == pytest.approx(accuracy, abs=1e-4)
    assert {"epoch", "data_loss", "penalty", "eval_loss", "eval_accuracy", "seconds_per_step",
            "weight_norm_mean", "weight_norm_std"} <= set(rows[0])
    assert (tmp_path / "curves.png").read_bytes().startswith(PNG_SIGNATURE)
    assert json.loads((tmp_path / "config.json").read_text())["train_size"] == 12800

    # normnet eval on the checkpoint: same accuracy, a confusion matrix, a picture of mistakes.
    picture = tmp_path / "wrong.png"
    assert main(["eval", str(tmp_path / CHECKPOINT), "--data-dir", str(mnist_folder()),
                 "--misclassified", str(picture)]) == 0
    output = capsys.readouterr().out.strip().splitlines()
    assert output[-1] == f"test accuracy: {accuracy:.4f}"
    assert output[0] == "mnist test set (the dataset the checkpoint names)"
    matrix = np.array([[int(count) for count in line.split()[1:]] for line in output[3:13]])
    assert matrix.shape == (10, 10) and matrix.sum() == 10000
    assert np.trace(matrix) == round(accuracy * 10000)
    assert picture.read_bytes().startswith(PNG_SIGNATURE)


def test_resume_after_an_epoch_equals_an_uninterrupted_run(tmp_path):
    folder = mnist_folder()
    uninterrupted, history, _ = train(small_config(), tmp_path / "whole", data_dir=folder, log=quiet)
    train(small_config(epochs=1), tmp_path / "split", data_dir=folder, log=quiet)
    resumed, resumed_history, _ = train(small_config(), tmp_path / "split", data_dir=folder, resume=True,
                                        log=quiet)
    assert_same_network(uninterrupted, resumed)
    for expected, actual in zip(history, resumed_history):
        for key in ("data_loss", "penalty", "eval_loss", "eval_accuracy", "weight_norm_mean"):
            assert expected[key] == actual[key]


def test_a_crash_mid_epoch_loses_only_that_epoch(tmp_path, monkeypatch):
    folder = mnist_folder()
    uninterrupted, _, _ = train(small_config(), tmp_path / "whole", data_dir=folder, log=quiet)

    from framework.neural_network import NeuralNetwork
    original_train = NeuralNetwork.train
    calls = {"count": 0}

    def train_then_crash(self, iterations):
        calls["count"] += 1
        if calls["count"] == 14:  # the 4th step of the second epoch
            raise KeyboardInterrupt
        return original_train(self, iterations)

    monkeypatch.setattr(NeuralNetwork, "train", train_then_crash)
    with pytest.raises(KeyboardInterrupt):
        train(small_config(), tmp_path / "crashed", data_dir=folder, log=quiet)
    monkeypatch.setattr(NeuralNetwork, "train", original_train)
    _, extra = read_checkpoint(tmp_path / "crashed" / CHECKPOINT)
    assert len(extra["history"]) == 1  # the finished first epoch survived
    resumed, _, _ = train(small_config(), tmp_path / "crashed", data_dir=folder, resume=True, log=quiet)
    assert_same_network(uninterrupted, resumed)


def test_learning_rate_decays_per_epoch_on_every_optimizer(tmp_path):
    network, _, _ = train(small_config(epochs=3), tmp_path, data_dir=mnist_folder(), log=quiet)
    # 1e-3 · 0.5^(3 − 1) in the third epoch, on weights and bias optimizers alike.
    for layer in network.layers:
        if layer.trainable:
            assert layer.optimizer.learning_rate == pytest.approx(2.5e-4)
            assert layer.bias_optimizer.learning_rate == pytest.approx(2.5e-4)


def test_resume_refuses_other_settings(tmp_path):
    train(small_config(epochs=1), tmp_path, data_dir=mnist_folder(), log=quiet)
    with pytest.raises(ValueError, match="other settings.*--learning-rate 0.1 given, the run has 0.001"):
        train(small_config(learning_rate=0.1), tmp_path, data_dir=mnist_folder(), resume=True, log=quiet)


def test_diverging_run_stops_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch, capsys):
    folder = str(mnist_folder())
    arguments = ["train", "--train-size", "320", "--batch-size", "32", "--data-dir", folder,
                 "--output-dir", str(tmp_path), "--no-progress"]
    assert main(arguments + ["--epochs", "1"]) == 0
    before = (tmp_path / CHECKPOINT).read_bytes()

    from framework.losses import CrossEntropyLoss
    monkeypatch.setattr(CrossEntropyLoss, "forward", lambda self, prediction, label: float("nan"))
    assert main(arguments + ["--epochs", "2", "--resume"]) == 1
    error = capsys.readouterr().err
    assert "training stopped" in error and "nan" in error and "epoch 2" in error
    assert (tmp_path / CHECKPOINT).read_bytes() == before


@pytest.mark.parametrize("option, value, message", [
    ("--epochs", "0", "expected a positive integer"),
    ("--batch-size", "-3", "expected a positive integer"),
    ("--learning-rate", "-1", "must be finite and in"),
    ("--alpha", "nan", "must be finite and in"),
    ("--dropout", "1.5", "must be finite and in"),
    ("--regularizer", "l3", "invalid choice"),
    ("--dtype", "float16", "invalid choice"),
])
def test_bad_command_line_values_are_refused(option, value, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", option, value])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert option in error and message in error


def test_eval_of_a_foreign_file_is_a_clear_error(tmp_path, capsys):
    (tmp_path / "foreign.npz").write_bytes(b"not a checkpoint")
    assert main(["eval", str(tmp_path / "foreign.npz")]) == 2
    assert "not a readable normnet checkpoint" in capsys.readouterr().err


def test_data_fetch_prints_the_verified_folder(capsys):
    assert main(["data", "fetch", "--data-dir", str(mnist_folder())]) == 0
    assert str(mnist_folder()) in capsys.readouterr().out
