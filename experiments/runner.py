"""``normnet compare``: Norm Loss against no regularizer, L1 and L2 (weight decay).

Tests the four claims of the Norm Loss paper (Georgiou et al., ICPR 2020) at a scale
two CPU cores can run: (1) accuracy comparable to or better than weight decay,
(2) faster convergence, (3) less sensitivity to the regularization factor alpha and
to the batch size, (4) negligible extra computation; plus how per-unit weight norms
evolve from two initializations.

A *run* is one training run described by a :class:`RunSpec`. Every finished run is
stored as ``<output>/runs/<run_id>.json`` (its spec, one row per epoch, and the
weight-norm trajectory), written atomically; a run whose JSON exists is never run
again, so killing the command and starting it again continues where it stopped.
``results.csv``, ``timing.csv``, the figures and ``summary.md`` are rebuilt from the
run files at the end (see ``framework/compare_report.py``).

Experiments (names for ``--only``):

    main      Fashion-MNIST, LeNet, batch 64: none, and L1 / L2 / NormLoss over a grid of alphas
    batch     L2 and NormLoss at their best alpha (chosen by validation error) at other batch sizes
    mnist     MNIST, LeNet: each regularizer at the alpha chosen on Fashion-MNIST
    allconv   Fashion-MNIST, the all-convolutional network with batch norm: none, L2, NormLoss
    norms     LeNet from the "small" initializer (the He runs come from ``main``): weight-norm trajectories
    timing    seconds per training step with each regularizer, in one process

Training everywhere: SGD with momentum 0.9 (the paper's optimizer; the regularizer acts as
decoupled shrinkage, see ``optimizers/optimizer.py``), mean cross-entropy, float32, He
initialization unless a run says "small". The last 5000 training images are the
validation set; a run trains on the first ``train_size`` of the rest. The best alpha of
a regularizer is the one with the lowest validation error after the last epoch (mean
over seeds); test error is reported at that alpha, so the choice never sees the test set.
"""
import dataclasses
import hashlib
import json
import math
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from framework.persistence import atomic_write

REGULARIZERS = ("none", "l1", "l2", "normloss")
EXPERIMENTS = ("main", "timing", "norms", "batch", "mnist", "allconv")
# What each experiment needs to have run first (the best alphas of "main").
PREREQUISITES = {"batch": ("main",), "mnist": ("main",)}
VALIDATION_SIZE = 5000
LEARNING_RATE = 0.05
MOMENTUM = 0.9


@dataclasses.dataclass(frozen=True)
class RunSpec:
    """Everything that decides the outcome of one training run."""

    experiment: str
    dataset: str
    model: str
    regularizer: str
    alpha: float
    batch_size: int
    seed: int
    initializer: str
    epochs: int
    train_size: int
    learning_rate: float = LEARNING_RATE
    eval_size: int | None = None  # evaluate on the first eval_size validation/test images (None: all)
    trajectory_every: int = 25    # record per-unit weight norms every this many steps

    @property
    def run_id(self):
        """A readable name plus a short hash of every field (so no two specs share a file)."""
        fields = dataclasses.asdict(self)
        fields.pop("experiment")  # the same run serves every experiment that asks for it
        digest = hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:8]
        return (f"{self.dataset}_{self.model}_{self.regularizer}_a{self.alpha:g}_b{self.batch_size}"
                f"_{self.initializer}_s{self.seed}_{digest}")


@dataclasses.dataclass
class Settings:
    """The size of the grid: the full one, or the ``--quick`` smoke test."""

    main_dataset: str = "fashion-mnist"
    second_dataset: str = "mnist"
    seeds: tuple = (0, 1, 2)
    epochs: int = 5
    train_size: int = 10000
    batch_size: int = 64
    alphas: dict = dataclasses.field(default_factory=lambda: {
        "l1": (1e-5, 1e-4, 1e-3, 1e-2),
        "l2": (1e-5, 1e-4, 1e-3, 1e-2, 1e-1),
        "normloss": (1e-5, 1e-4, 1e-3, 1e-2, 1e-1)})
    batch_sizes: tuple = (32, 64, 128, 256)
    allconv_alphas: tuple = (1e-4, 1e-3, 1e-2)
    allconv_epochs: int = 3
    allconv_train_size: int = 3000
    allconv_batch_size: int = 64
    allconv_eval_size: int | None = 5000  # the all-conv net evaluates slowly: first 5000 test images
    norm_alpha: float = 1e-2          # the alpha of the weight-norm trajectories (L2 and NormLoss)
    eval_size: int | None = None
    timing_rounds: int = 15
    timing_steps: int = 30
    timing_alpha: float = 1e-3
    trajectory_every: int = 25

    @classmethod
    def quick(cls):
        return cls(seeds=(0, 1), epochs=2, train_size=640, alphas={"l1": (1e-4, 1e-2), "l2": (1e-4, 1e-2),
                                                                     "normloss": (1e-4, 1e-2)},
                   batch_sizes=(64, 128), allconv_alphas=(1e-3,), allconv_epochs=1, allconv_train_size=128,
                   allconv_eval_size=300, eval_size=300, timing_rounds=3, timing_steps=5, trajectory_every=5)


# -- the grid -----------------------------------------------------------------------------

def main_specs(settings):
    """Experiment "main": every regularizer over its alphas, LeNet, the main dataset."""
    grid = [("none", 0.0)] + [(name, alpha) for name in ("l1", "l2", "normloss") for alpha in settings.alphas[name]]
    return [RunSpec("main", settings.main_dataset, "lenet", name, alpha, settings.batch_size, seed, "he",
                    settings.epochs, settings.train_size, eval_size=settings.eval_size,
                    trajectory_every=settings.trajectory_every)
            for name, alpha in grid for seed in settings.seeds]


def batch_specs(settings, best_alphas):
    """Experiment "batch": L2 and NormLoss at their best alpha, at every batch size."""
    return [RunSpec("batch", settings.main_dataset, "lenet", name, best_alphas[name], batch_size, seed, "he",
                    settings.epochs, settings.train_size, eval_size=settings.eval_size)
            for name in ("l2", "normloss") for batch_size in settings.batch_sizes for seed in settings.seeds]


def mnist_specs(settings, best_alphas):
    """Experiment "mnist": each regularizer at its alpha chosen on the main dataset."""
    return [RunSpec("mnist", settings.second_dataset, "lenet", name, best_alphas[name], settings.batch_size, seed,
                    "he", settings.epochs, settings.train_size, eval_size=settings.eval_size)
            for name in REGULARIZERS for seed in settings.seeds]


def allconv_specs(settings):
    """Experiment "allconv": none, L2 and NormLoss on the all-convolutional network with batch norm."""
    grid = [("none", 0.0)] + [(name, alpha) for name in ("l2", "normloss") for alpha in settings.allconv_alphas]
    return [RunSpec("allconv", settings.main_dataset, "allconv", name, alpha, settings.allconv_batch_size, seed,
                    "he", settings.allconv_epochs, settings.allconv_train_size, eval_size=settings.allconv_eval_size)
            for name, alpha in grid for seed in settings.seeds]


def norms_specs(settings):
    """Experiment "norms": none, L2 and NormLoss from both initializers (He runs are "main" runs)."""
    grid = [("none", 0.0), ("l2", settings.norm_alpha), ("normloss", settings.norm_alpha)]
    return [RunSpec("norms", settings.main_dataset, "lenet", name, alpha, settings.batch_size, seed, initializer,
                    settings.epochs, settings.train_size, eval_size=settings.eval_size,
                    trajectory_every=settings.trajectory_every)
            for initializer in ("he", "small") for name, alpha in grid for seed in settings.seeds]


# -- running one run ----------------------------------------------------------------------

class DatasetCache:
    """Each dataset is read (and its checksums verified) once per process."""

    def __init__(self, data_dir=None):
        self.data_dir = data_dir
        self._datasets = {}

    def __call__(self, name):
        if name not in self._datasets:
            from data import load_dataset

            self._datasets[name] = load_dataset(name, data_dir=self.data_dir, dtype=np.float32,
                                                validation_size=VALIDATION_SIZE)
        return self._datasets[name]


def train_config(spec):
    """The TrainConfig of ``normnet train`` that matches a run (so build_model builds it)."""
    from framework.training import TrainConfig

    return TrainConfig(epochs=spec.epochs, batch_size=spec.batch_size, learning_rate=spec.learning_rate,
                       optimizer="momentum", regularizer=spec.regularizer, alpha=spec.alpha, dtype="float32",
                       seed=spec.seed, model=spec.model, dataset=spec.dataset, initializer=spec.initializer,
                       validation_size=VALIDATION_SIZE)


def layer_norm_means(network):
    """Mean per-unit norm ‖w_o‖ of each regularizable kernel, input to output."""
    from framework.training import regularizable_kernels
    from regularizers import unit_norms

    return [float(unit_norms(kernel).astype(np.float64).mean()) for kernel in regularizable_kernels(network)]


def execute_run(spec, datasets, log=print):
    """Train one run; return its record (spec, per-epoch rows, weight-norm trajectory)."""
    from data import DataLayer
    from framework.training import build_model, evaluate, run_epoch, weight_norm_statistics

    dataset = datasets(spec.dataset)
    network = build_model(train_config(spec))
    train_images = dataset.train_images[:spec.train_size]
    train_labels = dataset.train_labels[:spec.train_size]
    evaluation = {
        "validation": (dataset.validation_images[:spec.eval_size], dataset.validation_labels[:spec.eval_size]),
        "test": (dataset.test_images[:spec.eval_size], dataset.test_labels[:spec.eval_size])}
    data_layer = DataLayer(train_images, train_labels, spec.batch_size, rng=np.random.default_rng([spec.seed, 1]))
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
        except FloatingPointError as error:
            log(f"  diverged in epoch {epoch}: {error}")
            diverged = True
            break
        # Test error every epoch (the convergence curves); validation error, which only chooses
        # alpha, after the last epoch alone (evaluation costs a third of an epoch here).
        errors = {name: (1.0 - evaluate(network, images, labels)[1]
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
    return {"spec": dataclasses.asdict(spec), "run_id": spec.run_id, "diverged": diverged,
            "steps_per_epoch": steps, "rows": rows, "trajectory": trajectory}


def _json_bytes(value):
    # NaN is not JSON; store it as null.
    def clean(item):
        if isinstance(item, float) and not math.isfinite(item):
            return None
        if isinstance(item, dict):
            return {key: clean(entry) for key, entry in item.items()}
        if isinstance(item, (list, tuple)):
            return [clean(entry) for entry in item]
        return item
    return json.dumps(clean(value), indent=1).encode()


def run_path(output_dir, spec):
    return Path(output_dir) / "runs" / f"{spec.run_id}.json"


def load_runs(output_dir):
    """Every finished run record in the output folder."""
    records = []
    for path in sorted((Path(output_dir) / "runs").glob("*.json")):
        records.append(json.loads(path.read_text()))
    return records


class Runner:
    """Runs specs that have no run file yet; keeps an estimate of the time left."""

    def __init__(self, output_dir, datasets, log=print):
        self.output_dir = Path(output_dir)
        self.datasets = datasets
        self.log = log
        self.started = time.perf_counter()
        self.executed = 0

    def pending(self, specs):
        unique = list(dict.fromkeys(specs))
        return [spec for spec in unique if not run_path(self.output_dir, spec).exists()]

    def run(self, specs, title):
        todo = self.pending(specs)
        self.log(f"[{title}] {len(set(specs))} runs, {len(todo)} to do")
        for index, spec in enumerate(todo, 1):
            started = time.perf_counter()
            record = execute_run(spec, self.datasets, self.log)
            path = run_path(self.output_dir, spec)
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(path, lambda handle: handle.write(_json_bytes(record)))
            self.executed += 1
            last = record["rows"][-1]
            self.log(f"  [{title} {index}/{len(todo)}] {spec.run_id}: test error {last['test_error']:.4f} "
                     f"({time.perf_counter() - started:.1f} s; {(time.perf_counter() - self.started) / 60:.1f} min "
                     f"so far)")


# -- choosing alphas ----------------------------------------------------------------------

def final_rows(records, experiment_filter):
    """(spec, last row) of every run record matching ``experiment_filter(spec)``."""
    return [(record["spec"], record["rows"][-1]) for record in records if experiment_filter(record["spec"])]


def best_alphas(records, settings, dataset=None, model="lenet", batch_size=None, regularizers=REGULARIZERS):
    """Regularizer → alpha with the lowest mean final validation error (ties: the smaller alpha)."""
    dataset = dataset or settings.main_dataset
    batch_size = batch_size or settings.batch_size
    epochs = settings.epochs if model == "lenet" else settings.allconv_epochs
    by_alpha = {}
    for spec, row in final_rows(records, lambda spec: spec["dataset"] == dataset and spec["model"] == model
                                and spec["batch_size"] == batch_size and spec["initializer"] == "he"
                                and spec["epochs"] == epochs):
        by_alpha.setdefault(spec["regularizer"], {}).setdefault(spec["alpha"], []).append(row["validation_error"])
    chosen = {}
    for name in regularizers:
        if name not in by_alpha:
            continue
        means = {alpha: statistics.fmean(values) for alpha, values in by_alpha[name].items()}
        chosen[name] = min(means, key=lambda alpha: (means[alpha], alpha))
    return chosen


# -- timing (claim 4) ---------------------------------------------------------------------

class FixedBatch:
    """A data layer that returns the same batch every time (timing without data loading noise)."""

    def __init__(self, images, one_hot_labels):
        self.images = images
        self.labels = one_hot_labels

    def next(self):
        return self.images, self.labels


def measure_timing(settings, datasets, log=print):
    """Median seconds per training step per regularizer, measured in this process.

    One LeNet per regularizer (same initial weights), trained on the same fixed batch;
    the regularizers take turns in rounds of ``timing_steps`` steps (the order rotates
    every round), so background load hits all of them alike. Also times the
    regularizer's own work per step: ``calculate_gradient`` and ``norm`` of every kernel.
    """
    from framework.models import make_regularizer
    from framework.training import build_model, regularizable_kernels

    dataset = datasets(settings.main_dataset)
    images = dataset.train_images[:settings.batch_size]
    labels = np.eye(10, dtype=np.float32)[dataset.train_labels[:settings.batch_size]]
    networks = {}
    for name in REGULARIZERS:
        alpha = 0.0 if name == "none" else settings.timing_alpha
        spec = RunSpec("timing", settings.main_dataset, "lenet", name, alpha, settings.batch_size, 0, "he", 1, 0)
        network = build_model(train_config(spec))
        network.data_layer = FixedBatch(images, labels)
        network.train(3)  # warm up buffers and caches
        networks[name] = network
    step_seconds = {name: [] for name in REGULARIZERS}
    for round_index in range(settings.timing_rounds):
        order = REGULARIZERS[round_index % 4:] + REGULARIZERS[:round_index % 4]
        for name in order:
            started = time.perf_counter()
            networks[name].train(settings.timing_steps)
            step_seconds[name].append((time.perf_counter() - started) / settings.timing_steps)
    kernels = regularizable_kernels(networks["none"])
    regularizer_seconds = {"none": 0.0}
    for name in REGULARIZERS[1:]:
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
    base = statistics.median(step_seconds["none"])
    rows = []
    for name in REGULARIZERS:
        median = statistics.median(step_seconds[name])
        rows.append({"regularizer": name, "alpha": 0.0 if name == "none" else settings.timing_alpha,
                     "batch_size": settings.batch_size, "rounds": settings.timing_rounds,
                     "steps_per_round": settings.timing_steps, "median_seconds_per_step": median,
                     "min_seconds_per_step": min(step_seconds[name]),
                     "max_seconds_per_step": max(step_seconds[name]),
                     "ratio_to_none": median / base,
                     "regularizer_seconds_per_step": regularizer_seconds[name],
                     "regularizer_share_of_step": regularizer_seconds[name] / median})
        log(f"  {name:9s} {1000 * median:7.2f} ms/step  ×{median / base:.3f}  "
            f"(regularizer's own work {1e6 * regularizer_seconds[name]:.0f} µs/step)")
    return rows


# -- the whole command --------------------------------------------------------------------

def estimate_seconds(specs, throughput):
    """Rough seconds for ``specs`` from measured images/second (training, evaluation) per model."""
    total = 0.0
    for spec in specs:
        train_rate, eval_rate = throughput[spec.model]
        test_images = min(spec.eval_size or 10000, 10000)
        validation_images = min(spec.eval_size or VALIDATION_SIZE, VALIDATION_SIZE)
        total += (spec.epochs * (spec.train_size / train_rate + test_images / eval_rate)
                  + validation_images / eval_rate)
    return total


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
        network.test(evaluation_images)
        eval_rate = 1000 / (time.perf_counter() - started)
        result[model] = (train_rate, eval_rate)
        log(f"  {model}: {train_rate:.0f} training images/s, {eval_rate:.0f} evaluation images/s")
    return result


def selected_experiments(only):
    if only is None:
        return list(EXPERIMENTS)
    needed = set(PREREQUISITES.get(only, ())) | {only}
    return [name for name in EXPERIMENTS if name in needed]


def run_compare(output_dir, quick=False, data_dir=None, only=None, progress=True, log=print):
    """Run (or continue) the grid into ``output_dir`` and rebuild results.csv, figures and summary.md."""
    from framework import compare_report

    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    settings = Settings.quick() if quick else Settings()
    experiments = selected_experiments(only)
    datasets = DatasetCache(data_dir)
    runner = Runner(output_dir, datasets, log if progress else (lambda *args, **kwargs: None))
    started = time.perf_counter()

    # The plan: runs whose spec is known now (batch and mnist depend on the chosen alphas;
    # they are counted with a placeholder alpha, which changes nothing in the estimate).
    placeholder = {name: 1e-3 for name in REGULARIZERS}
    planned = {"main": main_specs(settings), "batch": batch_specs(settings, placeholder),
               "mnist": mnist_specs(settings, placeholder), "allconv": allconv_specs(settings),
               "norms": norms_specs(settings)}
    existing = {path.stem for path in (output_dir / "runs").glob("*.json")}
    todo = list(dict.fromkeys(spec for name in experiments if name in planned for spec in planned[name]
                              if spec.run_id not in existing))
    log(f"normnet compare: {'quick' if quick else 'full'} grid into {output_dir}; "
        f"experiments: {', '.join(experiments)}")
    if todo:
        log("measuring speed for the plan:")
        throughput = measure_throughput(sorted({spec.model for spec in todo}), settings.batch_size, log)
        for name in experiments:
            if name in planned:
                specs = [spec for spec in dict.fromkeys(planned[name]) if spec.run_id not in existing]
                log(f"  {name:8s} {len(set(planned[name])):3d} runs, about {len(specs):3d} to do, "
                    f"~{estimate_seconds(specs, throughput) / 60:.1f} min")
        log(f"  total: {len(todo)} runs to do, ~{estimate_seconds(todo, throughput) / 60:.1f} min "
            f"(plus timing and figures; runs shared by experiments are counted once)")

    if "main" in experiments:
        runner.run(main_specs(settings), "main")
    records = load_runs(output_dir)
    chosen = best_alphas(records, settings)
    if chosen:
        log("best alpha by validation error: " + ", ".join(f"{name} {alpha:g}" for name, alpha in chosen.items()))
    # Cheapest and most important first; the slow all-conv setting last.
    timing_path = output_dir / "timing.json"
    if "timing" in experiments and not timing_path.exists():
        log("[timing] seconds per step, regularizers alternating in one process:")
        rows = measure_timing(settings, datasets, log)
        atomic_write(timing_path, lambda handle: handle.write(_json_bytes(rows)))
    if "norms" in experiments:
        runner.run(norms_specs(settings), "norms")
    if "batch" in experiments:
        runner.run(batch_specs(settings, chosen), "batch")
    if "mnist" in experiments:
        runner.run(mnist_specs(settings, chosen), "mnist")
    if "allconv" in experiments:
        runner.run(allconv_specs(settings), "allconv")
    compare_report.write_reports(output_dir, settings, log=log)
    log(f"done: {runner.executed} runs executed in this call; {(time.perf_counter() - started) / 60:.1f} min; "
        f"results in {output_dir}")
    return runner.executed


def add_parser(subparsers):
    """Register ``normnet compare`` (called by framework.cli.build_parser)."""
    parser = subparsers.add_parser(
        "compare", help="Norm Loss against none/L1/L2: a grid of runs, results.csv, figures, summary.md",
        description="Test the Norm Loss paper's claims: train a grid of LeNet (and all-conv) runs on "
                    "Fashion-MNIST and MNIST with no regularizer, L1, L2 and Norm Loss; write results.csv, "
                    "timing.csv, PNG figures and summary.md into --output-dir. Finished runs are kept in "
                    "<output-dir>/runs/ and never run again: rerun the same command to continue.")
    parser.add_argument("--output-dir", type=Path, default=Path("runs/compare"))
    parser.add_argument("--quick", action="store_true", help="a tiny grid exercising every step (< 2 minutes)")
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="folder with the IDX files (default: $NORMNET_DATA, the cache, or a download)")
    parser.add_argument("--only", choices=EXPERIMENTS, default=None,
                        help="run only this experiment (and the 'main' runs it depends on)")
    parser.add_argument("--no-progress", action="store_true", help="print only the plan and the summary")
    parser.set_defaults(handler=_compare)


def _compare(arguments):
    try:
        run_compare(arguments.output_dir, quick=arguments.quick, data_dir=arguments.data_dir, only=arguments.only,
                    progress=not arguments.no_progress, log=lambda *args: print(*args, flush=True))
    except KeyboardInterrupt:
        print(f"\ninterrupted: finished runs are kept in {arguments.output_dir}/runs; "
              f"run the same command again to continue", file=sys.stderr)
        return 130
    return 0
