"""The grid of the Norm Loss study: what one run is (:class:`RunSpec`), how big the grid is
(:class:`Settings`), and which runs each experiment asks for.

Experiments (names for ``--only``):

    main      Fashion-MNIST, LeNet, batch 64: none, and L1 / L2 / NormLoss over a grid of alphas
    batch     L2 and NormLoss at their best alpha (chosen by validation error) at other batch sizes
    mnist     MNIST, LeNet: each regularizer at the alpha chosen on Fashion-MNIST
    allconv   Fashion-MNIST, the all-convolutional network with batch norm: none, L2, NormLoss
    norms     LeNet from the "small" initializer (the He runs come from ``main``): weight-norm trajectories
    timing    seconds per training step with each regularizer, in one process, after the grid

Training everywhere: SGD with momentum 0.9 (the paper's optimizer; the regularizer acts as
decoupled shrinkage, see ``optimizers/optimizer.py``), mean cross-entropy, float32, He
initialization unless a run says "small". The last 5000 training images are the
validation set; a run trains on the first ``train_size`` of the rest.
"""
import dataclasses
import hashlib
import json

REGULARIZERS = ("none", "l1", "l2", "normloss")
EXPERIMENTS = ("main", "timing", "norms", "batch", "mnist", "allconv")
# Experiments whose runs depend on the alphas chosen from the "main" runs.
DEPENDENT_EXPERIMENTS = ("batch", "mnist")
# Experiments whose runs are fixed by the settings alone.
INDEPENDENT_EXPERIMENTS = ("main", "norms", "allconv")
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
            for name in ("l2", "normloss") if name in best_alphas
            for batch_size in settings.batch_sizes for seed in settings.seeds]


def mnist_specs(settings, best_alphas):
    """Experiment "mnist": each regularizer at its alpha chosen on the main dataset."""
    return [RunSpec("mnist", settings.second_dataset, "lenet", name, best_alphas[name], settings.batch_size, seed,
                    "he", settings.epochs, settings.train_size, eval_size=settings.eval_size)
            for name in REGULARIZERS if name in best_alphas for seed in settings.seeds]


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


def independent_specs(settings, experiments):
    """The runs of ``experiments`` that the settings fix alone, "main" first, each run once."""
    makers = {"main": main_specs, "norms": norms_specs, "allconv": allconv_specs}
    return unique([spec for name in INDEPENDENT_EXPERIMENTS if name in experiments
                   for spec in makers[name](settings)])


def dependent_specs(settings, experiments, best_alphas):
    """The runs of ``experiments`` that use the alphas chosen from the "main" runs, each run once."""
    makers = {"batch": batch_specs, "mnist": mnist_specs}
    return unique([spec for name in DEPENDENT_EXPERIMENTS if name in experiments
                   for spec in makers[name](settings, best_alphas)])


def unique(specs):
    """``specs`` in order, each run once (two experiments may ask for the same run)."""
    first = {}
    for spec in specs:
        first.setdefault(spec.run_id, spec)
    return list(first.values())


def selected_experiments(only):
    """The experiments to run for ``--only`` (None: all); an experiment brings what it depends on."""
    if only is None:
        return list(EXPERIMENTS)
    if only not in EXPERIMENTS:
        raise ValueError(f"normnet compare: expected an experiment in {', '.join(EXPERIMENTS)}, got {only!r}")
    needed = {only} | ({"main"} if only in DEPENDENT_EXPERIMENTS else set())
    return [name for name in EXPERIMENTS if name in needed]
