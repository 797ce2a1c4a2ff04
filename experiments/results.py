"""The study's results as a table, and the one rule that chooses an arm's alpha.

A *result row* is one epoch of one run: the run's spec fields (``dataset``, ``model``,
``arm``, ``regularizer``, ``coupled``, ``alpha``, ``batch_size``, ``seed``, ...) beside that
epoch's numbers (``epoch``, ``data_loss``, ``penalty``, ``validation_error``,
``test_error``, the per-layer mean unit norms ``unit_norm_layer1`` …), as in
``results.csv``. Missing numbers are NaN.

The chosen alpha of an arm (:func:`best_alpha`) is the one with the lowest mean
*validation* error after the last epoch over the selection seeds; ties go to the smaller
alpha. The test set never enters the choice: it is reported, on fresh seeds, at that alpha.
"""
import dataclasses
import math
import statistics

from experiments.grid import ARMS, allconv_key, arm_name

LAYER_COLUMNS = tuple(f"unit_norm_layer{index}" for index in range(1, 6))
RESULT_COLUMNS = ("dataset", "model", "arm", "regularizer", "coupled", "alpha", "batch_size", "learning_rate",
                  "schedule", "seed", "initializer", "epochs", "train_size", "epoch", "data_loss", "penalty",
                  "validation_error", "test_error", "last_step_learning_rate", "weight_norm_mean",
                  "weight_norm_std") + LAYER_COLUMNS + ("shrinkage_per_step", "seconds_per_step", "diverged",
                                                         "run_id")


def result_rows(records):
    """The result rows of run records (a failed run has none); JSON nulls become NaN.

    ``layer_norm_means`` (one per kernel, input to output) become ``unit_norm_layer1`` …;
    ``shrinkage_per_step`` (of the final weights) is repeated on every row of its run.
    """
    rows = []
    for record in records:
        spec = record["spec"]
        for row in record["rows"]:
            layers = row.get("layer_norm_means") or []
            flat = {**{key: spec[key] for key in RESULT_COLUMNS if key in spec},
                    "arm": arm_name(spec["regularizer"], spec.get("coupled", False)),
                    "coupled": int(bool(spec.get("coupled", False))),
                    **{key: value for key, value in row.items() if key != "layer_norm_means"},
                    **{column: (layers[index] if index < len(layers) else math.nan)
                       for index, column in enumerate(LAYER_COLUMNS)},
                    "shrinkage_per_step": record.get("shrinkage_per_step", math.nan),
                    "diverged": int(record["diverged"]), "run_id": record["run_id"]}
            rows.append({key: math.nan if value is None else value for key, value in flat.items()})
    return rows


def select(rows, seeds=None, **conditions):
    """The rows whose fields equal every value in ``conditions`` (and whose seed is in ``seeds``)."""
    return [row for row in rows if all(row[key] == value for key, value in conditions.items())
            and (seeds is None or row["seed"] in seeds)]


def mean_std(values):
    """(mean, sample standard deviation, count) of the finite values; NaN, NaN, 0 when there are none."""
    values = [value for value in values if value is not None and not math.isnan(value)]
    if not values:
        return math.nan, math.nan, 0
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0), len(values)


def best_alpha(validation_errors_by_alpha):
    """The alpha whose final validation errors (one per seed) have the lowest mean.

    Ties go to the smaller alpha; an alpha with no finite error is no candidate; None
    when there is no candidate at all.
    """
    means = {alpha: mean_std(errors)[0] for alpha, errors in validation_errors_by_alpha.items()}
    candidates = {alpha: mean for alpha, mean in means.items() if not math.isnan(mean)}
    if not candidates:
        return None
    return min(candidates, key=lambda alpha: (candidates[alpha], alpha))


def epochs_to(curve, threshold):
    """The first epoch of ``curve`` ((epoch, error) pairs) whose error is at or below ``threshold``."""
    for epoch, error in curve:
        if error <= threshold:
            return epoch
    return None


class Results:
    """Result rows, grouped the ways the runner, the tables and the figures need."""

    def __init__(self, rows, settings):
        self.rows = rows
        self.settings = settings

    def final(self, seeds=None, **conditions):
        """Last-epoch rows of the runs matching ``conditions`` (and ``seeds``)."""
        return [row for row in select(self.rows, seeds, **conditions) if row["epoch"] == row["epochs"]]

    def lenet(self, dataset=None, batch_size=None):
        """The conditions of the LeNet runs at the main batch size (or ``batch_size``)."""
        settings = self.settings
        batch_size = batch_size or settings.batch_size
        return dict(dataset=dataset or settings.main_dataset, model="lenet", initializer="he",
                    epochs=settings.epochs, batch_size=batch_size, train_size=settings.train_size)

    def allconv(self):
        settings = self.settings
        return dict(dataset=settings.main_dataset, model="allconv", initializer="he",
                    epochs=settings.allconv_epochs, batch_size=settings.allconv_batch_size,
                    train_size=settings.allconv_train_size)

    def selection_of(self, model="lenet"):
        """(conditions, seeds) of the selection runs of ``model`` (the all-conv network's own, if any)."""
        if model == "allconv":
            return self.allconv(), self.settings.allconv_selection_seeds
        return self.lenet(), self.settings.selection_seeds

    def confirmation_of(self, model="lenet"):
        """(conditions, seeds) of the confirmation runs of ``model`` at the main batch size."""
        if model == "allconv":
            return self.allconv(), self.settings.allconv_seeds
        return self.lenet(), self.settings.confirmation_seeds

    def selection_alphas(self, arm, model="lenet"):
        """The alphas of ``arm`` with a finished selection run of ``model``, ascending."""
        conditions, seeds = self.selection_of(model)
        return sorted({row["alpha"] for row in self.final(seeds, arm=arm, **conditions)})

    def chosen_alphas(self, model="lenet"):
        """Arm → its alpha chosen on validation error over the selection seeds of ``model`` ("none": 0).

        Only the validation error of the selection runs enters; an arm without a finished
        selection run has no entry.
        """
        conditions, seeds = self.selection_of(model)
        chosen = {}
        for arm in ARMS:
            if arm == "none":
                if self.final(seeds, arm=arm, **conditions):
                    chosen[arm] = 0.0
                continue
            alpha = best_alpha({alpha: [row["validation_error"] for row in
                                        self.final(seeds, arm=arm, alpha=alpha, **conditions)]
                                for alpha in self.selection_alphas(arm, model)})
            if alpha is not None:
                chosen[arm] = alpha
        return chosen

    def every_chosen_alpha(self):
        """The LeNet selection's chosen alphas, and the all-conv network's own under ``allconv_key(arm)``."""
        chosen = self.chosen_alphas()
        if self.settings.allconv_selection_seeds:
            chosen.update({allconv_key(arm): alpha for arm, alpha in self.chosen_alphas("allconv").items()})
        return chosen

    def by_seed(self, column, seeds, epoch=None, **conditions):
        """Seed → ``column`` of the run matching ``conditions`` (its last epoch, or ``epoch``)."""
        rows = select(self.rows, seeds, **conditions)
        return {row["seed"]: row[column] for row in rows
                if row["epoch"] == (row["epochs"] if epoch is None else epoch)}


# The α-extension rule of the second study (docs/norm_loss_preregistration.md, S1): half decades
# 10^(e/2), at most from 1e-7 to 100, two at a time; an end whose error is this high trained no
# better than chance (the same threshold as experiments.inference.NEVER_TRAINED).
EXTENSION_EXPONENTS = (-14, 4)
EXTENSION_STEP = 2
CHANCE_LEVEL = 0.85


def half_decade(exponent):
    """10^(exponent/2), computed as the grid computes its alphas (so the run ids agree)."""
    return 10 ** (exponent / 2)


def alpha_extension(rows, settings, model="lenet"):
    """The pre-registered α-extension rule applied to the finished selection runs in ``rows``:
    (the selection alphas of ``model`` the rule has reached, the alphas it asks to run next).

    While an arm's chosen α (:func:`best_alpha` over the grid so far) is an end of the grid,
    every arm gets the next two half decades beyond that end, until the chosen α is interior,
    the arm at that end trains no better than chance (mean final validation error ≥ 85 %; a
    diverged run's record holds 90 %) or the grid reaches 1e-7 or 100. The errors are those
    ``Results.chosen_alphas`` chooses by, so the rule and the choice agree. A step is decided
    only once every run of the grid so far has a result. ``settings`` holds the pre-registered
    grid (the rule always starts from it, so that runs asked for on numbers that later change
    are not kept); one that is not pre-registered, not of contiguous half decades or without an
    interior α (fewer than three) keeps its grid.
    """
    base = settings.alphas if model == "lenet" else settings.allconv_alphas
    arms = [arm for arm in (settings.arms if model == "lenet" else settings.allconv_arms) if arm != "none"]
    exponents = sorted({round(2 * math.log10(alpha)) for alpha in base if alpha > 0})
    if (not settings.preregistered or len(exponents) < 3 or not arms
            or [half_decade(exponent) for exponent in range(exponents[0], exponents[-1] + 1)] != sorted(base)):
        return tuple(sorted(base)), ()
    results = Results(rows, settings)
    conditions, seeds = results.selection_of(model)
    low, high = exponents[0], exponents[-1]
    while True:
        grid = [half_decade(exponent) for exponent in range(low, high + 1)]
        errors = {arm: {alpha: [row["validation_error"]
                                for row in results.final(seeds, arm=arm, alpha=alpha, **conditions)]
                        for alpha in grid} for arm in arms}
        if any(len(values) < len(seeds) for by_alpha in errors.values() for values in by_alpha.values()):
            return tuple(grid), ()
        chosen = {arm: best_alpha(by_alpha) for arm, by_alpha in errors.items()}
        wanted = []
        for end, limit, step in ((high, EXTENSION_EXPONENTS[1], 1), (low, EXTENSION_EXPONENTS[0], -1)):
            at_end = [arm for arm in arms if chosen[arm] == half_decade(end)
                      and mean_std(errors[arm][half_decade(end)])[0] < CHANCE_LEVEL]
            if at_end and end != limit:
                wanted += [end + step * offset for offset in range(1, EXTENSION_STEP + 1)
                           if (end + step * offset - limit) * step <= 0]
        if not wanted:
            return tuple(grid), ()
        finished = all(len(results.final(seeds, arm=arm, alpha=half_decade(exponent), **conditions)) == len(seeds)
                       for arm in arms for exponent in wanted)
        if not finished:
            return tuple(grid), tuple(sorted(half_decade(exponent) for exponent in wanted))
        low, high = min(low, *wanted), max(high, *wanted)


def with_alpha_extension(settings, rows):
    """``settings`` (the pre-registered grid) whose selection alphas (LeNet's, and the all-conv
    network's own) are those the α-extension rule has reached on ``rows`` plus those it asks to
    run next (see alpha_extension)."""
    lenet = alpha_extension(rows, settings, "lenet")
    extended = {"alphas": tuple(sorted(set(lenet[0] + lenet[1])))}
    if settings.allconv_selection_seeds:
        allconv = alpha_extension(rows, settings, "allconv")
        extended["allconv_alphas"] = tuple(sorted(set(allconv[0] + allconv[1])))
    return dataclasses.replace(settings, **extended)
