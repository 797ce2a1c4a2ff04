"""The training loop behind ``normnet train``: epochs, evaluation, metrics, checkpoints, resume.

One run lives in one output folder:

    config.json      the settings of the run
    checkpoint.npz   network, optimizer state, data order and history after the last finished epoch
    metrics.csv      one row per finished epoch
    curves.png       loss and accuracy per epoch
    .normnet.lock    locked while a run writes to the folder

A checkpoint is written atomically after every epoch, and only from finite
weights, so an interrupted run (Ctrl-C, a kill) loses at most the epoch in
progress, and ``resume=True`` continues from the last checkpoint with exactly the
batches, dropout masks and optimizer state an uninterrupted run of the same seed
would have used. The checkpoint is the record of the run: a resume first rewrites
``metrics.csv`` and ``curves.png`` from the history it carries, in case a kill
came between the checkpoint and those files.

A folder holding a run is never overwritten silently: ``train`` refuses it unless
asked to resume the run or to overwrite it (``force=True``), and two runs never
write to one folder at once: each holds an exclusive lock on ``.normnet.lock``,
which the operating system drops when its process ends, however it ends.
"""
import contextlib
import csv
import dataclasses
import io
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np

from framework.persistence import CheckpointError, atomic_write, describe_network, field_error, read_checkpoint, save
from regularizers import unit_norms

CHECKPOINT = "checkpoint.npz"
CONFIG = "config.json"
METRICS = "metrics.csv"
CURVES = "curves.png"
RUN_FILES = (CHECKPOINT, METRICS, CURVES, CONFIG)
LOCK = ".normnet.lock"


class RunFolderError(Exception):
    """An output folder that holds another run, or that another run is writing to."""


@dataclasses.dataclass
class TrainConfig:
    """Settings of one training run (the options of ``normnet train``)."""

    epochs: int = 3
    batch_size: int = 64
    learning_rate: float = 1e-3
    lr_decay: float = 0.7
    optimizer: str = "adam"
    regularizer: str = "l2"
    alpha: float = 4e-4
    dropout: float | None = None
    batch_norm: bool = False
    dtype: str = "float32"
    seed: int = 0
    model: str = "lenet"
    dataset: str = "mnist"
    initializer: str = "he"
    validation_size: int = 0
    train_size: int | None = None
    fast: bool = True  # the fast layers (layers.fast); False: the teaching layers, same results
    coupled: bool = False  # the regularizer through the optimizer's state (the paper's form)

    def __post_init__(self):
        _require(isinstance(self.epochs, int) and self.epochs >= 1, "epochs", "an integer >= 1", self.epochs)
        _require(isinstance(self.batch_size, int) and self.batch_size >= 1, "batch_size", "an integer >= 1",
                 self.batch_size)
        _require(math.isfinite(self.learning_rate) and self.learning_rate > 0, "learning_rate",
                 "a positive number", self.learning_rate)
        _require(0 < self.lr_decay <= 1, "lr_decay", "a factor in (0, 1]", self.lr_decay)
        _require(math.isfinite(self.alpha) and self.alpha >= 0, "alpha", "a number >= 0", self.alpha)
        _require(self.dropout is None or 0 < self.dropout <= 1, "dropout",
                 "a keep probability in (0, 1]", self.dropout)
        _require(self.dtype in ("float32", "float64"), "dtype", "float32 or float64", self.dtype)
        from framework.models import MODELS

        _require(self.model in MODELS, "model", f"one of {', '.join(MODELS)}", self.model)
        _require(isinstance(self.validation_size, int) and 0 <= self.validation_size < 60000,
                 "validation_size", "an integer in [0, 60000)", self.validation_size)
        _require(self.train_size is None or (isinstance(self.train_size, int) and self.train_size >= 1),
                 "train_size", "None or an integer >= 1", self.train_size)
        _require(self.train_size is None or self.batch_size <= self.train_size, "batch_size",
                 f"at most train_size ({self.train_size}), or every batch repeats images", self.batch_size)
        _require(isinstance(self.seed, int) and not isinstance(self.seed, bool) and self.seed >= 0, "seed",
                 "an integer >= 0", self.seed)

    @classmethod
    def from_arguments(cls, arguments):
        """The config that parsed command-line ``arguments`` (an argparse namespace, or any object
        with an attribute per field) describe; a field without an attribute keeps its default."""
        return cls(**{field.name: getattr(arguments, field.name) for field in dataclasses.fields(cls)
                      if hasattr(arguments, field.name)})

    def to_dict(self):
        return dataclasses.asdict(self)


def _require(condition, name, expected, got):
    if not condition:
        raise ValueError(f"{name} must be {expected}, got {got!r}")


def build_model(config):
    """The network a config describes, seeded by ``config.seed``."""
    from framework.models import MODELS, build_lenet

    rng = np.random.default_rng([config.seed, 0])
    options = dict(optimizer=config.optimizer, learning_rate=config.learning_rate,
                   regularizer=config.regularizer, alpha=config.alpha, dtype=np.dtype(config.dtype),
                   initializer=config.initializer, rng=rng, fast=config.fast, coupled=config.coupled)
    builder = MODELS[config.model]
    if builder is build_lenet:
        options.update(dropout=config.dropout, batch_norm=config.batch_norm)
    return builder(**options)


def load_data(config, data_dir=None):
    """``(data layer, (evaluation images, labels), (test images, labels))`` for a config.

    The evaluation set is the validation split when ``config.validation_size`` is set, else
    the test set.
    """
    from data import DataLayer, load_dataset

    dataset = load_dataset(config.dataset, data_dir=data_dir, dtype=np.dtype(config.dtype),
                           validation_size=config.validation_size)
    # The first train_size images (after carving out the validation split) when asked.
    train_images = dataset.train_images[:config.train_size]
    train_labels = dataset.train_labels[:config.train_size]
    if config.batch_size > len(train_images):
        raise ValueError(f"batch_size {config.batch_size} is larger than the training set "
                         f"({len(train_images)} images): every batch would repeat images")
    data_layer = DataLayer(train_images, train_labels, config.batch_size,
                           rng=np.random.default_rng([config.seed, 1]),
                           test_images=dataset.test_images, test_labels=dataset.test_labels)
    if config.validation_size:
        evaluation = dataset.validation_images, dataset.validation_labels
    else:
        evaluation = dataset.test_images, dataset.test_labels
    return data_layer, evaluation, (dataset.test_images, dataset.test_labels)


def evaluate(network, images, labels, batch_size=128, workers=None):
    """Mean cross-entropy and accuracy of ``network`` on integer ``labels``, in test phase,
    in chunks of ``batch_size`` on ``workers`` threads (None: every core; see ``test_in_chunks``)."""
    probabilities = network.test_in_chunks(images, batch_size, workers=workers)
    picked = probabilities[np.arange(len(labels)), labels].astype(np.float64)
    total_loss = -np.sum(np.log(picked + np.finfo(np.float64).eps))
    correct = int(np.sum(probabilities.argmax(axis=1) == labels))
    return float(total_loss) / len(images), correct / len(images)


def regularizable_kernels(network):
    """The kernels a regularizer may act on (Conv and FullyConnected weights), input to output."""
    return [layer.weights for layer in network.layers if layer.trainable and layer.regularize_weights]


def weight_norm_statistics(network):
    """Mean and standard deviation of the per-unit norms ‖w_o‖ over every regularizable kernel."""
    norms = [unit_norms(kernel) for kernel in regularizable_kernels(network)]
    if not norms:
        return float("nan"), float("nan")
    norms = np.concatenate(norms).astype(np.float64)
    return float(norms.mean()), float(norms.std())


def _progress_bar(total, description, enabled):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=description, unit="batch", leave=False, disable=not enabled,
                dynamic_ncols=True)


def train(config, output_dir, data_dir=None, resume=False, force=False, progress=None, log=print):
    """Run (or resume) a training run in ``output_dir``; return ``(network, history, test accuracy)``.

    ``history`` holds one metric row (a dict) per finished epoch. A folder that already
    holds a run (any of ``RUN_FILES``) is refused with RunFolderError unless ``resume``
    (continue it; a finished run just gets its metrics.csv and curves.png rewritten) or
    ``force`` (replace the run's files; other files in the folder are left alone).
    ``progress``: show a progress bar (default: when stderr is a terminal).
    Raises FloatingPointError when the loss or the weights stop being finite (the last
    checkpoint, from the last finished epoch, stays as it was), and lets KeyboardInterrupt
    through (the last finished epoch is already on disk).
    """
    if resume and force:
        raise ValueError("train: resume (continue the run) and force (overwrite it) exclude each other")
    output_dir = Path(output_dir)
    with locked_run_folder(output_dir):
        return _train_in_folder(config, output_dir, data_dir, resume, force, progress, log)


@contextlib.contextmanager
def locked_run_folder(folder):
    """Hold the exclusive lock on ``folder/.normnet.lock`` while the block runs (creating the folder).

    Raises RunFolderError when another process holds it. An advisory lock of the operating
    system (flock), not the file's existence, is the lock: the system drops it when its
    holder's process ends, kill -9 included, so a crashed run never leaves a stale lock.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        try:
            _lock(descriptor)
        except OSError:
            try:
                holder = path.read_text(errors="replace").strip() or "another process"
            except OSError:  # where locks are mandatory (Windows), the holder's bytes are unreadable
                holder = "another process"
            raise RunFolderError(f"{folder} is in use by another normnet train ({holder} holds {path}); "
                                 f"wait for it to finish or choose another --output-dir") from None
        os.ftruncate(descriptor, 0)
        os.write(descriptor, f"process {os.getpid()}\n".encode())
        yield
    finally:
        os.close(descriptor)  # closing the last descriptor releases the lock


def _lock(descriptor):
    """Lock the open file exclusively without waiting; OSError if another process holds it."""
    try:
        import fcntl
    except ImportError:  # Windows
        import msvcrt

        msvcrt.locking(descriptor, msvcrt.LK_NBLCK, 1)
        return
    fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)


def _remove_stale_temporaries(folder):
    """Delete the temporary files that a write of one of the run's files left when it was killed.

    Only under the folder's lock: no other run can be writing them then. They carry the
    atomic writer's names (``.checkpoint.npz.<random>.tmp``), never a user's file's.
    """
    for name in RUN_FILES:
        for temporary in folder.glob(f".{name}.*.tmp"):
            temporary.unlink(missing_ok=True)


def _train_in_folder(config, output_dir, data_dir, resume, force, progress, log):
    checkpoint = output_dir / CHECKPOINT
    progress = sys.stderr.isatty() if progress is None else progress
    _remove_stale_temporaries(output_dir)
    found = [name for name in RUN_FILES if (output_dir / name).exists()]
    if found and not (resume or force):
        raise RunFolderError(f"{output_dir} already holds a normnet run ({', '.join(found)}); continue it "
                             f"with --resume, overwrite it with --force, or choose another --output-dir")

    data_layer, (evaluation_images, evaluation_labels), (test_images, test_labels) = load_data(config, data_dir)
    evaluation_name = "validation" if config.validation_size else "test"
    if force:
        for name in found:
            (output_dir / name).unlink(missing_ok=True)
    if resume and checkpoint.exists():
        network, history = _resume(checkpoint, config, data_layer)
        log(f"resuming from {checkpoint} after epoch {len(history)}")
        if history:
            # The checkpoint is the record: a kill between it and these files left them behind.
            write_metrics(output_dir / METRICS, history)
            plot_curves(output_dir / CURVES, history, evaluation_name)
    else:
        if resume:
            log(f"no checkpoint in {output_dir}; starting a new run")
        network = build_model(config)
        history = []
    network.data_layer = data_layer
    atomic_write(output_dir / CONFIG, lambda handle: handle.write(json.dumps(config.to_dict(), indent=2).encode()))

    steps = data_layer.iterations_per_epoch
    for epoch in range(len(history) + 1, config.epochs + 1):
        # Exponential schedule: a function of the epoch alone, so a resumed run gets the same rate.
        network.set_learning_rate(config.learning_rate * config.lr_decay ** (epoch - 1))
        bar = _progress_bar(steps, f"epoch {epoch}/{config.epochs}", progress)
        started = time.perf_counter()

        def show_progress(step):
            if step % 20 == 0 or step == steps - 1:
                elapsed = time.perf_counter() - started
                bar.set_postfix(loss=f"{np.mean(network.loss[-20:]):.4f}",
                                img_s=f"{(step + 1) * config.batch_size / max(elapsed, 1e-9):.0f}")
            bar.update(1)

        try:
            train_loss, seconds = run_epoch(network, steps, after_step=show_progress)
        except FloatingPointError as error:
            raise FloatingPointError(f"{error} (epoch {epoch}); {_last_good(checkpoint, history)}") from None
        finally:
            bar.close()
        # A step's loss is computed before its update: the last update of an epoch can turn the
        # weights non-finite with every loss finite. Such weights never reach the checkpoint.
        non_finite = non_finite_arrays(network)
        if non_finite:
            raise FloatingPointError(f"{non_finite[0]} holds non-finite values after epoch {epoch}; "
                                     f"{_last_good(checkpoint, history)}")
        evaluation_loss, evaluation_accuracy = evaluate(network, evaluation_images, evaluation_labels)
        norm_mean, norm_std = weight_norm_statistics(network)
        row = {"epoch": epoch,
               "train_loss": train_loss,
               "eval_loss": evaluation_loss,
               "eval_accuracy": evaluation_accuracy,
               "seconds": seconds,
               "seconds_per_step": seconds / steps,
               "images_per_second": steps * config.batch_size / seconds,
               "weight_norm_mean": norm_mean,
               "weight_norm_std": norm_std}
        history.append(row)
        save(checkpoint, network, extra={"config": config.to_dict(), "history": history,
                                         "data_state": data_layer.state_dict()})
        write_metrics(output_dir / METRICS, history)
        plot_curves(output_dir / CURVES, history, evaluation_name)
        log(f"epoch {epoch}/{config.epochs}: train loss {row['train_loss']:.4f}, "
            f"{evaluation_name} loss {evaluation_loss:.4f}, "
            f"accuracy {evaluation_accuracy:.4f} ({seconds:.1f} s, {row['images_per_second']:.0f} img/s)")

    if config.validation_size:
        _, test_accuracy = evaluate(network, test_images, test_labels)
    else:
        test_accuracy = history[-1]["eval_accuracy"]
    return network, history, test_accuracy


def _last_good(checkpoint, history):
    if not history:
        return "no epoch finished, so there is no checkpoint"
    return f"the last good checkpoint is {checkpoint} (after epoch {len(history)})"


def non_finite_arrays(network):
    """Names of the network's arrays (parameters, running moments, optimizer state) that hold NaN or ±inf."""
    _, arrays = describe_network(network)
    return [key for key, array in arrays.items() if not np.all(np.isfinite(array))]


def _resume(checkpoint, config, data_layer):
    """The network and history in ``checkpoint``, with ``data_layer`` put where the run stood."""
    network, extra = read_checkpoint(checkpoint, fast=config.fast)
    try:
        saved_config, history, data_state = _progress(extra)
    except CheckpointError as error:
        raise CheckpointError(f"{checkpoint}: {error}") from None
    _check_resumable(saved_config, config, checkpoint)
    try:
        data_layer.load_state_dict(data_state)
    except KeyError as error:
        raise CheckpointError(f"{checkpoint}: extra.data_state.{error.args[0]}: missing") from None
    except (TypeError, ValueError) as error:
        raise CheckpointError(f"{checkpoint}: extra.data_state: {error}") from None
    return network, history


def _progress(extra):
    """``(config, history, data state)`` from a checkpoint's ``extra``, each checked."""
    for name in ("config", "history", "data_state"):
        if name not in extra:
            raise CheckpointError(f"extra.{name}: missing (the checkpoint was not written by normnet train)")
    for name in ("config", "data_state"):
        if not isinstance(extra[name], dict):
            raise field_error(f"extra.{name}", "an object", extra[name])
    history = extra["history"]
    if not isinstance(history, list):
        raise field_error("extra.history", "a list of per-epoch rows", history)
    for index, row in enumerate(history):
        where = f"extra.history[{index}]"
        if not isinstance(row, dict):
            raise field_error(where, "an object", row)
        if row.get("epoch") != index + 1 or type(row.get("epoch")) is not int:
            raise field_error(f"{where}.epoch", f"{index + 1}", row.get("epoch"))
        for key, value in row.items():
            if type(value) not in (int, float):
                raise field_error(f"{where}.{key}", "a number", value)
    return extra["config"], history, extra["data_state"]


def run_epoch(network, steps, after_step=None):
    """Train ``network`` for ``steps`` iterations; return (mean training loss, seconds of training).

    ``after_step(step)`` runs after each successful step (progress bars, weight-norm
    trajectories); its time is not counted. Afterwards the network's loss history keeps only
    this epoch's entries, which is all the metrics need and keeps checkpoints small. A
    diverging step raises FloatingPointError (from ``NeuralNetwork.train``).
    """
    first_loss_index = len(network.loss)
    seconds = 0.0
    for step in range(steps):
        started = time.perf_counter()
        network.train(1)
        seconds += time.perf_counter() - started
        if after_step is not None:
            after_step(step)
    train_loss = float(np.mean(network.loss[first_loss_index:]))
    network.loss = network.loss[-steps:]
    return train_loss, seconds


def _check_resumable(saved, config, checkpoint):
    """The checkpoint must come from the same settings (more epochs, and the other layer package,
    which computes the same numbers, are allowed)."""
    current = config.to_dict()
    differences = [f"{key}: checkpoint {saved.get(key)!r}, now {current[key]!r}"
                   for key in current if key not in ("epochs", "fast") and saved.get(key) != current[key]]
    if differences:
        raise ValueError(f"cannot resume from {checkpoint}: it was trained with other settings "
                         f"({'; '.join(differences)}); use another --output-dir or the same settings")


def write_metrics(path, history):
    """Write the per-epoch rows as CSV, atomically."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(history[0]))
    writer.writeheader()
    writer.writerows(history)
    atomic_write(path, lambda handle: handle.write(buffer.getvalue().encode()))


def plot_curves(path, history, evaluation_name="test"):
    """Loss and accuracy per epoch, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [row["epoch"] for row in history]
    figure, (loss_axis, accuracy_axis) = plt.subplots(1, 2, figsize=(10, 4))
    loss_axis.plot(epochs, [row["train_loss"] for row in history], "o-", label="training (data + penalty, mean over epoch)")
    loss_axis.plot(epochs, [row["eval_loss"] for row in history], "s-", label=evaluation_name)
    loss_axis.set_xlabel("epoch")
    loss_axis.set_ylabel("cross-entropy loss per image")
    loss_axis.set_title("Loss")
    loss_axis.legend()
    accuracy_axis.plot(epochs, [100 * row["eval_accuracy"] for row in history], "s-", color="tab:green")
    accuracy_axis.set_xlabel("epoch")
    accuracy_axis.set_ylabel(f"{evaluation_name} accuracy (%)")
    accuracy_axis.set_title("Accuracy")
    for axis in (loss_axis, accuracy_axis):
        axis.grid(alpha=0.3)
        axis.xaxis.get_major_locator().set_params(integer=True)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    plt.close(figure)
    atomic_write(path, lambda handle: handle.write(buffer.getvalue()))
