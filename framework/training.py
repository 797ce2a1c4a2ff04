"""The training loop behind ``normnet train``: epochs, evaluation, metrics, checkpoints, resume.

One run lives in one output folder:

    checkpoint.npz   network, optimizer state, data order, settings and history after the last finished epoch
    config.json      the settings of the run as of its checkpoint
    metrics.csv      one row per finished epoch
    curves.png       loss and accuracy per epoch
    .normnet.lock    locked while a run writes to the folder

A checkpoint is written atomically after every epoch, and only from finite
weights, so an interrupted run (Ctrl-C, a kill) loses at most the epoch in
progress, and ``resume=True`` continues from the last checkpoint with exactly the
batches, dropout masks and optimizer state an uninterrupted run of the same seed
would have used, and with the settings the checkpoint records. The checkpoint is the
record of the run, and the mark that a folder holds one: the other three files are
written after it, and a resume first rewrites them from it, in case a kill came
between the checkpoint and those files.

A file normnet did not write is never replaced. Beside no checkpoint of ``normnet
train``, a ``config.json``, ``metrics.csv`` or ``curves.png`` counts as the user's, and
the folder is refused whatever the options; ``resume`` without a checkpoint starts a new
run only in an empty folder. A folder holding a run is refused unless asked to resume
the run or to replace it (``force=True``); a replaced run stays as it was until the new
run has saved its first checkpoint over it. Two runs never write to one folder at once:
each holds an exclusive lock on ``.normnet.lock``, which the operating system drops when
its process ends, however it ends.
"""
import contextlib
import csv
import dataclasses
import inspect
import io
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np

from framework.losses import CrossEntropyLoss

from data.files import temporary_files
from framework.persistence import CheckpointError, atomic_write, describe_network, field_error, read_checkpoint, save
from regularizers import unit_norms

CHECKPOINT = "checkpoint.npz"
CONFIG = "config.json"
METRICS = "metrics.csv"
CURVES = "curves.png"
RUN_FILES = (CHECKPOINT, METRICS, CURVES, CONFIG)
LOCK = ".normnet.lock"


class RunFolderError(Exception):
    """An output folder that holds another run or files normnet did not write, or that another run is writing to."""


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C during ``train``; the message says what is saved and how to continue."""


@dataclasses.dataclass
class TrainConfig:
    """Settings of one training run (the options of ``normnet train``).

    ``dropout`` and ``batch_norm`` apply to the LeNet only (the all-convolutional network has
    no dropout and always normalizes), ``coupled`` to a regularizer only: a config that sets
    them where they do not apply is refused, as settings recorded but not applied would lie.
    """

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
        from data import DATASETS
        from framework.models import MODELS
        from layers.initializers import INITIALIZERS
        from optimizers import OPTIMIZERS
        from regularizers import REGULARIZERS

        _require(_is_count(self.epochs, 1), "epochs", "an integer >= 1", self.epochs)
        _require(_is_count(self.batch_size, 1), "batch_size", "an integer >= 1", self.batch_size)
        _require(_is_number(self.learning_rate) and self.learning_rate > 0, "learning_rate",
                 "a positive number", self.learning_rate)
        _require(_is_number(self.lr_decay) and 0 < self.lr_decay <= 1, "lr_decay", "a factor in (0, 1]",
                 self.lr_decay)
        _require(_is_number(self.alpha) and self.alpha >= 0, "alpha", "a number >= 0", self.alpha)
        _require(self.dropout is None or (_is_number(self.dropout) and 0 < self.dropout <= 1), "dropout",
                 "a keep probability in (0, 1]", self.dropout)
        for name, table in (("optimizer", OPTIMIZERS), ("regularizer", REGULARIZERS), ("model", MODELS),
                            ("dataset", DATASETS), ("initializer", INITIALIZERS), ("dtype", ("float32", "float64"))):
            value = getattr(self, name)
            _require(isinstance(value, str) and value in table, name, f"one of {', '.join(table)}", value)
        for name in ("batch_norm", "fast", "coupled"):
            _require(type(getattr(self, name)) is bool, name, "true or false", getattr(self, name))
        _require(_is_count(self.validation_size, 0) and self.validation_size < 60000,
                 "validation_size", "an integer in [0, 60000)", self.validation_size)
        _require(self.train_size is None or _is_count(self.train_size, 1),
                 "train_size", "None or an integer >= 1", self.train_size)
        _require(self.train_size is None or self.batch_size <= self.train_size, "batch_size",
                 f"at most train_size ({self.train_size}), or every batch repeats images", self.batch_size)
        _require(_is_count(self.seed, 0), "seed", "an integer >= 0", self.seed)
        set_here = [name for name, default in NOT_APPLIED.items() if getattr(self, name) != default]
        check_applicable(self.to_dict(), set_here)

    @classmethod
    def from_arguments(cls, arguments):
        """The config that parsed command-line ``arguments`` (an argparse namespace, or any object
        with an attribute per field) describe; a field without an attribute, or None there (an
        option not given), keeps its default. An option given that does not apply to the model
        or regularizer is refused by its name (``--alpha`` with ``--regularizer none``)."""
        given = given_settings(arguments)
        check_applicable({**cls().to_dict(), **given}, given, spell=option_name)
        return cls(**given)

    @classmethod
    def from_saved(cls, saved):
        """The config a checkpoint records (``extra.config``), as the code that wrote it ran it.

        A setting added since the checkpoint was written gets the value older code used
        (``OLDER_VALUES``), and one that the older code recorded but did not apply (dropout on
        the all-convolutional network, say) the value that says so. Raises CheckpointError
        naming the field for anything else that is missing, unknown or invalid.
        """
        fields = [field.name for field in dataclasses.fields(cls)]
        unknown = [key for key in saved if key not in fields]
        if unknown:
            raise CheckpointError(f"extra.config.{unknown[0]}: unknown setting (written by a newer normnet?)")
        settings = {**OLDER_VALUES, **saved}
        missing = [name for name in fields if name not in settings]
        if missing:
            raise CheckpointError(f"extra.config.{missing[0]}: missing")
        for name in inapplicable(settings, NOT_APPLIED):
            settings[name] = NOT_APPLIED[name]
        try:
            return cls(**settings)
        except (TypeError, ValueError) as error:
            raise CheckpointError(f"extra.config.{error}") from None

    def to_dict(self):
        return dataclasses.asdict(self)


# The value each setting had before it existed: the settings of a checkpoint written then.
OLDER_VALUES = {"lr_decay": 1.0, "train_size": None, "fast": True, "coupled": False}

# Settings that apply to some models or regularizers only: the setting they depend on and why not.
# A model takes those of them that its builder has as parameters (``build_model`` passes them so).
APPLIES_TO = {
    "dropout": ("model", "the network has no dropout layers"),
    "batch_norm": ("model", "the network's batch normalization is not optional"),
    "alpha": ("regularizer", "there is no regularizer"),
    "coupled": ("regularizer", "there is no regularizer"),
}
NOT_APPLIED = {"dropout": None, "batch_norm": False, "coupled": False}
"""The value of each setting that says "not applied" (the default)."""


def inapplicable(settings, names):
    """Those of the settings ``names`` that do not apply to the model and regularizer in ``settings`` (a dict)."""
    from framework.models import MODELS
    from regularizers import REGULARIZERS

    def applies(name):
        value = settings[APPLIES_TO[name][0]]
        if not isinstance(value, str):
            return True  # not a model's or regularizer's name: TrainConfig refuses it
        if APPLIES_TO[name][0] == "model":
            return value not in MODELS or name in inspect.signature(MODELS[value]).parameters
        return REGULARIZERS.get(value, "unknown") is not None

    return [name for name in names if name in APPLIES_TO and not applies(name)]


def check_applicable(settings, names, spell=str):
    """Raise ValueError for the first of ``names`` that does not apply (see ``APPLIES_TO``);
    ``spell`` names a setting (``option_name`` on the command line)."""
    for name in inapplicable(settings, names):
        depends_on, reason = APPLIES_TO[name]
        raise ValueError(f"{spell(name)} does not apply to {spell(depends_on)} {settings[depends_on]} ({reason})")


def option_name(name):
    """The command-line option of the setting ``name`` (``learning_rate`` → ``--learning-rate``)."""
    return "--teaching-layers" if name == "fast" else "--" + name.replace("_", "-")


def given_settings(arguments):
    """The settings that ``arguments`` (an argparse namespace or any object) set: its attributes
    named like a TrainConfig field and not None (the command line's options default to None, so
    that an option given can be told from one left out)."""
    return {field.name: getattr(arguments, field.name) for field in dataclasses.fields(TrainConfig)
            if getattr(arguments, field.name, None) is not None}


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _is_count(value, minimum):
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


def _require(condition, name, expected, got):
    if not condition:
        raise ValueError(f"{name} must be {expected}, got {got!r}")


def build_model(config):
    """The network a config describes, seeded by ``config.seed``."""
    from framework.models import MODELS

    rng = np.random.default_rng([config.seed, 0])
    options = dict(optimizer=config.optimizer, learning_rate=config.learning_rate,
                   regularizer=config.regularizer, alpha=config.alpha, dtype=np.dtype(config.dtype),
                   initializer=config.initializer, rng=rng, fast=config.fast, coupled=config.coupled,
                   dropout=config.dropout, batch_norm=config.batch_norm)
    builder = MODELS[config.model]
    for name in inapplicable(config.to_dict(), ("dropout", "batch_norm")):
        del options[name]
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
    in chunks of ``batch_size`` on ``workers`` threads (None: every core; see ``test_in_chunks``).

    The loss is the network's own ``CrossEntropyLoss`` (in float64, averaged over the images):
    one place for the formula, which a student writes.
    """
    probabilities = network.test_in_chunks(images, batch_size, workers=workers).astype(np.float64)
    one_hot = np.zeros_like(probabilities)
    one_hot[np.arange(len(labels)), labels] = 1.0
    loss = CrossEntropyLoss(reduction="mean").forward(probabilities, one_hot)
    correct = int(np.sum(probabilities.argmax(axis=1) == labels))
    return loss, correct / len(images)


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


def train(config, output_dir, data_dir=None, resume=False, force=False, progress=None, log=print, given=None):
    """Run (or resume) a training run in ``output_dir``; return ``(network, history, test accuracy)``.

    ``history`` holds one metric row (a dict) per finished epoch. A folder that already
    holds a run (a checkpoint of ``normnet train``) is refused with RunFolderError unless
    ``resume`` (continue it; a finished run just gets its other files rewritten) or ``force``
    (replace the run's files once the new run has saved its first checkpoint; other files in
    the folder are left alone). Files of the run's names beside no such checkpoint, or a
    checkpoint normnet train did not write, are never replaced; ``resume`` without a
    checkpoint starts a new run only in an empty folder.

    A resumed run takes its settings from its checkpoint. ``given``: the names of the settings
    of ``config`` that the caller chose (the options given on the command line; None: all of
    them); each must agree with the checkpoint, or ValueError names it. ``epochs`` may grow (the
    run continues) but not drop below the epochs finished; ``fast`` may change (same numbers).

    ``progress``: show a progress bar (default: when stderr is a terminal). ``log`` receives the
    announcement of the run, once every check has passed, and one line per epoch.
    Raises FloatingPointError when the loss or the weights stop being finite (the last
    checkpoint, from the last finished epoch, stays as it was), and TrainingInterrupted (a
    KeyboardInterrupt saying what is saved) on Ctrl-C.
    """
    if resume and force:
        raise ValueError("train: resume (continue the run) and force (overwrite it) exclude each other")
    output_dir = Path(output_dir)
    with locked_run_folder(output_dir):
        run = _Run(output_dir)
        try:
            return _train_in_folder(run, config, data_dir, resume, force, progress, log, given)
        except KeyboardInterrupt:
            raise TrainingInterrupted(run.saved()) from None


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
    atomic writer's names (``.checkpoint.npz.<12 hex digits>.tmp``), never a user's file's.
    """
    for name in RUN_FILES:
        for temporary in temporary_files(folder / name):
            temporary.unlink(missing_ok=True)


class _Run:
    """What a run in ``folder`` has on disk, for the messages that say so."""

    def __init__(self, folder):
        self.folder = folder
        self.checkpoint = folder / CHECKPOINT
        self.history = []
        self.replacing = False  # a run is there that this one replaces at its first checkpoint

    def saved(self):
        """What Ctrl-C leaves behind, in words."""
        if self.history:
            epochs = "epoch 1 is" if len(self.history) == 1 else f"epochs 1-{len(self.history)} are"
            return (f"{epochs} saved in {self.folder}; continue with "
                    f"normnet train --output-dir {self.folder} --resume")
        return f"before the first epoch finished: nothing was saved{self._old_run()}"

    def last_good(self):
        """Where the last good state is, for a run that stopped diverging."""
        if self.history:
            return f"the last good checkpoint is {self.checkpoint} (after epoch {len(self.history)})"
        if self.replacing:
            return f"no epoch of this run finished, so nothing was saved{self._old_run()}"
        return "no epoch finished, so there is no checkpoint"

    def _old_run(self):
        return f", and the run in {self.folder} is as it was" if self.replacing else ""


def _check_folder(run, resume, force):
    """Refuse a folder whose files this run may not replace (see ``train``); note a run to replace."""
    found = [name for name in RUN_FILES if os.path.lexists(run.folder / name)]
    if CHECKPOINT in found:
        if resume:
            return  # resuming reads it, with the checks of a resume
        reason = _not_a_training_checkpoint(run.checkpoint)
        if reason is not None:
            raise RunFolderError(f"{run.checkpoint} is not a checkpoint of normnet train ({reason}); normnet never "
                                 f"replaces a file it did not write: move it away or choose another --output-dir")
        if not force:
            raise RunFolderError(f"{run.folder} already holds a normnet run ({', '.join(found)}); continue it "
                                 f"with --resume, overwrite it with --force, or choose another --output-dir")
        run.replacing = True
    elif found:
        raise RunFolderError(f"{run.folder} holds {', '.join(found)} but no {CHECKPOINT} of normnet train, so they "
                             f"count as not written by normnet, and normnet never replaces such files: move them "
                             f"away or choose another --output-dir")
    elif resume:
        others = sorted(path.name for path in run.folder.iterdir() if path.name != LOCK)
        if others:
            shown = ", ".join(others[:3]) + (f" and {len(others) - 3} more" if len(others) > 3 else "")
            raise RunFolderError(f"no {CHECKPOINT} in {run.folder} to resume from, and the folder holds other "
                                 f"files ({shown}); --resume starts a new run only in an empty folder: "
                                 f"choose another --output-dir")


def _not_a_training_checkpoint(checkpoint):
    """Why ``checkpoint`` is not a checkpoint of normnet train (None when it is one)."""
    try:
        _progress(read_checkpoint(checkpoint)[1])
    except CheckpointError as error:
        return str(error).removeprefix(f"{checkpoint}: ")
    return None


def announcement(config, output_dir):
    """The line that says what a run trains, with what, and where it writes."""
    regularizer = config.regularizer if config.regularizer == "none" else \
        f"{config.regularizer} alpha {config.alpha:g}{' coupled' if config.coupled else ''}"
    return (f"training {config.model} on {config.dataset}: {config.epochs} epochs, batch {config.batch_size}, "
            f"{config.optimizer} lr {config.learning_rate:g} (x{config.lr_decay:g} per epoch), {regularizer}, "
            f"{config.dtype}; output in {output_dir}")


def _train_in_folder(run, config, data_dir, resume, force, progress, log, given):
    output_dir, checkpoint = run.folder, run.checkpoint
    progress = sys.stderr.isatty() if progress is None else progress
    _remove_stale_temporaries(output_dir)
    _check_folder(run, resume, force)
    resuming = resume and os.path.lexists(checkpoint)
    if resuming:
        network, history, data_state, saved, config = _resume(checkpoint, config, given)
        run.history = list(history)
    data_layer, (evaluation_images, evaluation_labels), (test_images, test_labels) = load_data(config, data_dir)
    evaluation_name = "validation" if config.validation_size else "test"
    log(announcement(config, output_dir))
    if resuming:
        _restore_data_order(data_layer, data_state, checkpoint)
        log(f"resuming from {checkpoint} after epoch {len(history)}")
        # The checkpoint is the record: a kill between it and these files left them behind.
        _write_run_files(output_dir, saved.to_dict(), history, evaluation_name)
    else:
        if resume:
            log(f"no checkpoint in {output_dir}: starting a new run")
        network = build_model(config)
        history = []
    network.data_layer = data_layer

    steps = data_layer.iterations_per_epoch
    for epoch in range(len(history) + 1, config.epochs + 1):
        # Exponential schedule: a function of the epoch alone, so a resumed run gets the same rate.
        network.set_learning_rate(config.learning_rate * config.lr_decay ** (epoch - 1))
        bar = _progress_bar(steps, f"epoch {epoch}/{config.epochs}", progress)
        started = time.perf_counter()
        penalties = []

        def show_progress(step):
            if step % 20 == 0 or step == steps - 1:
                elapsed = time.perf_counter() - started
                bar.set_postfix(loss=f"{np.mean(network.loss[-20:]):.4f}",
                                img_s=f"{(step + 1) * config.batch_size / max(elapsed, 1e-9):.0f}")
            bar.update(1)

        try:
            # The penalty that each step's loss includes: Σ regularizer.norm at the weights its forward pass sees.
            train_loss, seconds = run_epoch(network, steps, after_step=show_progress,
                                            before_step=lambda: penalties.append(network.regularization_loss()))
        except FloatingPointError as error:
            raise FloatingPointError(f"{error} (epoch {epoch}); {run.last_good()}") from None
        finally:
            bar.close()
        # A step's loss is computed before its update: the last update of an epoch can turn the
        # weights non-finite with every loss finite. Such weights never reach the checkpoint.
        non_finite = non_finite_arrays(network)
        if non_finite:
            raise FloatingPointError(f"{non_finite[0]} holds non-finite values after epoch {epoch}; "
                                     f"{run.last_good()}")
        evaluation_loss, evaluation_accuracy = evaluate(network, evaluation_images, evaluation_labels)
        norm_mean, norm_std = weight_norm_statistics(network)
        penalty = float(np.mean(penalties))
        row = {"epoch": epoch,
               "data_loss": train_loss - penalty,
               "penalty": penalty,
               "eval_loss": evaluation_loss,
               "eval_accuracy": evaluation_accuracy,
               "seconds": seconds,
               "seconds_per_step": seconds / steps,
               "images_per_second": steps * config.batch_size / seconds,
               "weight_norm_mean": norm_mean,
               "weight_norm_std": norm_std}
        history.append(row)
        # The checkpoint first: it marks the folder as this run's (and replaces a run being replaced).
        save(checkpoint, network, extra={"config": config.to_dict(), "history": history,
                                         "data_state": data_layer.state_dict()})
        run.history, run.replacing = list(history), False
        _write_run_files(output_dir, config.to_dict(), history, evaluation_name)
        log(f"epoch {epoch}/{config.epochs}: train loss {row['data_loss']:.4f} + penalty {penalty:.4f}, "
            f"{evaluation_name} loss {evaluation_loss:.4f}, "
            f"accuracy {evaluation_accuracy:.4f} ({seconds:.1f} s, {row['images_per_second']:.0f} img/s)")

    if config.validation_size:
        _, test_accuracy = evaluate(network, test_images, test_labels)
    else:
        test_accuracy = history[-1]["eval_accuracy"]
    return network, history, test_accuracy


def _write_run_files(output_dir, config, history, evaluation_name):
    """config.json, and with a finished epoch metrics.csv and curves.png: what the checkpoint records."""
    atomic_write(output_dir / CONFIG, lambda handle: handle.write(json.dumps(config, indent=2).encode()))
    if history:
        write_metrics(output_dir / METRICS, history)
        plot_curves(output_dir / CURVES, history, evaluation_name)


def _resume(checkpoint, config, given):
    """``(network, history, data state, the checkpoint's config, the resumed run's config)``.

    The resumed run's settings are the checkpoint's; of those the caller chose (``given``, None:
    all), each must agree, but ``epochs`` (at least the epochs finished). The layer family
    (``fast``) is this call's: both compute the same numbers.
    """
    network, extra = read_checkpoint(checkpoint, fast=config.fast)
    try:
        saved, history, data_state = _progress(extra)
        saved = TrainConfig.from_saved(saved)
    except CheckpointError as error:
        raise CheckpointError(f"{checkpoint}: {error}") from None
    chosen = config.to_dict()
    differences = [name for name in chosen if (given is None or name in given) and name not in ("epochs", "fast")
                   and chosen[name] != getattr(saved, name)]
    if differences:
        shown = "; ".join(f"{option_name(name)} {_shown_setting(chosen[name])} given, the run has "
                          f"{_shown_setting(getattr(saved, name))}" for name in differences)
        raise ValueError(f"cannot resume from {checkpoint}: it was trained with other settings ({shown}); leave "
                         f"those options out to continue the run as it was, or choose another --output-dir")
    changes = {"fast": config.fast, **({"epochs": config.epochs} if given is None or "epochs" in given else {})}
    if changes.get("epochs", len(history)) < len(history):
        raise ValueError(f"cannot resume from {checkpoint} with --epochs {changes['epochs']}: the run has finished "
                         f"{len(history)} epochs; leave --epochs out or give at least {len(history)}")
    return network, history, data_state, saved, dataclasses.replace(saved, **changes)


def _shown_setting(value):
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        return f"{value:g}"
    return "none" if value is None else str(value)


def _restore_data_order(data_layer, data_state, checkpoint):
    """Put ``data_layer`` where the checkpoint's run stood (its ``extra.data_state``)."""
    try:
        data_layer.load_state_dict(data_state)
    except KeyError as error:
        raise CheckpointError(f"{checkpoint}: extra.data_state.{error.args[0]}: missing") from None
    except (TypeError, ValueError) as error:
        raise CheckpointError(f"{checkpoint}: extra.data_state: {error}") from None


def non_finite_arrays(network):
    """Names of the network's arrays (parameters, running moments, optimizer state) that hold NaN or ±inf."""
    _, arrays = describe_network(network)
    return [key for key, array in arrays.items() if not np.all(np.isfinite(array))]


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


def run_epoch(network, steps, after_step=None, before_step=None):
    """Train ``network`` for ``steps`` iterations; return (mean training loss, seconds of training).

    ``before_step()`` runs before each step and ``after_step(step)`` after each successful one
    (penalties, progress bars, weight-norm trajectories); their time is not counted. Afterwards the
    network's loss history keeps only this epoch's entries, which is all the metrics need and keeps
    checkpoints small. A diverging step raises FloatingPointError (from ``NeuralNetwork.train``).
    The steps run with subnormal numbers flushed to zero (``framework.floating_point``), so a
    unit that weight decay drives to zero does not slow every step several times.
    """
    from framework.floating_point import subnormals_flushed

    first_loss_index = len(network.loss)
    seconds = 0.0
    with subnormals_flushed():
        for step in range(steps):
            if before_step is not None:
                before_step()
            started = time.perf_counter()
            network.train(1)
            seconds += time.perf_counter() - started
            if after_step is not None:
                after_step(step)
    train_loss = float(np.mean(network.loss[first_loss_index:]))
    network.loss = network.loss[-steps:]
    return train_loss, seconds


def write_metrics(path, history):
    """Write the per-epoch rows as CSV, atomically. Rows of a run begun by older code (``train_loss``,
    data loss and penalty together) keep their columns; a column a row lacks is left empty."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(dict.fromkeys(key for row in history for key in row)))
    writer.writeheader()
    writer.writerows(history)
    atomic_write(path, lambda handle: handle.write(buffer.getvalue().encode()))


def loss_series(history, evaluation_name="test"):
    """``{label: (epochs, values)}`` of the loss curves: the training data loss and the penalty apart
    (rows written by older code hold only their sum, ``train_loss``), and the evaluation loss."""
    columns = {"data_loss": "training data loss", "penalty": "penalty",
               "train_loss": "training loss (data + penalty)", "eval_loss": f"{evaluation_name} loss"}
    series = {}
    for key, label in columns.items():
        rows = [row for row in history if key in row]
        if rows:
            series[label] = ([row["epoch"] for row in rows], [row[key] for row in rows])
    return series


def plot_curves(path, history, evaluation_name="test"):
    """Loss (data loss and penalty apart) and accuracy per epoch, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (loss_axis, accuracy_axis) = plt.subplots(1, 2, figsize=(10, 4))
    for label, (epochs, values) in loss_series(history, evaluation_name).items():
        loss_axis.plot(epochs, values, "o-", label=label)
    loss_axis.set_xlabel("epoch")
    loss_axis.set_ylabel("per image, mean over the epoch")
    loss_axis.set_title("Loss")
    loss_axis.legend()
    epochs = [row["epoch"] for row in history]
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
