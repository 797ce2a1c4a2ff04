"""One run of the study: train the network a :class:`~experiments.grid.RunSpec` describes and
return its *record*, the same wherever it executes (this process or a Dask worker).

A record is a JSON-ready dict:

    spec              the RunSpec's fields
    run_id            the spec's run id (the name of its file)
    rows              one dict per epoch, epoch 0 being the initialization (norms and penalty only):
                      data_loss, penalty, validation_error, test_error, last_step_learning_rate,
                      weight_norm_mean/std, layer_norm_means (one per kernel), seconds_per_step
    trajectory        per-unit weight-norm statistics every ``trajectory_every`` steps
    shrinkage_per_step  mean |η̄·g_o| / |w_o| over the units at the final weights (see shrinkage_per_step)
    steps_per_epoch   training steps in one epoch
    diverged          True when a step produced a non-finite loss (later epochs count as chance)
    failed            True when the run raised; ``error`` and ``traceback`` say what
    executed_on       "this process" or the worker's address, and the host's name
    wall_seconds      the run's wall time
    code              the identity of the code that trained it: digest and library versions
                      (``experiments/provenance.py``)

Reproducibility: the network and the batch order come from the spec's seed alone, and
every run trains with one BLAS thread (threadpoolctl), so a spec gives the same numbers
bit for bit in the command's process and on any worker with the same libraries.
Evaluation splits the test images into chunks that are each computed alone, so how many
threads evaluate them changes nothing either.
"""
import dataclasses
import math
import socket
import time
import traceback
from pathlib import Path

import numpy as np

from data import DataError
from experiments.grid import MOMENTUM, VALIDATION_SIZE
from experiments.provenance import code_identity

EVALUATION_CHUNK = 128


class MissingDataError(DataError):
    """A process that executes runs cannot find a dataset; the message names the process and the files."""


def train_config(spec):
    """The TrainConfig of ``normnet train`` that matches a run (so build_model builds it)."""
    from framework.training import TrainConfig

    # "momentum": SGD with momentum 0.9 (the model builders' default), the paper's optimizer.
    return TrainConfig(epochs=spec.epochs, batch_size=spec.batch_size, learning_rate=spec.learning_rate,
                       optimizer="momentum", regularizer=spec.regularizer, alpha=spec.alpha, dtype="float32",
                       seed=spec.seed, model=spec.model, dataset=spec.dataset, initializer=spec.initializer,
                       validation_size=VALIDATION_SIZE, coupled=spec.coupled)


def learning_rate_at(spec, step, total_steps):
    """The learning rate of training step ``step`` (0-based) of ``total_steps``.

    cosine:   η_t = η₀ · (1 + cos(π t / T)) / 2, from η₀ at t = 0 down to η₀ · (1 − cos(π/T)) / 2 ≈ 0
              at the last step t = T − 1 (never exactly 0)
    constant: η_t = η₀
    """
    if spec.schedule == "constant":
        return spec.learning_rate
    if spec.schedule != "cosine":
        raise ValueError(f"RunSpec.schedule: expected 'cosine' or 'constant', got {spec.schedule!r}")
    return spec.learning_rate * (1 + math.cos(math.pi * step / total_steps)) / 2


def shrinkage_per_step(network, regularizer, mean_learning_rate, coupled):
    """Mean over every unit o of every regularized kernel of |η̄ · g_o| / |w_o|, at the current weights.

    ``g = regularizer.calculate_gradient(kernel)``, ``η̄`` the run's mean learning rate: the
    fraction of its norm a unit loses (or gains) per step at these weights. A coupled
    regularizer's gradient accumulates in the velocity to 1/(1 − μ) times its size while it
    changes slowly, so its shrinkage is counted with that factor. 0 without a regularizer.
    """
    from framework.training import regularizable_kernels
    from regularizers import unit_norms

    if regularizer is None:
        return 0.0
    ratios = []
    for kernel in regularizable_kernels(network):
        kernel = np.asarray(kernel, dtype=np.float64)
        gradient_norms = unit_norms(regularizer.calculate_gradient(kernel))
        norms = unit_norms(kernel)
        ratios.append(gradient_norms[norms > 0] / norms[norms > 0])
    factor = mean_learning_rate / (1 - MOMENTUM) if coupled else mean_learning_rate
    return float(factor * np.concatenate(ratios).mean())


class DatasetCache:
    """Each dataset is read (and its checksums verified) once per process.

    ``data_dir`` None looks where ``normnet train`` looks (the dataset's variable,
    ``NORMNET_DATA``, the cache, a download). A folder named explicitly must hold the files
    (in it, or in a subfolder named after the dataset): nothing is downloaded in its place.
    ``where`` names this process in errors ("this process", or a worker's address).
    """

    def __init__(self, data_dir=None, where="this process"):
        self.data_dir = None if data_dir is None else Path(data_dir)
        self.where = where
        self._datasets = {}

    def __call__(self, name):
        if name not in self._datasets:
            self._datasets[name] = self._load(name)
        return self._datasets[name]

    def _load(self, name):
        from data import DataFolderError, load_dataset

        try:
            return load_dataset(name, data_dir=self.data_dir, dtype=np.float32, validation_size=VALIDATION_SIZE)
        except DataFolderError as error:  # names the folder and the files it lacks
            raise MissingDataError(f"{self.where} cannot find {name}: {error}") from None
        except DataError as error:
            raise MissingDataError(f"{self.where} cannot load {name}: {error}") from None


_PROCESS_DATASETS = {}


def process_datasets(data_dir=None, where="this process"):
    """The DatasetCache of this process for ``data_dir`` (a worker keeps its datasets between runs)."""
    key = None if data_dir is None else str(data_dir)
    if key not in _PROCESS_DATASETS:
        _PROCESS_DATASETS[key] = DatasetCache(data_dir, where)
    return _PROCESS_DATASETS[key]


def layer_norm_means(network):
    """Mean per-unit norm ‖w_o‖ of each regularizable kernel, input to output."""
    from framework.training import regularizable_kernels
    from regularizers import unit_norms

    return [float(unit_norms(kernel).astype(np.float64).mean()) for kernel in regularizable_kernels(network)]


def error_rate(network, images, labels, threads):
    """Fraction of ``images`` classified wrongly, computed in chunks on ``threads`` threads (None: every core)."""
    from framework.training import evaluate

    return 1.0 - evaluate(network, images, labels, EVALUATION_CHUNK, workers=threads)[1]


def train_run(spec, dataset, evaluation_threads=None):
    """Train one run on ``dataset``; return its record without the bookkeeping fields.

    Per epoch: the data loss (mean cross-entropy of the epoch's batches, without the
    penalty), the penalty (mean Σ regularizer.norm over the kernels, at the weights each
    batch saw), validation and test error, per-layer mean unit norms, the learning rate of
    the epoch's last step. The data loss of a step is its loss less the penalty at the
    weights of that step's forward pass.
    """
    from data import DataLayer
    from framework.models import make_regularizer
    from framework.training import build_model, run_epoch, weight_norm_statistics

    network = build_model(train_config(spec))
    evaluation = {
        "validation": (dataset.validation_images[:spec.eval_size], dataset.validation_labels[:spec.eval_size]),
        "test": (dataset.test_images[:spec.eval_size], dataset.test_labels[:spec.eval_size])}
    data_layer = DataLayer(dataset.train_images[:spec.train_size], dataset.train_labels[:spec.train_size],
                           spec.batch_size, rng=np.random.default_rng([spec.seed, 1]))
    network.data_layer = data_layer
    steps = data_layer.iterations_per_epoch
    total_steps = steps * spec.epochs

    def trajectory_point(step):
        mean, std = weight_norm_statistics(network)
        return {"step": step, "weight_norm_mean": mean, "weight_norm_std": std,
                "layer_norm_means": layer_norm_means(network)}

    def norm_row(epoch, **numbers):
        mean, std = weight_norm_statistics(network)
        return {"epoch": epoch, **numbers, "weight_norm_mean": mean, "weight_norm_std": std,
                "layer_norm_means": layer_norm_means(network)}

    rows = [norm_row(0, data_loss=math.nan, penalty=network.regularization_loss(), validation_error=math.nan,
                     test_error=math.nan, last_step_learning_rate=math.nan,
                     seconds_per_step=math.nan)]
    trajectory = [trajectory_point(0)]
    diverged = False
    step = 0
    learning_rates = []
    penalties = []

    def before_step():
        # The learning rate and the penalty of the step about to run (its forward pass sees these weights).
        rate = learning_rate_at(spec, step, total_steps)
        network.set_learning_rate(rate)
        learning_rates.append(rate)
        penalties.append(network.regularization_loss())

    def after_step(_):
        nonlocal step
        step += 1
        if step % spec.trajectory_every == 0:
            trajectory.append(trajectory_point(step))
        if step < total_steps:
            before_step()

    before_step()
    for epoch in range(1, spec.epochs + 1):
        first_penalty = len(penalties) - 1
        try:
            total_loss, seconds = run_epoch(network, steps, after_step=after_step)
        except FloatingPointError:
            diverged = True
            break
        epoch_penalties = penalties[first_penalty:first_penalty + steps]
        penalty = float(np.mean(epoch_penalties))
        errors = {name: error_rate(network, images, labels, evaluation_threads)
                  for name, (images, labels) in evaluation.items()}
        rows.append(norm_row(epoch, data_loss=total_loss - penalty, penalty=penalty,
                             validation_error=errors["validation"], test_error=errors["test"],
                             last_step_learning_rate=learning_rates[first_penalty + steps - 1],
                             seconds_per_step=seconds / steps))
    if trajectory[-1]["step"] != step and not diverged:
        trajectory.append(trajectory_point(step))
    shrinkage = math.nan
    if not diverged:
        shrinkage = shrinkage_per_step(network, make_regularizer(spec.regularizer, spec.alpha),
                                       float(np.mean(learning_rates)), spec.coupled)
    if diverged:
        # A diverged run counts as chance level (90 % error) for the epochs it did not finish.
        for epoch in range(len(rows), spec.epochs + 1):
            rows.append({"epoch": epoch, "data_loss": math.nan, "penalty": math.nan, "validation_error": 0.9,
                         "test_error": 0.9, "last_step_learning_rate": math.nan, "seconds_per_step": math.nan,
                         "weight_norm_mean": math.nan, "weight_norm_std": math.nan, "layer_norm_means": []})
    return {"diverged": diverged, "failed": False, "steps_per_epoch": steps, "rows": rows, "trajectory": trajectory,
            "shrinkage_per_step": shrinkage}


def failed_record(spec, error, where, details="", code=None):
    """The record of a run that could not finish because of ``error`` (text or exception);
    ``code`` the identity of the code that tried (None: this process's)."""
    text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
    return {"spec": dataclasses.asdict(spec), "run_id": spec.run_id, "diverged": False, "failed": True,
            "error": text, "traceback": details, "executed_on": where, "steps_per_epoch": None,
            "rows": [], "trajectory": [], "wall_seconds": math.nan, "code": code or code_identity()}


def execute_run(spec, datasets, evaluation_threads=None):
    """Train one run with one BLAS thread; return its record.

    A run that raises is recorded as failed, with its error. A dataset that cannot be
    found raises :class:`MissingDataError` instead: that is the process's fault, not the
    run's, and recording it would stop the run from ever being tried again.
    """
    from threadpoolctl import threadpool_limits

    from framework.memory import keep_freed_memory

    keep_freed_memory()  # this process trains (here or a worker): no page faults for every new array
    code = code_identity()
    dataset = datasets(spec.dataset)
    started = time.perf_counter()
    with threadpool_limits(limits=1):
        try:
            outcome = train_run(spec, dataset, evaluation_threads)
        except Exception as error:  # noqa: BLE001 - any error of the run itself is that run's result
            return failed_record(spec, error, datasets.where, traceback.format_exc(), code)
    return {"spec": dataclasses.asdict(spec), "run_id": spec.run_id, **outcome, "executed_on": datasets.where,
            "wall_seconds": time.perf_counter() - started, "code": code}


def run_on_worker(spec, data_dir):
    """The Dask task of one run: its record, computed on this worker with one thread.

    The worker already runs one task at a time per process (one thread per worker), so
    evaluation stays on that thread too.
    """
    from distributed import get_worker

    where = f"worker {get_worker().address} on host {socket.gethostname()}"
    return execute_run(spec, process_datasets(data_dir, where), evaluation_threads=1)
