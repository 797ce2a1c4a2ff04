"""The grid of the Norm Loss study: what one run is (:class:`RunSpec`), how big the grid is
(:class:`Settings`), and which runs each experiment asks for.

The design is *a positive control, then selection, then confirmation*:

    control       Fashion-MNIST, LeNet: no regularizer against coupled L2 at a strong alpha on
                  training subsets trained for many epochs (train size × epochs pairs), the
                  control seeds; does weight decay act at all in this setting? (none in the
                  first study's grid)
    selection     Fashion-MNIST, LeNet: every arm over half-decade alphas from 1e-5 to 1, on the
                  selection seeds; each arm's alpha is chosen on *validation* error
    confirmation  Fashion-MNIST, LeNet: every arm (none included) at its chosen alpha, on fresh
                  seeds, paired across arms (same initial weights and batch order per seed)
    mnist         MNIST, LeNet: every arm at the alpha chosen on Fashion-MNIST, the same seeds
    batch         L2 and Norm Loss at their chosen alphas at other batch sizes, the learning rate
                  scaled linearly with the batch size, alpha kept per step
    allconv       Fashion-MNIST, the all-convolutional network with batch norm: none, L2 and
                  Norm Loss at the alphas chosen on LeNet, or (the second study) at the alphas of its
                  own selection over ``allconv_alphas`` on ``allconv_selection_seeds``
    timing        seconds per training step with each regularizer, in one process, after the grid

An *arm* is a regularizer and the form it is applied in: decoupled shrinkage of the current
weights (the exercise slides 'Regularization'; normnet's default), or coupled, its gradient
added to the loss gradient and so passed through momentum (Georgiou et al., ICPR 2020, eq. 4).

Training everywhere: SGD with momentum 0.9 (the paper's optimizer), a cosine learning-rate
schedule per step from the peak to near zero, mean cross-entropy, float32, He initialization.
The last 5000 training images are the validation set; a run trains on the first
``train_size`` of the rest. The test set is evaluated every epoch and chooses nothing.
"""
import dataclasses
import hashlib
import json

# Arm → (regularizer, coupled).
ARMS = {"none": ("none", False), "l1": ("l1", False), "l2": ("l2", False), "normloss": ("normloss", False),
        "normloss_coupled": ("normloss", True), "l2_coupled": ("l2", True)}
EXPERIMENTS = ("control", "selection", "confirmation", "mnist", "batch", "allconv", "timing")
# Experiments whose runs (but those of "none") use the alphas chosen from the selection runs.
DEPENDENT_EXPERIMENTS = ("confirmation", "mnist", "batch", "allconv")
VALIDATION_SIZE = 5000
LEARNING_RATE = 0.05
MOMENTUM = 0.9
# Half decades from 1e-5 to 1.
HALF_DECADES = tuple(10 ** (exponent / 2) for exponent in range(-10, 1))
STUDIES = ("first", "regimes")
# The second study: half decades from 1e-5 to 1, the same for every arm.
REGIMES_ALPHAS = HALF_DECADES
# The (train size, epochs) setting its selection, confirmation, batch and all-conv runs train at: the
# one the positive control's pre-registered rule picks (docs/norm_loss_preregistration.md, "S0"):
# both settings pass the gate, and the best passing alpha of 5000 x 80 has the more negative mean
# difference (coupled L2 at 1e-2: -1.52 points against -1.50 at 10^-2.5 on 10000 x 40). Its paired
# differences' spread (0.39 points) asks for 10 confirmation seeds to resolve 0.4 points.
REGIMES_SETTING = (5000, 80)


def arm_name(regularizer, coupled):
    """The arm of a regularizer applied decoupled or coupled ("none" has one form)."""
    if regularizer == "none":
        return "none"
    return f"{regularizer}_coupled" if coupled else regularizer


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
    learning_rate: float = LEARNING_RATE   # the peak of the cosine schedule
    coupled: bool = False                  # the regularizer's gradient through momentum (the paper's form)
    schedule: str = "cosine"               # "cosine" (per step, to near zero) or "constant"
    eval_size: int | None = None  # evaluate on the first eval_size validation/test images (None: all)
    trajectory_every: int = 25    # record per-layer unit norms every this many steps

    @property
    def arm(self):
        return arm_name(self.regularizer, self.coupled)

    @property
    def run_id(self):
        """A readable name plus a short hash of every field (so no two specs share a file)."""
        fields = dataclasses.asdict(self)
        fields.pop("experiment")  # the same run serves every experiment that asks for it
        digest = hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:8]
        return (f"{self.dataset}_{self.model}_{self.arm}_a{self.alpha:g}_b{self.batch_size}"
                f"_{self.initializer}_s{self.seed}_{digest}")


@dataclasses.dataclass
class Settings:
    """The size of the grid: the full one, or the ``--quick`` smoke test."""

    main_dataset: str = "fashion-mnist"
    second_dataset: str = "mnist"
    selection_seeds: tuple = (100, 101)
    confirmation_seeds: tuple = tuple(range(10))
    epochs: int = 3
    train_size: int = 55000
    batch_size: int = 64
    learning_rate: float = LEARNING_RATE
    arms: tuple = ("none", "l1", "l2", "normloss", "normloss_coupled", "l2_coupled")
    alphas: tuple = HALF_DECADES
    # Norm Loss pulls units towards norm 1, not 0, so it can stay flat where the others collapse:
    # its arms go on past 1, to where it stops being flat (or to 100).
    norm_loss_further: tuple = (10 ** 0.5, 10.0, 10 ** 1.5, 100.0)
    mnist_seeds: tuple = tuple(range(10))
    batch_sizes: tuple = (32, 128, 256)
    batch_arms: tuple = ("l2", "normloss")
    batch_seeds: tuple = (0, 1, 2, 3, 4)
    allconv_arms: tuple = ("none", "l2", "normloss")
    allconv_seeds: tuple = tuple(range(10))
    allconv_epochs: int = 3
    allconv_train_size: int = 55000
    allconv_batch_size: int = 64
    eval_size: int | None = None
    allconv_eval_size: int | None = None
    # The all-conv network's own selection (the second study's S4): its alphas and seeds; none: it
    # trains at the alphas chosen on LeNet.
    allconv_alphas: tuple = ()
    allconv_selection_seeds: tuple = ()
    timing_models: tuple = ("lenet", "allconv")
    timing_rounds: int = 15
    timing_steps: int = 30
    timing_alpha: float = 1e-3
    trajectory_every: int = 25
    # "linear": another batch size scales the peak learning rate with it; "fixed": keeps it.
    batch_learning_rate: str = "linear"
    # The positive control: (train_size, epochs) settings, its arms, alphas (strong ones) and seeds.
    control_settings: tuple = ()
    control_arms: tuple = ("none", "l2_coupled")
    control_alphas: tuple = (10 ** -2.5, 1e-2)
    control_seeds: tuple = ()
    # The second study: summary.md reports its pre-registered analyses instead of the first study's tables.
    preregistered: bool = False

    @classmethod
    def quick(cls):
        return cls(selection_seeds=(100,), confirmation_seeds=(0, 1), epochs=2, train_size=640,
                   alphas=(1e-4, 1e-2), norm_loss_further=(), mnist_seeds=(0, 1), batch_sizes=(128,), batch_seeds=(0,),
                   allconv_seeds=(0,), allconv_epochs=1, allconv_train_size=128, eval_size=300,
                   allconv_eval_size=300, timing_rounds=3, timing_steps=5, trajectory_every=5,
                   control_settings=((320, 3),), control_alphas=(1e-2,), control_seeds=(300,))

    @classmethod
    def regimes(cls):
        """The second study (docs/norm_loss_preregistration.md): the paper's coupled forms where weight
        decay acts, on training subsets trained for many epochs. Its seeds are disjoint from the
        first study's (0-9, 100-101). The selection and later stages train at the setting the
        control chose (REGIMES_SETTING), which its pre-registration fixes from the control's result."""
        control = cls(arms=("none", "l2_coupled", "normloss_coupled"), alphas=REGIMES_ALPHAS, norm_loss_further=(),
                      selection_seeds=(), confirmation_seeds=(), mnist_seeds=(), batch_sizes=(32, 256),
                      batch_arms=("l2_coupled", "normloss_coupled"), batch_seeds=(), batch_learning_rate="fixed",
                      allconv_arms=(), allconv_seeds=(), control_settings=((10000, 40), (5000, 80)),
                      control_seeds=(1000, 1001, 1002), trajectory_every=100, preregistered=True)
        if REGIMES_SETTING is None:
            return control
        train_size, epochs = REGIMES_SETTING
        return dataclasses.replace(control, train_size=train_size, epochs=epochs, selection_seeds=(1100, 1101, 1102),
                                   confirmation_seeds=tuple(range(1200, 1210)), batch_seeds=tuple(range(1200, 1210)),
                                   allconv_arms=("none", "l2_coupled", "normloss_coupled"),
                                   allconv_alphas=tuple(10 ** (exponent / 2) for exponent in range(-8, -1)),
                                   allconv_selection_seeds=(1300, 1301, 1302), allconv_seeds=tuple(range(1400, 1410)),
                                   allconv_train_size=train_size, allconv_epochs=epochs)

    @classmethod
    def regimes_quick(cls):
        """The second study's design at the size of ``quick`` (every stage, tiny)."""
        return dataclasses.replace(cls.quick(), arms=("none", "l2_coupled", "normloss_coupled"), mnist_seeds=(),
                                   batch_arms=("l2_coupled", "normloss_coupled"), batch_learning_rate="fixed",
                                   allconv_arms=("none", "l2_coupled", "normloss_coupled"), allconv_alphas=(1e-3,),
                                   allconv_selection_seeds=(301,), allconv_seeds=(0,), timing_models=("lenet",),
                                   preregistered=True)

    @classmethod
    def of_study(cls, study, quick=False):
        """The Settings of ``study`` (one of STUDIES), full or quick."""
        if study not in STUDIES:
            raise ValueError(f"normnet compare: expected a study in {', '.join(STUDIES)}, got {study!r}")
        if study == "first":
            return cls.quick() if quick else cls()
        return cls.regimes_quick() if quick else cls.regimes()

    @property
    def regularized_arms(self):
        return tuple(arm for arm in self.arms if arm != "none")

    def arm_alphas(self, arm):
        """The selection grid of ``arm``: the half decades, and for Norm Loss further on."""
        return self.alphas + (self.norm_loss_further if arm.startswith("normloss") else ())


def _spec(experiment, settings, dataset, model, arm, alpha, batch_size, seed, epochs, train_size,
          learning_rate, eval_size):
    regularizer, coupled = ARMS[arm]
    return RunSpec(experiment, dataset, model, regularizer, 0.0 if arm == "none" else alpha, batch_size, seed,
                   "he", epochs, train_size, learning_rate=learning_rate, coupled=coupled, eval_size=eval_size,
                   trajectory_every=settings.trajectory_every)


def lenet_spec(experiment, settings, dataset, arm, alpha, seed, batch_size=None, train_size=None, epochs=None):
    """A LeNet run; another batch size scales the peak learning rate linearly (or keeps it, with
    ``batch_learning_rate`` "fixed") and keeps alpha."""
    batch_size = batch_size or settings.batch_size
    learning_rate = settings.learning_rate
    if settings.batch_learning_rate == "linear":
        learning_rate = settings.learning_rate * batch_size / settings.batch_size
    return _spec(experiment, settings, dataset, "lenet", arm, alpha, batch_size, seed, epochs or settings.epochs,
                 train_size or settings.train_size, learning_rate, settings.eval_size)


def control_specs(settings):
    """Experiment "control": each control arm at each control alpha ("none" once) in every (train
    size, epochs) setting, on the control seeds; the first alpha in every setting first. The alphas
    are fixed in advance: nothing is chosen here."""
    grid = [(alpha, arm) for alpha in settings.control_alphas for arm in settings.control_arms]
    return unique([lenet_spec("control", settings, settings.main_dataset, arm, alpha, seed, train_size=train_size,
                              epochs=epochs)
                   for alpha, arm in grid for train_size, epochs in settings.control_settings
                   for seed in settings.control_seeds])


def selection_specs(settings):
    """Experiment "selection": every regularized arm at every alpha, "none" once, selection seeds; seed by
    seed, so that a grid stopped at a deadline has whole curves of error against alpha."""
    grid = [("none", 0.0)] + [(arm, alpha) for arm in settings.regularized_arms for alpha in settings.arm_alphas(arm)]
    return [lenet_spec("selection", settings, settings.main_dataset, arm, alpha, seed)
            for seed in settings.selection_seeds for arm, alpha in grid]


def confirmation_specs(settings, chosen):
    """Experiment "confirmation": every arm with a chosen alpha ("none" always), fresh seeds."""
    return [lenet_spec("confirmation", settings, settings.main_dataset, arm, chosen.get(arm, 0.0), seed)
            for arm in settings.arms if arm == "none" or arm in chosen for seed in settings.confirmation_seeds]


def mnist_specs(settings, chosen):
    """Experiment "mnist": every arm at its alpha chosen on the main dataset."""
    return [lenet_spec("mnist", settings, settings.second_dataset, arm, chosen.get(arm, 0.0), seed)
            for arm in settings.arms if arm == "none" or arm in chosen for seed in settings.mnist_seeds]


def batch_specs(settings, chosen):
    """Experiment "batch": L2 and Norm Loss at their chosen alphas at every other batch size
    (the main batch size's runs are confirmation runs)."""
    return [lenet_spec("batch", settings, settings.main_dataset, arm, chosen[arm], seed, batch_size)
            for arm in settings.batch_arms if arm in chosen
            for batch_size in (settings.batch_size,) + tuple(settings.batch_sizes) for seed in settings.batch_seeds]


def allconv_key(arm):
    """The key of the all-conv network's own chosen alpha of ``arm`` among the chosen alphas."""
    return f"allconv:{arm}"


def _allconv_spec(settings, arm, alpha, seed):
    return _spec("allconv", settings, settings.main_dataset, "allconv", arm, alpha, settings.allconv_batch_size, seed,
                 settings.allconv_epochs, settings.allconv_train_size, settings.learning_rate,
                 settings.allconv_eval_size)


def allconv_selection_specs(settings):
    """The all-conv network's own selection: every regularized all-conv arm at ``allconv_alphas``,
    "none" once, on ``allconv_selection_seeds`` (none: no selection of its own)."""
    grid = [(arm, alpha) for arm in settings.allconv_arms if arm != "none" for alpha in settings.allconv_alphas]
    return [_allconv_spec(settings, arm, alpha, seed) for seed in settings.allconv_selection_seeds
            for arm, alpha in [("none", 0.0)] + grid]


def allconv_specs(settings, chosen):
    """Experiment "allconv": the all-convolutional network with batch norm at its own chosen alphas
    (``allconv_key(arm)`` in ``chosen``) when it has a selection, else at the LeNet alphas."""
    key = allconv_key if settings.allconv_selection_seeds else (lambda arm: arm)
    return [_allconv_spec(settings, arm, chosen.get(key(arm), 0.0), seed)
            for arm in settings.allconv_arms if arm == "none" or key(arm) in chosen for seed in settings.allconv_seeds]


DEPENDENT_MAKERS = {"confirmation": confirmation_specs, "mnist": mnist_specs, "batch": batch_specs,
                    "allconv": allconv_specs}


def independent_specs(settings, experiments):
    """The runs of ``experiments`` that need no chosen alpha, control and selection first, each run once."""
    specs = control_specs(settings) if "control" in experiments else []
    specs += selection_specs(settings) if "selection" in experiments else []
    specs += allconv_selection_specs(settings) if "allconv" in experiments else []
    specs += [spec for name in DEPENDENT_EXPERIMENTS if name in experiments
              for spec in DEPENDENT_MAKERS[name](settings, {}) if spec.regularizer == "none"]
    return unique(specs)


def dependent_specs(settings, experiments, chosen):
    """The runs of ``experiments`` at the alphas ``chosen`` (arm → alpha), each run once."""
    return unique([spec for name in DEPENDENT_EXPERIMENTS if name in experiments
                   for spec in DEPENDENT_MAKERS[name](settings, chosen)])


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
    needed = {only} | ({"selection"} if only in DEPENDENT_EXPERIMENTS else set())
    return [name for name in EXPERIMENTS if name in needed]
