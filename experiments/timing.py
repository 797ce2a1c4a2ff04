"""Speed measurements of the study: the timing experiment (the paper's claim 4, negligible
extra computation) and the throughput behind the plan's time estimate.

Both run in the command's own process with one BLAS thread, after the grid (the timing)
or before it (the plan), never while other runs compete for the cores.
"""
import statistics
import time

import numpy as np

from experiments.grid import VALIDATION_SIZE, RunSpec
from experiments.runs import train_config


class FixedBatch:
    """A data layer that returns the same batch every time (timing without data loading noise)."""

    def __init__(self, images, one_hot_labels):
        self.images = images
        self.labels = one_hot_labels

    def next(self):
        return self.images, self.labels


# A round is a load window, and is left out, when another process took the core from this one
# (its CPU time falls below this share of its wall time) or when it ran this much slower or
# faster than the model's median round.
MIN_CPU_SHARE = 0.9
MAX_DEVIATION = 0.15
TIMED_REGULARIZERS = ("none", "l1", "l2", "normloss")


def load_windows(rounds):
    """Indices of the rounds that ran under outside load.

    ``rounds``: one dict per round, ``{"wall": seconds, "cpu": seconds}`` summed over the
    regularizers of that round. A round is excluded when cpu / wall < MIN_CPU_SHARE (this
    process waited for a core) or when its wall time deviates from the median round's by
    more than MAX_DEVIATION (a relative deviation).
    """
    if not rounds:
        return []
    median = statistics.median(entry["wall"] for entry in rounds)
    return [index for index, entry in enumerate(rounds)
            if entry["cpu"] < MIN_CPU_SHARE * entry["wall"] or abs(entry["wall"] - median) > MAX_DEVIATION * median]


def measure_timing(settings, datasets, log=print):
    """Median seconds per training step per regularizer and model, measured in this process.

    Per model one network per regularizer (same initial weights), trained on the same fixed
    batch; the regularizers take turns in rounds of ``timing_steps`` steps (the order rotates
    every round), so background load hits all of them alike. Rounds under outside load
    (:func:`load_windows`) are excluded; the rows say how many. Also times the regularizer's
    own work per step: ``calculate_gradient`` and ``norm`` of every kernel.
    """
    from framework.models import make_regularizer
    from framework.training import build_model, regularizable_kernels

    dataset = datasets(settings.main_dataset)
    images = dataset.train_images[:settings.batch_size]
    labels = np.eye(10, dtype=np.float32)[dataset.train_labels[:settings.batch_size]]
    rows = []
    for model in settings.timing_models:
        networks = {}
        for name in TIMED_REGULARIZERS:
            alpha = 0.0 if name == "none" else settings.timing_alpha
            spec = RunSpec("timing", settings.main_dataset, model, name, alpha, settings.batch_size, 0, "he", 1, 0)
            network = build_model(train_config(spec))
            network.data_layer = FixedBatch(images, labels)
            network.train(3)  # warm up buffers and caches
            networks[name] = network
        step_seconds = {name: [] for name in TIMED_REGULARIZERS}
        rounds = []
        count = len(TIMED_REGULARIZERS)
        for round_index in range(settings.timing_rounds):
            order = TIMED_REGULARIZERS[round_index % count:] + TIMED_REGULARIZERS[:round_index % count]
            wall = cpu = 0.0
            for name in order:
                started, started_cpu = time.perf_counter(), time.process_time()
                networks[name].train(settings.timing_steps)
                seconds = time.perf_counter() - started
                wall += seconds
                cpu += time.process_time() - started_cpu
                step_seconds[name].append(seconds / settings.timing_steps)
            rounds.append({"wall": wall, "cpu": cpu})
        excluded = set(load_windows(rounds))
        if len(excluded) == len(rounds):  # all under load: keep them all rather than report nothing
            excluded = set()
        kept = {name: [value for index, value in enumerate(values) if index not in excluded]
                for name, values in step_seconds.items()}
        kernels = regularizable_kernels(networks["none"])
        regularizer_seconds = {"none": 0.0}
        for name in TIMED_REGULARIZERS[1:]:
            regularizer = make_regularizer(name, settings.timing_alpha)
            samples = []
            for _ in range(settings.timing_rounds * 4):
                started = time.perf_counter()
                for _ in range(10):
                    for kernel in kernels:
                        regularizer.calculate_gradient(kernel)
                        regularizer.norm(kernel)
                samples.append((time.perf_counter() - started) / 10)
            regularizer_seconds[name] = statistics.median(samples)
        base = statistics.median(kept["none"])
        for name in TIMED_REGULARIZERS:
            median = statistics.median(kept[name])
            rows.append({"model": model, "regularizer": name,
                         "alpha": 0.0 if name == "none" else settings.timing_alpha,
                         "batch_size": settings.batch_size, "rounds": settings.timing_rounds,
                         "excluded_rounds": len(excluded), "steps_per_round": settings.timing_steps,
                         "median_seconds_per_step": median, "min_seconds_per_step": min(kept[name]),
                         "max_seconds_per_step": max(kept[name]), "ratio_to_none": median / base,
                         "regularizer_seconds_per_step": regularizer_seconds[name],
                         "regularizer_share_of_step": regularizer_seconds[name] / median})
            log(f"  {model:8s} {name:9s} {1000 * median:7.2f} ms/step  ×{median / base:.3f}  "
                f"(regularizer's own work {1e6 * regularizer_seconds[name]:.0f} µs/step)")
        log(f"  {model}: {len(excluded)} of {len(rounds)} rounds excluded as load windows")
    return rows


def measure_throughput(models, batch_size, log=print):
    """Training and evaluation images/second of each model on random data (for the plan)."""
    from framework.training import build_model

    rng = np.random.default_rng(0)
    images = rng.random((batch_size, 1, 28, 28), dtype=np.float32)
    labels = np.eye(10, dtype=np.float32)[rng.integers(0, 10, batch_size)]
    result = {}
    for model in models:
        spec = RunSpec("plan", "mnist", model, "normloss", 1e-3, batch_size, 0, "he", 1, 0)
        network = build_model(train_config(spec))
        network.data_layer = FixedBatch(images, labels)
        network.train(2)
        started = time.perf_counter()
        network.train(5)
        train_rate = 5 * batch_size / (time.perf_counter() - started)
        evaluation_images = rng.random((1000, 1, 28, 28), dtype=np.float32)
        started = time.perf_counter()
        network.test_in_chunks(evaluation_images, workers=1)
        eval_rate = 1000 / (time.perf_counter() - started)
        result[model] = (train_rate, eval_rate)
        log(f"  {model}: {train_rate:.0f} training images/s, {eval_rate:.0f} evaluation images/s (one thread)")
    return result


def estimate_seconds(specs, throughput):
    """Rough seconds for ``specs`` run one after the other, from measured images/second per model."""
    total = 0.0
    for spec in specs:
        train_rate, eval_rate = throughput[spec.model]
        test_images = min(spec.eval_size or 10000, 10000)
        validation_images = min(spec.eval_size or VALIDATION_SIZE, VALIDATION_SIZE)
        total += spec.epochs * (spec.train_size / train_rate + (test_images + validation_images) / eval_rate)
    return total
