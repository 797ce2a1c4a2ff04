"""The study's results as a table, and the one rule that chooses a regularizer's alpha.

A *result row* is one epoch of one run: the run's spec fields (``dataset``, ``model``,
``regularizer``, ``alpha``, ``batch_size``, ``seed``, ``initializer``, ``epochs``, ...)
beside that epoch's numbers (``epoch``, ``train_loss``, ``validation_error``,
``test_error``, ...), as in ``results.csv``. Missing numbers are NaN.

The best alpha of a regularizer (:func:`best_alpha`) is the one with the lowest mean
validation error after the last epoch, the mean taken over seeds; ties go to the smaller
alpha. Test error is then reported at that alpha, so the choice never sees the test set.
The runner uses it to pick the alphas of the dependent experiments, and the report to
pick the rows of its tables.
"""
import math
import statistics

from experiments.grid import REGULARIZERS

RESULT_COLUMNS = ("dataset", "model", "regularizer", "alpha", "batch_size", "seed", "initializer", "epochs",
                  "train_size", "learning_rate", "epoch", "train_loss", "validation_error", "test_error",
                  "weight_norm_mean", "weight_norm_std", "seconds_per_step", "diverged", "run_id")


def result_rows(records):
    """The result rows of run records (a failed run has none); JSON nulls become NaN."""
    rows = []
    for record in records:
        spec = record["spec"]
        for row in record["rows"]:
            flat = {**{key: spec[key] for key in RESULT_COLUMNS if key in spec}, **row,
                    "diverged": int(record["diverged"]), "run_id": record["run_id"]}
            rows.append({key: math.nan if value is None else value for key, value in flat.items()})
    return rows


def select(rows, **conditions):
    """The rows whose fields equal every value in ``conditions``."""
    return [row for row in rows if all(row[key] == value for key, value in conditions.items())]


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

    def final(self, **conditions):
        """Last-epoch rows of the runs matching ``conditions``."""
        return [row for row in select(self.rows, **conditions) if row["epoch"] == row["epochs"]]

    def alphas(self, regularizer, **conditions):
        """The alphas of ``regularizer`` with a finished run matching ``conditions``, ascending."""
        return sorted({row["alpha"] for row in self.final(regularizer=regularizer, **conditions)})

    def best_alpha(self, regularizer, **conditions):
        """:func:`best_alpha` over the runs of ``regularizer`` matching ``conditions``."""
        return best_alpha({alpha: [row["validation_error"] for row in
                                   self.final(regularizer=regularizer, alpha=alpha, **conditions)]
                           for alpha in self.alphas(regularizer, **conditions)})

    def setting(self, dataset, model):
        """The conditions that pick a setting's own runs (its model's epochs and batch size, He init)."""
        epochs = self.settings.epochs if model == "lenet" else self.settings.allconv_epochs
        batch_size = self.settings.batch_size if model == "lenet" else self.settings.allconv_batch_size
        return dict(dataset=dataset, model=model, initializer="he", epochs=epochs, batch_size=batch_size)

    def best_alphas(self, dataset, model):
        """Regularizer → its best alpha in that setting (only regularizers that have runs there)."""
        conditions = self.setting(dataset, model)
        chosen = {name: self.best_alpha(name, **conditions) for name in REGULARIZERS}
        return {name: alpha for name, alpha in chosen.items() if alpha is not None}

    def chosen(self, dataset, model):
        """Regularizer → alpha of that setting's table, for regularizers with runs at that alpha.

        LeNet on any dataset uses the alphas chosen on the main dataset (the study transfers
        them to MNIST); the all-conv network chooses its own.
        """
        selection_dataset = self.settings.main_dataset if model == "lenet" else dataset
        conditions = self.setting(dataset, model)
        return {name: alpha for name, alpha in self.best_alphas(selection_dataset, model).items()
                if self.final(regularizer=name, alpha=alpha, **conditions)}
