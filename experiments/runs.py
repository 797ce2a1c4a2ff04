"""One run of the study: train the network a :class:`~experiments.grid.RunSpec` describes and
return its *record*, the same wherever it executes (this process or a Dask worker).

A record is a JSON-ready dict:

    spec              the RunSpec's fields
    run_id            the spec's run id (the name of its file)
    rows              one dict per epoch, epoch 0 being the initialization (norms only)
    trajectory        per-unit weight-norm statistics every ``trajectory_every`` steps
    steps_per_epoch   training steps in one epoch
    diverged          True when a step produced a non-finite loss (later epochs count as chance)
    failed            True when the run raised; ``error`` and ``traceback`` say what
    executed_on       "this process" or the worker's address, and the host's name
    wall_seconds      the run's wall time

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

from data import DataError, dataset_info
from experiments.grid import VALIDATION_SIZE

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
                       validation_size=VALIDATION_SIZE)


def _idx_files_missing(folder, name):
    """The names of ``name``'s four IDX files that ``folder`` lacks (raw or .gz)."""
    return [idx_file.name for idx_file in dataset_info(name).files.values()
            if not any((Path(folder) / f"{idx_file.name}{suffix}").is_file() for suffix in ("", ".gz"))]


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
        from data import load_dataset

        if self.data_dir is not None:
            folders = [self.data_dir / dataset_info(name).name, self.data_dir]
            if all(_idx_files_missing(folder, name) for folder in folders):
                raise MissingDataError(
                    f"{self.where} cannot find {name}: {self.data_dir} (and its subfolder "
                    f"{dataset_info(name).name}/) lacks {', '.join(_idx_files_missing(self.data_dir, name))}")
        try:
            return load_dataset(name, data_dir=self.data_dir, dtype=np.float32, validation_size=VALIDATION_SIZE)
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
    probabilities = network.test_in_chunks(images, EVALUATION_CHUNK, workers=threads)
    correct = int(np.sum(probabilities.argmax(axis=1) == labels))
    return 1.0 - correct / len(labels)


def train_run(spec, dataset, evaluation_threads=None):
    """Train one run on ``dataset``; return its record without the bookkeeping fields."""
    from data import DataLayer
    from framework.training import build_model, run_epoch, weight_norm_statistics

    network = build_model(train_config(spec))
    evaluation = {
        "validation": (dataset.validation_images[:spec.eval_size], dataset.validation_labels[:spec.eval_size]),
        "test": (dataset.test_images[:spec.eval_size], dataset.test_labels[:spec.eval_size])}
    data_layer = DataLayer(dataset.train_images[:spec.train_size], dataset.train_labels[:spec.train_size],
                           spec.batch_size, rng=np.random.default_rng([spec.seed, 1]))
    network.data_layer = data_layer
    steps = data_layer.iterations_per_epoch

    def trajectory_point(step):
        mean, std = weight_norm_statistics(network)
        return {"step": step, "weight_norm_mean": mean, "weight_norm_std": std,
                "layer_norm_means": layer_norm_means(network)}

    mean, std = weight_norm_statistics(network)
    rows = [{"epoch": 0, "train_loss": math.nan, "validation_error": math.nan, "test_error": math.nan,
             "weight_norm_mean": mean, "weight_norm_std": std, "seconds_per_step": math.nan}]
    trajectory = [trajectory_point(0)]
    diverged = False
    step = 0

    def record_trajectory(_):
        nonlocal step
        step += 1
        if step % spec.trajectory_every == 0:
            trajectory.append(trajectory_point(step))

    for epoch in range(1, spec.epochs + 1):
        try:
            train_loss, seconds = run_epoch(network, steps, after_step=record_trajectory)
        except FloatingPointError:
            diverged = True
            break
        # Test error every epoch (the convergence curves); validation error, which only chooses
        # alpha, after the last epoch alone (evaluation costs a third of an epoch here).
        errors = {name: (error_rate(network, images, labels, evaluation_threads)
                         if name == "test" or epoch == spec.epochs else math.nan)
                  for name, (images, labels) in evaluation.items()}
        mean, std = weight_norm_statistics(network)
        rows.append({"epoch": epoch, "train_loss": train_loss,
                     "validation_error": errors["validation"], "test_error": errors["test"],
                     "weight_norm_mean": mean, "weight_norm_std": std, "seconds_per_step": seconds / steps})
    if trajectory[-1]["step"] != step and not diverged:
        trajectory.append(trajectory_point(step))
    if diverged:
        # A diverged run counts as chance level (90 % error) for the epochs it did not finish.
        for epoch in range(len(rows), spec.epochs + 1):
            rows.append({"epoch": epoch, "train_loss": math.nan, "validation_error": 0.9, "test_error": 0.9,
                         "weight_norm_mean": math.nan, "weight_norm_std": math.nan, "seconds_per_step": math.nan})
    return {"diverged": diverged, "failed": False, "steps_per_epoch": steps, "rows": rows, "trajectory": trajectory}


def failed_record(spec, error, where, details=""):
    """The record of a run that could not finish because of ``error`` (text or exception)."""
    text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
    return {"spec": dataclasses.asdict(spec), "run_id": spec.run_id, "diverged": False, "failed": True,
            "error": text, "traceback": details, "executed_on": where, "steps_per_epoch": None,
            "rows": [], "trajectory": [], "wall_seconds": math.nan}


def execute_run(spec, datasets, evaluation_threads=None):
    """Train one run with one BLAS thread; return its record.

    A run that raises is recorded as failed, with its error. A dataset that cannot be
    found raises :class:`MissingDataError` instead: that is the process's fault, not the
    run's, and recording it would stop the run from ever being tried again.
    """
    from threadpoolctl import threadpool_limits

    dataset = datasets(spec.dataset)
    started = time.perf_counter()
    with threadpool_limits(limits=1):
        try:
            outcome = train_run(spec, dataset, evaluation_threads)
        except Exception as error:  # noqa: BLE001 - any error of the run itself is that run's result
            return failed_record(spec, error, datasets.where, traceback.format_exc())
    return {"spec": dataclasses.asdict(spec), "run_id": spec.run_id, **outcome, "executed_on": datasets.where,
            "wall_seconds": time.perf_counter() - started}


def run_on_worker(spec, data_dir):
    """The Dask task of one run: its record, computed on this worker with one thread.

    The worker already runs one task at a time per process (one thread per worker), so
    evaluation stays on that thread too.
    """
    from distributed import get_worker

    where = f"worker {get_worker().address} on host {socket.gethostname()}"
    return execute_run(spec, process_datasets(data_dir, where), evaluation_threads=1)
