"""The outputs of ``normnet compare``, rebuilt from the run files every time.

    results.csv        one row per run per epoch (epoch 0: at initialization, norms only)
    weight_norms.csv   per-unit weight-norm trajectories (every few steps) of the norm runs
    timing.csv         seconds per step per regularizer, and the regularizer's own work
    *.png              figures (see FIGURES)
    summary.md         the tables, with mean ± std over seeds and the number of seeds

Everything in summary.md and the figures is computed from results.csv, weight_norms.csv
and timing.csv (read back from disk), so the published tables can be checked against
the published CSV files.
"""
import csv
import io
import json
import math
import statistics
from pathlib import Path

from framework.persistence import atomic_write

RESULT_COLUMNS = ("dataset", "model", "regularizer", "alpha", "batch_size", "seed", "initializer", "epochs",
                  "train_size", "learning_rate", "epoch", "train_loss", "validation_error", "test_error",
                  "weight_norm_mean", "weight_norm_std", "seconds_per_step", "diverged", "run_id")
NORM_COLUMNS = ("dataset", "model", "regularizer", "alpha", "batch_size", "epochs", "initializer", "seed", "step",
                "weight_norm_mean",
                "weight_norm_std", "layer_norm_means")
LABELS = {"none": "none", "l1": "L1", "l2": "L2 (weight decay)", "normloss": "Norm Loss"}
COLORS = {"none": "tab:gray", "l1": "tab:green", "l2": "tab:blue", "normloss": "tab:red"}
SETTINGS_TITLES = {("fashion-mnist", "lenet"): "Fashion-MNIST, LeNet", ("fashion-mnist", "allconv"):
                   "Fashion-MNIST, all-conv + BN", ("mnist", "lenet"): "MNIST, LeNet"}


# -- CSV ----------------------------------------------------------------------------------

def _write_csv(path, columns, rows):
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: ("" if value is None or (isinstance(value, float) and math.isnan(value)) else value)
                         for key, value in row.items()})
    atomic_write(path, lambda handle: handle.write(buffer.getvalue().encode()))


def _read_csv(path):
    """Rows of a CSV file with numbers parsed (empty cells become NaN)."""
    def parse(value):
        if value == "":
            return math.nan
        try:
            number = float(value)
        except ValueError:
            return value
        return int(number) if number.is_integer() and "." not in value and "e" not in value.lower() else number
    with open(path, newline="") as handle:
        return [{key: parse(value) for key, value in row.items()} for row in csv.DictReader(handle)]


def write_results_csv(output_dir, records):
    rows = []
    for record in records:
        spec = record["spec"]
        for row in record["rows"]:
            rows.append({**{key: spec[key] for key in RESULT_COLUMNS if key in spec}, **row,
                         "diverged": int(record["diverged"]), "run_id": record["run_id"]})
    rows.sort(key=lambda row: tuple(str(row[key]) for key in ("dataset", "model", "regularizer", "initializer"))
              + (row["alpha"], row["batch_size"], row["seed"], row["epoch"]))
    _write_csv(Path(output_dir) / "results.csv", RESULT_COLUMNS, rows)


def write_norms_csv(output_dir, records):
    rows = []
    for record in records:
        spec = record["spec"]
        if spec["model"] != "lenet" or spec["regularizer"] not in ("none", "l2", "normloss"):
            continue
        for point in record["trajectory"]:
            rows.append({**{key: spec[key] for key in NORM_COLUMNS if key in spec}, **point,
                         "layer_norm_means": " ".join(f"{value:.5g}" for value in point["layer_norm_means"])})
    _write_csv(Path(output_dir) / "weight_norms.csv", NORM_COLUMNS, rows)


# -- aggregation --------------------------------------------------------------------------

def select(rows, **conditions):
    return [row for row in rows if all(row[key] == value for key, value in conditions.items())]


def mean_std(values):
    values = [value for value in values if not math.isnan(value)]
    if not values:
        return math.nan, math.nan, 0
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0), len(values)


def pct(values):
    """'12.34 ± 0.56' (percent) from error fractions, with the seed count separately."""
    mean, std, _ = mean_std(values)
    return f"{100 * mean:.2f} ± {100 * std:.2f}"


class Results:
    """results.csv, grouped the ways the tables and figures need."""

    def __init__(self, rows, settings):
        self.rows = rows
        self.settings = settings

    def final(self, **conditions):
        """Last-epoch rows of the runs matching ``conditions``."""
        return [row for row in select(self.rows, **conditions) if row["epoch"] == row["epochs"]]

    def alphas(self, regularizer, **conditions):
        return sorted({row["alpha"] for row in self.final(regularizer=regularizer, **conditions)})

    def best_alpha(self, regularizer, **conditions):
        """The alpha with the lowest mean final validation error (over seeds)."""
        candidates = {alpha: mean_std([row["validation_error"] for row in
                                       self.final(regularizer=regularizer, alpha=alpha, **conditions)])[0]
                      for alpha in self.alphas(regularizer, **conditions)}
        if not candidates:
            return None
        return min(candidates, key=lambda alpha: (candidates[alpha], alpha))

    def setting(self, dataset, model):
        epochs = self.settings.epochs if model == "lenet" else self.settings.allconv_epochs
        batch_size = self.settings.batch_size if model == "lenet" else self.settings.allconv_batch_size
        return dict(dataset=dataset, model=model, initializer="he", epochs=epochs, batch_size=batch_size)

    def chosen(self, dataset, model):
        """Regularizer → alpha used for that setting's table (MNIST: the main dataset's choice)."""
        selection_dataset = self.settings.main_dataset if model == "lenet" else dataset
        conditions = self.setting(selection_dataset, model)
        chosen = {}
        for name in ("none", "l1", "l2", "normloss"):
            alpha = self.best_alpha(name, **conditions)
            if alpha is not None and self.final(regularizer=name, alpha=alpha, **self.setting(dataset, model)):
                chosen[name] = alpha
        return chosen


# -- the summary --------------------------------------------------------------------------

def _table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _epochs_to(errors_by_epoch, threshold):
    for epoch, error in errors_by_epoch:
        if error <= threshold:
            return epoch
    return None


def summary_markdown(results, timing_rows, norm_rows):
    settings = results.settings
    out = ["# normnet compare: Norm Loss against none / L1 / L2", "",
           f"SGD with momentum {0.9}, learning rate {0.05}, mean cross-entropy, float32. "
           f"Best alpha = lowest mean validation error after the last epoch (validation: the last 5000 "
           f"training images); test error reported at that alpha. Errors in percent, mean ± std over seeds "
           f"(n = number of seeds).", ""]

    # Claim 1: best error per regularizer and setting.
    out += ["## 1. Best test error per regularizer (at its best alpha)", ""]
    for (dataset, model), title in SETTINGS_TITLES.items():
        conditions = results.setting(dataset, model)
        chosen = results.chosen(dataset, model)
        if not chosen:
            continue
        note = " (alphas chosen on Fashion-MNIST)" if dataset != settings.main_dataset else ""
        any_row = results.final(**conditions)[0]
        out += [f"### {title}{note}", "",
                f"{any_row['train_size']} training images, {conditions['epochs']} epochs, batch "
                f"{conditions['batch_size']}"
                + (f"; evaluated on the first {settings.allconv_eval_size} test images"
                   if model == "allconv" and settings.allconv_eval_size else "") + ".", ""]
        table = []
        for name, alpha in chosen.items():
            final = results.final(regularizer=name, alpha=alpha, **conditions)
            table.append([LABELS[name], f"{alpha:g}", pct([row["validation_error"] for row in final]),
                          pct([row["test_error"] for row in final]), len(final)])
        out += [_table(["regularizer", "alpha", "validation error %", "test error %", "n"], table), ""]

    # Claim 2: convergence at the best alphas (main setting).
    conditions = results.setting(settings.main_dataset, "lenet")
    chosen = results.chosen(settings.main_dataset, "lenet")
    if chosen:
        curves = {}
        for name, alpha in chosen.items():
            runs = select(results.rows, regularizer=name, alpha=alpha, **conditions)
            curves[name] = [(epoch, mean_std([row["test_error"] for row in runs if row["epoch"] == epoch])[0])
                            for epoch in range(1, conditions["epochs"] + 1)]
        threshold = max(curve[-1][1] for curve in curves.values())
        out += ["## 2. Convergence: test error per epoch at the best alphas "
                f"({SETTINGS_TITLES[(settings.main_dataset, 'lenet')]})", "",
                f"'epochs to {100 * threshold:.2f} %': first epoch whose mean test error is at or below the worst "
                "final mean error among the regularizers (so every curve reaches it).", ""]
        table = []
        for name, alpha in chosen.items():
            runs = select(results.rows, regularizer=name, alpha=alpha, **conditions)
            cells = [pct([row["test_error"] for row in runs if row["epoch"] == epoch])
                     for epoch in range(1, conditions["epochs"] + 1)]
            loss_mean, loss_std, _ = mean_std([row["train_loss"] for row in runs if row["epoch"] == 1])
            table.append([LABELS[name], f"{alpha:g}"] + cells +
                         [f"{loss_mean:.3f} ± {loss_std:.3f}", _epochs_to(curves[name], threshold)])
        header = (["regularizer", "alpha"] + [f"epoch {epoch}" for epoch in range(1, conditions["epochs"] + 1)]
                  + ["train loss, epoch 1", f"epochs to {100 * threshold:.2f} %"])
        out += [_table(header, table), ""]

    # Claim 3: sensitivity to alpha and batch size.
    out += ["## 3. Sensitivity to alpha and to the batch size", ""]
    for dataset, model in ((settings.main_dataset, "lenet"), (settings.main_dataset, "allconv")):
        conditions = results.setting(dataset, model)
        names = [name for name in ("l1", "l2", "normloss") if results.alphas(name, **conditions)]
        if not names:
            continue
        alphas = sorted({alpha for name in names for alpha in results.alphas(name, **conditions)})
        none = results.final(regularizer="none", **conditions)
        out += [f"### Test error % against alpha ({SETTINGS_TITLES[(dataset, model)]})", "",
                f"No regularizer: {pct([row['test_error'] for row in none])} (n = {len(none)}).", ""]
        table = []
        for alpha in alphas:
            cells = []
            for name in names:
                final = results.final(regularizer=name, alpha=alpha, **conditions)
                cells.append(f"{pct([row['test_error'] for row in final])} (n={len(final)})" if final else "")
            table.append([f"{alpha:g}"] + cells)
        out += [_table(["alpha"] + [LABELS[name] for name in names], table), ""]
        spread = []
        for name in names:
            means = [mean_std([row["test_error"] for row in results.final(regularizer=name, alpha=alpha,
                                                                           **conditions)])[0]
                     for alpha in results.alphas(name, **conditions)]
            spread.append([LABELS[name], f"{min(results.alphas(name, **conditions)):g} … "
                           f"{max(results.alphas(name, **conditions)):g}", len(means),
                           f"{100 * (max(means) - min(means)):.2f}",
                           f"{100 * statistics.pstdev(means):.2f}", f"{100 * min(means):.2f}",
                           f"{100 * max(means):.2f}"])
        out += ["Spread of the mean test error across alphas:", "",
                _table(["regularizer", "alphas", "count", "max − min (points)", "std (points)", "best %",
                        "worst %"], spread), ""]

    conditions = dict(dataset=settings.main_dataset, model="lenet", initializer="he", epochs=settings.epochs)
    batch_rows = []
    spreads = []
    for name in ("l2", "normloss"):
        alpha = chosen.get(name) if chosen else None
        if alpha is None:
            continue
        sizes = sorted({row["batch_size"] for row in results.final(regularizer=name, alpha=alpha, **conditions)})
        if len(sizes) < 2:
            continue
        means = []
        for size in sizes:
            final = results.final(regularizer=name, alpha=alpha, batch_size=size, **conditions)
            means.append(mean_std([row["test_error"] for row in final])[0])
            batch_rows.append([LABELS[name], f"{alpha:g}", size, pct([row["test_error"] for row in final]),
                               len(final)])
        spreads.append([LABELS[name], f"{alpha:g}", ", ".join(str(size) for size in sizes),
                        f"{100 * (max(means) - min(means)):.2f}", f"{100 * statistics.pstdev(means):.2f}"])
    if batch_rows:
        out += [f"### Test error % against batch size ({SETTINGS_TITLES[(settings.main_dataset, 'lenet')]}, "
                f"learning rate fixed, {settings.epochs} epochs)", "",
                _table(["regularizer", "alpha", "batch size", "test error %", "n"], batch_rows), "",
                "Spread of the mean test error across batch sizes:", "",
                _table(["regularizer", "alpha", "batch sizes", "max − min (points)", "std (points)"], spreads), ""]

    # Claim 4: timing.
    if timing_rows:
        out += ["## 4. Seconds per training step (LeNet, batch "
                f"{int(timing_rows[0]['batch_size'])}, one process, regularizers alternating in "
                f"{int(timing_rows[0]['rounds'])} rounds of {int(timing_rows[0]['steps_per_round'])} steps)", ""]
        table = [[LABELS[row["regularizer"]], f"{1000 * row['median_seconds_per_step']:.2f}",
                  f"{row['ratio_to_none']:.3f}", f"{1e6 * row['regularizer_seconds_per_step']:.0f}",
                  f"{100 * row['regularizer_share_of_step']:.2f}"] for row in timing_rows]
        out += [_table(["regularizer", "median ms/step", "ratio to none", "regularizer's own work µs/step",
                        "own work % of step"], table), ""]

    # Weight norms.
    if norm_rows:
        out += ["## Weight norms (LeNet, mean ± std of per-unit norms ‖w_o‖ over all kernels, seed-averaged)", ""]
        table = []
        for initializer in ("he", "small"):
            for name in ("none", "l2", "normloss"):
                runs = [row for row in norm_rows if row["initializer"] == initializer and row["regularizer"] == name
                        and (name == "none" or row["alpha"] == settings.norm_alpha)]
                if not runs:
                    continue
                last_step = max(row["step"] for row in runs)
                start = [row for row in runs if row["step"] == 0]
                end = [row for row in runs if row["step"] == last_step]
                seeds = len(start)
                table.append([initializer, LABELS[name], "—" if name == "none" else f"{settings.norm_alpha:g}",
                              f"{statistics.fmean(r['weight_norm_mean'] for r in start):.3f} ± "
                              f"{statistics.fmean(r['weight_norm_std'] for r in start):.3f}",
                              f"{statistics.fmean(r['weight_norm_mean'] for r in end):.3f} ± "
                              f"{statistics.fmean(r['weight_norm_std'] for r in end):.3f}", last_step, seeds])
        out += [_table(["init", "regularizer", "alpha", "norm at step 0", "norm at the end", "steps", "n"], table),
                ""]
        final_small = {}
        for name in ("none", "l2", "normloss"):
            runs = [row for row in results.final(initializer="small", regularizer=name, model="lenet")
                    if name == "none" or row["alpha"] == settings.norm_alpha]
            if runs:
                final_small[name] = runs
        if final_small:
            out += ["Test error % after the last epoch from the small initializer: " + ", ".join(
                f"{LABELS[name]} {pct([row['test_error'] for row in runs])} (n={len(runs)})"
                for name, runs in final_small.items()) + ".", ""]
    return "\n".join(out)


# -- figures ------------------------------------------------------------------------------

def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(figure, path):
    plt = _pyplot()
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png", dpi=110)
    plt.close(figure)
    atomic_write(path, lambda handle: handle.write(buffer.getvalue()))


def figure_best_error(results, path):
    """Mean ± std test error per regularizer at its best alpha, one panel per setting.

    Points with error bars rather than bars: the differences are a fraction of a point,
    and a bar chart would need a truncated axis to show them."""
    plt = _pyplot()
    settings_present = [(key, title) for key, title in SETTINGS_TITLES.items() if results.chosen(*key)]
    figure, axes = plt.subplots(1, max(1, len(settings_present)), figsize=(4.6 * max(1, len(settings_present)), 4.4),
                                squeeze=False)
    for axis, ((dataset, model), title) in zip(axes[0], settings_present):
        conditions = results.setting(dataset, model)
        chosen = results.chosen(dataset, model)
        for index, (name, alpha) in enumerate(chosen.items()):
            errors = [row["test_error"] for row in results.final(regularizer=name, alpha=alpha, **conditions)]
            mean, std, count = mean_std(errors)
            axis.errorbar([index], [100 * mean], yerr=[100 * std], fmt="o", color=COLORS[name], capsize=6,
                          markersize=8, elinewidth=2)
            axis.scatter([index] * len(errors), [100 * error for error in errors], color=COLORS[name], s=12,
                         alpha=0.5, zorder=3)
            axis.annotate(f"{100 * mean:.2f}" + ("" if name == "none" else f"\nα={alpha:g}"), (index, 100 * mean),
                          xytext=(10, 0), textcoords="offset points", va="center", fontsize=8)
        axis.set_xticks(range(len(chosen)), [LABELS[name].replace(" (weight decay)", "") for name in chosen])
        axis.set_xlim(-0.5, len(chosen) - 0.2)
        axis.set_ylabel("test error (%) after the last epoch")
        axis.set_title(f"{title}\n(mean ± std over seeds; dots: seeds; best α by validation)", fontsize=10)
        axis.grid(axis="y", alpha=0.3)
    _save(figure, path)


def figure_error_vs_epoch(results, path):
    plt = _pyplot()
    panels = [(key, title) for key, title in SETTINGS_TITLES.items()
              if key[0] == results.settings.main_dataset and results.chosen(*key)]
    figure, axes = plt.subplots(1, max(1, len(panels)), figsize=(5.5 * max(1, len(panels)), 4.2), squeeze=False)
    for axis, ((dataset, model), title) in zip(axes[0], panels):
        conditions = results.setting(dataset, model)
        for name, alpha in results.chosen(dataset, model).items():
            runs = select(results.rows, regularizer=name, alpha=alpha, **conditions)
            epochs = list(range(1, conditions["epochs"] + 1))
            stats = [mean_std([row["test_error"] for row in runs if row["epoch"] == epoch]) for epoch in epochs]
            means = [100 * mean for mean, _, _ in stats]
            stds = [100 * std for _, std, _ in stats]
            label = LABELS[name] + ("" if name == "none" else f", α={alpha:g}")
            axis.plot(epochs, means, "o-", color=COLORS[name], label=label)
            axis.fill_between(epochs, [m - s for m, s in zip(means, stds)], [m + s for m, s in zip(means, stds)],
                              color=COLORS[name], alpha=0.15)
        axis.set_xlabel("epoch")
        axis.set_ylabel("test error (%)")
        axis.set_title(f"{title}: test error per epoch\n(best α per regularizer; band: ± std over seeds)",
                       fontsize=10)
        axis.xaxis.get_major_locator().set_params(integer=True)
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    _save(figure, path)


def figure_error_vs_alpha(results, path):
    plt = _pyplot()
    panels = [(key, title) for key, title in SETTINGS_TITLES.items() if key[0] == results.settings.main_dataset
              and any(results.alphas(name, **results.setting(*key)) for name in ("l1", "l2", "normloss"))]
    figure, axes = plt.subplots(1, max(1, len(panels)), figsize=(5.5 * max(1, len(panels)), 4.2), squeeze=False)
    for axis, ((dataset, model), title) in zip(axes[0], panels):
        conditions = results.setting(dataset, model)
        for name in ("l1", "l2", "normloss"):
            alphas = results.alphas(name, **conditions)
            if not alphas:
                continue
            stats = [mean_std([row["test_error"] for row in results.final(regularizer=name, alpha=alpha,
                                                                            **conditions)]) for alpha in alphas]
            axis.errorbar(alphas, [100 * mean for mean, _, _ in stats], yerr=[100 * std for _, std, _ in stats],
                          fmt="o-", color=COLORS[name], label=LABELS[name], capsize=3)
        none = mean_std([row["test_error"] for row in results.final(regularizer="none", **conditions)])[0]
        if not math.isnan(none):
            axis.axhline(100 * none, color=COLORS["none"], linestyle="--", label="none")
        axis.set_xscale("log")
        axis.set_yscale("log")
        from matplotlib.ticker import FormatStrFormatter

        axis.yaxis.set_major_formatter(FormatStrFormatter("%g"))
        axis.yaxis.set_minor_formatter(FormatStrFormatter("%g"))
        axis.tick_params(axis="y", which="minor", labelsize=7)
        axis.set_xlabel("regularization factor α (log scale)")
        axis.set_ylabel("test error (%) after the last epoch (log scale)")
        axis.set_title(f"{title}: test error against α\n(mean ± std over seeds)", fontsize=10)
        axis.grid(alpha=0.3, which="both")
        axis.legend(fontsize=8)
    _save(figure, path)


def figure_error_vs_batch_size(results, path):
    plt = _pyplot()
    settings = results.settings
    conditions = dict(dataset=settings.main_dataset, model="lenet", initializer="he", epochs=settings.epochs)
    chosen = results.chosen(settings.main_dataset, "lenet")
    figure, axis = plt.subplots(figsize=(5.5, 4.2))
    for name in ("l2", "normloss"):
        if name not in chosen:
            continue
        sizes = sorted({row["batch_size"] for row in results.final(regularizer=name, alpha=chosen[name],
                                                                   **conditions)})
        stats = [mean_std([row["test_error"] for row in results.final(regularizer=name, alpha=chosen[name],
                                                                        batch_size=size, **conditions)])
                 for size in sizes]
        axis.errorbar(sizes, [100 * mean for mean, _, _ in stats], yerr=[100 * std for _, std, _ in stats],
                      fmt="o-", color=COLORS[name], label=f"{LABELS[name]}, α={chosen[name]:g}", capsize=3)
        axis.set_xticks(sizes, [str(size) for size in sizes])
    axis.set_xscale("log", base=2)
    axis.set_xticks(settings.batch_sizes, [str(size) for size in settings.batch_sizes])
    axis.set_xlabel("batch size (log scale; learning rate and epochs fixed)")
    axis.set_ylabel("test error (%) after the last epoch")
    axis.set_title(f"{SETTINGS_TITLES[(settings.main_dataset, 'lenet')]}: test error against batch size\n"
                   "(mean ± std over seeds)", fontsize=10)
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    _save(figure, path)


def figure_weight_norms(norm_rows, settings, path):
    plt = _pyplot()
    figure, axes = plt.subplots(1, 2, figsize=(11, 4.2), squeeze=False)
    for axis, initializer in zip(axes[0], ("he", "small")):
        for name in ("none", "l2", "normloss"):
            runs = [row for row in norm_rows if row["initializer"] == initializer and row["regularizer"] == name
                    and (name == "none" or row["alpha"] == settings.norm_alpha)]
            steps = sorted({row["step"] for row in runs})
            if not steps:
                continue
            means = [statistics.fmean(row["weight_norm_mean"] for row in runs if row["step"] == step) for step in steps]
            spreads = [statistics.fmean(row["weight_norm_std"] for row in runs if row["step"] == step)
                       for step in steps]
            label = LABELS[name] + ("" if name == "none" else f", α={settings.norm_alpha:g}")
            axis.plot(steps, means, color=COLORS[name], label=label)
            axis.fill_between(steps, [m - s for m, s in zip(means, spreads)], [m + s for m, s in zip(means, spreads)],
                              color=COLORS[name], alpha=0.15)
        axis.axhline(1.0, color="black", linewidth=0.8, linestyle=":", label="norm 1")
        axis.set_xlabel("training step")
        axis.set_ylabel("per-unit weight norm ‖w_o‖")
        start = {"he": "He init (units start near √2)", "small": "small init N(0, 0.01²) (units start ≪ 1)"}
        axis.set_title(f"{start[initializer]}\nline: mean over all units; band: ± std across units", fontsize=10)
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    _save(figure, path)


def figure_timing(timing_rows, path):
    plt = _pyplot()
    figure, (ratio_axis, share_axis) = plt.subplots(1, 2, figsize=(10, 4))
    names = [row["regularizer"] for row in timing_rows]
    positions = range(len(names))
    ratio_axis.bar(positions, [row["ratio_to_none"] for row in timing_rows], color=[COLORS[n] for n in names])
    for index, row in enumerate(timing_rows):
        ratio_axis.text(index, row["ratio_to_none"], f"{row['ratio_to_none']:.3f}", ha="center", va="bottom",
                        fontsize=8)
    ratio_axis.axhline(1.0, color="black", linewidth=0.8)
    ratio_axis.set_xticks(list(positions), [LABELS[n].replace(" (weight decay)", "") for n in names])
    ratio_axis.set_ylim(0, 1.15 * max(row["ratio_to_none"] for row in timing_rows))
    ratio_axis.set_ylabel("median seconds per step / none's")
    ratio_axis.set_title("Whole training step, relative to no regularizer", fontsize=10)
    share_axis.bar(positions, [1e6 * row["regularizer_seconds_per_step"] for row in timing_rows],
                   color=[COLORS[n] for n in names])
    for index, row in enumerate(timing_rows):
        share_axis.text(index, 1e6 * row["regularizer_seconds_per_step"],
                        f"{100 * row['regularizer_share_of_step']:.2f} %\nof a step", ha="center", va="bottom",
                        fontsize=8)
    share_axis.set_xticks(list(positions), [LABELS[n].replace(" (weight decay)", "") for n in names])
    share_axis.set_ylim(0, 1.25 * max(1e6 * row["regularizer_seconds_per_step"] for row in timing_rows))
    share_axis.set_ylabel("µs per step")
    share_axis.set_title("Regularizer's own work per step\n(calculate_gradient + norm over all kernels)",
                         fontsize=10)
    for axis in (ratio_axis, share_axis):
        axis.grid(axis="y", alpha=0.3)
    _save(figure, path)


FIGURES = ("best_test_error.png", "error_vs_epoch.png", "error_vs_alpha.png", "error_vs_batch_size.png",
           "weight_norms.png", "timing.png")


def write_reports(output_dir, settings, log=print):
    """Rebuild every CSV, figure and summary.md in ``output_dir`` from its run files."""
    from framework.compare import load_runs

    output_dir = Path(output_dir)
    records = load_runs(output_dir)
    if not records:
        log("no finished runs yet: nothing to report")
        return
    write_results_csv(output_dir, records)
    write_norms_csv(output_dir, records)
    timing_rows = []
    if (output_dir / "timing.json").exists():
        timing_rows = json.loads((output_dir / "timing.json").read_text())
        _write_csv(output_dir / "timing.csv", list(timing_rows[0]), timing_rows)
        timing_rows = _read_csv(output_dir / "timing.csv")
    results = Results(_read_csv(output_dir / "results.csv"), settings)
    norm_rows = _read_csv(output_dir / "weight_norms.csv")
    # The trajectories of the norm experiment: LeNet at the main batch size and epochs, none or norm_alpha.
    norm_rows = [row for row in norm_rows if row["batch_size"] == settings.batch_size
                 and row["epochs"] == settings.epochs and row["model"] == "lenet"
                 and (row["regularizer"] == "none" or row["alpha"] == settings.norm_alpha)]
    figure_best_error(results, output_dir / "best_test_error.png")
    figure_error_vs_epoch(results, output_dir / "error_vs_epoch.png")
    figure_error_vs_alpha(results, output_dir / "error_vs_alpha.png")
    figure_error_vs_batch_size(results, output_dir / "error_vs_batch_size.png")
    figure_weight_norms([row for row in norm_rows if row["dataset"] == settings.main_dataset
                         and row["model"] == "lenet"], settings, output_dir / "weight_norms.png")
    if timing_rows:
        figure_timing(timing_rows, output_dir / "timing.png")
    text = summary_markdown(results, timing_rows, [row for row in norm_rows if row["dataset"] == settings.main_dataset])
    atomic_write(output_dir / "summary.md", lambda handle: handle.write(text.encode()))
    log(f"wrote results.csv ({len(results.rows)} rows), weight_norms.csv, timing.csv, figures and summary.md")
