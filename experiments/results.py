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
