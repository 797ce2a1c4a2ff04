"""`normnet eval` and the checkpoint reader: special files are refused before they are opened, the
dataset scored is the checkpoint's own (or the one asked for, said so), the picture of mistakes goes
where it was asked to and replaces no file normnet did not write, Ctrl-C is one line; and
``NeuralNetwork.train`` takes only a count of iterations."""
import os
import resource
import subprocess
import sys
import threading

import numpy as np
import pytest

from framework.cli import main
from framework.persistence import CheckpointError, read_checkpoint
from framework.training import TrainConfig
from tests.conftest import REPOSITORY, fashion_mnist_folder, mnist_folder

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def save_network(path, dataset=None):
    """A tiny 784 → 10 network; with ``dataset``, the record of a training run on it."""
    from framework import NeuralNetwork, save
    from framework.initializers import Constant, He
    from layers.fast import Flatten, FullyConnected, SoftMax
    from optimizers import Sgd

    network = NeuralNetwork(Sgd(0.1), He(np.random.default_rng(0)), Constant(0.0))
    for layer in (Flatten(), FullyConnected(784, 10, dtype=np.float32), SoftMax()):
        network.append_layer(layer)
    extra = None if dataset is None else {"config": TrainConfig(dataset=dataset).to_dict()}
    return save(path, network, extra=extra)


def one_line(capsys, command="eval"):
    captured = capsys.readouterr()
    error = captured.err.strip()
    assert "\n" not in error and error.startswith(f"normnet {command}: error: ") and "Traceback" not in error, error
    return error


# -- special files: refused before they are opened --------------------------------------------------

def run_eval_in_a_child(path, seconds=120):
    """``normnet eval path`` in a child process held to 1 GiB of memory and ``seconds`` of time."""
    def limit_memory():
        resource.setrlimit(resource.RLIMIT_AS, (2 ** 30, 2 ** 30))

    environment = dict(os.environ, PYTHONPATH=str(REPOSITORY), OPENBLAS_NUM_THREADS="1")
    try:
        return subprocess.run([sys.executable, "-m", "framework", "eval", str(path)], cwd=REPOSITORY,
                              env=environment, capture_output=True, text=True, timeout=seconds,
                              preexec_fn=limit_memory)
    except subprocess.TimeoutExpired:
        pytest.fail(f"normnet eval {path} still waited after {seconds} s")


def test_eval_of_a_fifo_is_refused_without_waiting(tmp_path):
    fifo = tmp_path / "checkpoint.npz"
    os.mkfifo(fifo)
    result = run_eval_in_a_child(fifo)
    assert result.returncode == 2
    assert result.stderr == f"normnet eval: error: {fifo}: not a regular file (a FIFO or pipe)\n"


def test_eval_of_a_device_is_refused_without_reading_it():
    result = run_eval_in_a_child("/dev/zero")
    assert result.returncode == 2
    assert result.stderr == "normnet eval: error: /dev/zero: not a regular file (a character device)\n"


def test_eval_of_a_pipe_is_refused_naming_it(tmp_path, capsys):
    reading, writing = os.pipe()
    os.write(writing, save_network(tmp_path / "net.npz").read_bytes()[:1000])
    os.close(writing)
    try:
        assert main(["eval", f"/dev/fd/{reading}"]) == 2
    finally:
        os.close(reading)
    assert f"/dev/fd/{reading}: not a regular file (a FIFO or pipe)" in one_line(capsys)


def test_the_checkpoint_reader_refuses_special_files_and_folders(tmp_path):
    with pytest.raises(CheckpointError, match="not a regular file \\(a folder\\)"):
        read_checkpoint(tmp_path)
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(CheckpointError, match="not a regular file \\(a FIFO or pipe\\)"):
        read_checkpoint(tmp_path / "fifo")


def test_resume_from_a_fifo_named_checkpoint_is_refused_without_waiting(tmp_path, capsys):
    os.mkfifo(tmp_path / "checkpoint.npz")
    outcome = {}
    worker = threading.Thread(target=lambda: outcome.update(code=main(
        ["train", "--output-dir", str(tmp_path), "--resume", "--data-dir", str(mnist_folder())])), daemon=True)
    worker.start()
    worker.join(60)
    if worker.is_alive():  # let the blocked open go, so the thread can end
        os.close(os.open(tmp_path / "checkpoint.npz", os.O_WRONLY | os.O_NONBLOCK))
        pytest.fail("normnet train --resume waited on a FIFO")
    assert outcome["code"] == 2
    assert "not a regular file (a FIFO or pipe)" in one_line(capsys, "train")


# -- the dataset scored is the checkpoint's own, or the one asked for, said so -------------------------

@pytest.fixture
def fashion(monkeypatch):
    folder = fashion_mnist_folder()
    if folder is None:
        pytest.skip("Fashion-MNIST is not available")
    monkeypatch.setenv("NORMNET_FASHION_DATA", str(folder))
    monkeypatch.setenv("NORMNET_DATA", str(mnist_folder()))
    return folder


def test_eval_scores_a_checkpoint_on_the_dataset_it_names(tmp_path, capsys, fashion):
    checkpoint = save_network(tmp_path / "fashion.npz", dataset="fashion-mnist")
    assert main(["eval", str(checkpoint)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("fashion-mnist test set (the dataset the checkpoint names)")
    assert lines[-1].startswith("test accuracy: ")


def test_eval_on_another_dataset_says_so(tmp_path, capsys, fashion):
    checkpoint = save_network(tmp_path / "fashion.npz", dataset="fashion-mnist")
    assert main(["eval", str(checkpoint), "--dataset", "mnist"]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith("mnist test set (asked for with --dataset; the checkpoint was trained on fashion-mnist)")


def test_eval_of_a_checkpoint_naming_no_dataset_says_which_it_used(tmp_path, capsys, fashion):
    assert main(["eval", str(save_network(tmp_path / "plain.npz"))]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith("mnist test set (the default: the checkpoint names no dataset)")


def test_a_checkpoint_naming_an_unknown_dataset_is_refused(tmp_path, capsys):
    checkpoint = save_network(tmp_path / "odd.npz", dataset="mnist")
    from tests.test_reliability_run_folder import rewrite_extra
    rewrite_extra(checkpoint, lambda extra: extra["config"].update(dataset="cifar"))
    assert main(["eval", str(checkpoint)]) == 2
    assert 'extra.config.dataset: expected one of "mnist", "fashion-mnist", got "cifar"' in one_line(capsys)


# -- --misclassified: a .png file, and no file normnet did not write is replaced ----------------------

@pytest.mark.parametrize("name", ["wrong", "figures"])
def test_misclassified_must_name_a_png_file(tmp_path, capsys, name):
    (tmp_path / "figures").mkdir()
    checkpoint = save_network(tmp_path / "net.npz")
    assert main(["eval", str(checkpoint), "--misclassified", str(tmp_path / name),
                 "--data-dir", str(mnist_folder())]) == 2
    assert "--misclassified" in one_line(capsys)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["figures", "net.npz"]


def test_misclassified_replaces_its_own_picture_but_never_the_users(tmp_path, capsys):
    checkpoint = save_network(tmp_path / "net.npz")
    arguments = ["eval", str(checkpoint), "--data-dir", str(mnist_folder()), "--misclassified"]
    picture = tmp_path / "wrong.png"
    assert main(arguments + [str(picture)]) == 0
    assert picture.read_bytes().startswith(PNG_SIGNATURE)
    assert main(arguments + [str(picture)]) == 0  # normnet's own picture: replaced
    capsys.readouterr()
    mine = tmp_path / "mine.png"
    mine.write_bytes(PNG_SIGNATURE + b"my own picture")
    assert main(arguments + [str(mine)]) == 2
    assert f"{mine} was not written by normnet eval" in one_line(capsys)
    assert mine.read_bytes() == PNG_SIGNATURE + b"my own picture"


# -- Ctrl-C --------------------------------------------------------------------------------------

def test_ctrl_c_during_eval_is_one_line(tmp_path, capsys, monkeypatch):
    import framework.persistence

    def interrupted(*_, **__):
        raise KeyboardInterrupt

    monkeypatch.setattr(framework.persistence, "read_checkpoint", interrupted)
    try:
        code = main(["eval", str(save_network(tmp_path / "net.npz"))])
    except KeyboardInterrupt:
        pytest.fail("KeyboardInterrupt escaped normnet eval")
    assert code == 130
    assert capsys.readouterr().err == "normnet eval: interrupted\n"


# -- NeuralNetwork.train takes a count ------------------------------------------------------------

@pytest.mark.parametrize("iterations", [2.7, -1, 0, "3", True, None, np.float64(2.0)])
def test_train_refuses_what_is_not_a_count_of_iterations(iterations):
    from framework.models import build_lenet

    network = build_lenet()
    with pytest.raises(ValueError, match="NeuralNetwork.train: iterations must be a positive integer"):
        network.train(iterations)
    assert network.loss == []


def test_train_accepts_numpy_integers():
    from framework.models import build_lenet
    from tests.helpers import FixedBatch

    network = build_lenet()
    network.data_layer = FixedBatch(np.zeros((2, 1, 28, 28)), np.eye(10)[[1, 2]])
    network.train(np.int64(2))
    assert len(network.loss) == 2


def test_a_loss_that_turns_nan_without_softmax_names_the_missing_softmax_not_the_learning_rate():
    from framework import NeuralNetwork
    from framework.initializers import Constant
    from framework.losses import CrossEntropyLoss
    from layers import FullyConnected, SoftMax
    from optimizers import Sgd
    from tests.helpers import FixedBatch

    def network(*layers):
        built = NeuralNetwork(Sgd(1e-4), Constant(-0.5), Constant(0.0))
        for layer in layers:
            built.append_layer(layer)
        built.loss_layer = CrossEntropyLoss()
        built.data_layer = FixedBatch(np.ones((2, 4)), np.eye(3)[[0, 1]])
        return built

    # Outputs of -2 are no probabilities: log(-2) is NaN at a learning rate that cannot diverge.
    with np.errstate(invalid="ignore"), pytest.raises(FloatingPointError) as error:
        network(FullyConnected(4, 3)).train(1)
    assert "the last layer is a FullyConnected, not SoftMax" in str(error.value)
    assert "learning rate" not in str(error.value)
    # With SoftMax a non-finite loss still points at the learning rate.
    diverging = network(FullyConnected(4, 3), SoftMax())
    diverging.loss_layer.forward = lambda prediction, label: float("inf")
    with pytest.raises(FloatingPointError, match="the learning rate is probably too large"):
        diverging.train(1)


def test_a_dataset_file_that_is_a_fifo_is_refused_without_waiting(tmp_path):
    from data import IdxFormatError, read_idx

    fifo = tmp_path / "t10k-labels-idx1-ubyte"
    os.mkfifo(fifo)
    outcome = {}

    def read():
        try:
            read_idx(fifo)
        except IdxFormatError as error:
            outcome["error"] = str(error)

    worker = threading.Thread(target=read, daemon=True)
    worker.start()
    worker.join(30)
    if worker.is_alive():
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        pytest.fail("read_idx waited on a FIFO")
    assert outcome["error"] == f"{fifo}: not a regular file (a FIFO or pipe)"
