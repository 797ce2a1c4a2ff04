"""The figures of ``normnet compare``, drawn from the result rows, the weight-norm rows and the
timing rows (the same tables ``summary.md`` is computed from). A figure whose runs do not
exist yet is not drawn.

    control_curves.png              the positive control: validation error and mean unit norm per
                                    epoch, none against coupled L2, per (train size, epochs)
    validation_error_vs_alpha.png   selection: validation error against nominal alpha and against
                                    the shrinkage per step each arm applies at its final weights
                                    (second study: the effective strength), a row per network
    test_error_confirmation.png     claim 1: test error per arm at its chosen alpha, every seed
    paired_differences.png          claim 1: paired differences with 95 % intervals, per setting (second study:
                                    the interval deciding each claim, a panel per claim)
    convergence.png                 claim 2: data loss and test error (second study: validation
                                    error) per epoch, 95 % bands, a row per confirmed network
    error_vs_batch_size.png         claim 3: test error against the batch size
    timing.png                      claim 4: seconds per step relative to no regularizer, per model
    unit_norms_per_layer.png        mean unit norm of each layer during training, per arm
"""
import io
import math

from experiments.paired import Interval, interval, paired_difference
from experiments.results import LAYER_COLUMNS, mean_std
from experiments.summary import COMPARISONS, LABELS, LAYER_NAMES, arms_present, settings_titles
from framework.persistence import atomic_write

COLORS = {"none": "tab:gray", "l1": "tab:green", "l2": "tab:blue", "normloss": "tab:red",
          "normloss_coupled": "tab:orange", "l2_coupled": "tab:purple"}


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


def _plain_log_y(axis):
    """Plain numbers (0.01, 12, 20) on a logarithmic y axis instead of powers of ten; the ticks
    between powers of ten are labelled too while the axis spans less than about 1.5 decades
    (error rates), not when it spans many (losses), where their labels would overlap."""
    from matplotlib.ticker import FormatStrFormatter, Formatter

    class MinorLabels(Formatter):
        def __call__(self, value, position=None):
            low, high = self.axis.get_view_interval()
            return f"{value:g}" if high < 30 * low else ""

    axis.set_yscale("log")
    axis.yaxis.set_major_formatter(FormatStrFormatter("%g"))
    axis.yaxis.set_minor_formatter(MinorLabels())
    axis.tick_params(axis="y", which="minor", labelsize=7)


def figure_selection(results, norm_rows, timing_rows, path):
    """Validation error (mean over the selection seeds, bars: their lowest to highest) against nominal
    alpha and against the pull each alpha applies: the shrinkage per step at the final weights, or for
    the second study the effective strength (that × the steps); a row per network with a selection."""
    from experiments.inference import effective_strength
    from experiments.preregistered import MODELS, steps_of
    from matplotlib.ticker import LogLocator

    settings = results.settings
    models = [model for model in ("lenet", "allconv") if (model == "lenet" or settings.allconv_selection_seeds)
              and any(results.selection_alphas(arm, model) for arm in settings.regularized_arms)]
    if not models:
        return
    plt = _pyplot()
    figure, axes = plt.subplots(len(models), 2, figsize=(12, 4.6 * len(models)), squeeze=False)
    for (by_alpha, by_pull), model in zip(axes, models):
        conditions, seeds = results.selection_of(model)
        chosen = results.chosen_alphas(model)
        for arm in [arm for arm in settings.regularized_arms if results.selection_alphas(arm, model)]:
            alphas = results.selection_alphas(arm, model)
            finals = [results.final(seeds, arm=arm, alpha=alpha, **conditions) for alpha in alphas]
            errors = [[100 * row["validation_error"] for row in final] for final in finals]
            means = [mean_std(values)[0] for values in errors]
            spread = [[mean - min(values) for mean, values in zip(means, errors)],
                      [max(values) - mean for mean, values in zip(means, errors)]]
            pull = [mean_std([effective_strength(row["shrinkage_per_step"], steps_of(row))
                              if settings.preregistered else row["shrinkage_per_step"] for row in final])[0]
                    for final in finals]
            style = "s--" if arm.endswith("coupled") else "o-"
            for axis, x in ((by_alpha, alphas), (by_pull, pull)):
                axis.errorbar(x, means, yerr=spread, fmt=style, color=COLORS[arm], label=LABELS[arm], markersize=4,
                              capsize=2, elinewidth=0.8)
                if arm in chosen:
                    index = alphas.index(chosen[arm])
                    axis.plot([x[index]], [means[index]], "*", color=COLORS[arm], markersize=14)
        none = mean_std([row["validation_error"] for row in results.final(seeds, arm="none", **conditions)])[0]
        for axis in (by_alpha, by_pull):
            if not math.isnan(none):
                axis.axhline(100 * none, color=COLORS["none"], linestyle=":", label="none")
            axis.set_xscale("log")
            _plain_log_y(axis)
            # the chosen alphas sit near the bottom of a decade (12 %): ticks between 10 and 20 too
            axis.yaxis.set_minor_locator(LogLocator(subs=(1.2, 1.4, 1.6, 1.8, 2, 2.5, 3, 4, 5, 6, 7, 8, 9)))
            axis.set_ylabel("validation error (%), selection seeds (log)")
            axis.grid(alpha=0.3, which="both")
            axis.legend(fontsize=8)
        by_alpha.set_xlabel("nominal α (log)")
        by_alpha.set_title(f"{MODELS[model]}: validation error against α (★ chosen; bars: lowest to highest seed)",
                           fontsize=10)
        if settings.preregistered:
            by_pull.set_xlabel("effective strength s: relative pull per step at the final weights × steps (log)")
            by_pull.set_title(f"{MODELS[model]}: the same against the effective strength", fontsize=10)
        else:
            by_pull.set_xlabel("relative shrinkage per step |η̄·g| / |w| at the final weights (log)")
            by_pull.set_title(f"{MODELS[model]}: the same against the shrinkage each α applies", fontsize=10)
    _save(figure, path)


def figure_confirmation(results, norm_rows, timing_rows, path):
    """Test error per arm at its chosen alpha: every seed, the mean and its 95 % interval."""
    panels = settings_titles(results)
    chosen = results.chosen_alphas()
    panels = [(title, conditions, seeds) for title, conditions, seeds in panels
              if arms_present(results, conditions, seeds, chosen)]
    if not panels:
        return
    plt = _pyplot()
    figure, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 4.6), squeeze=False)
    for axis, (title, conditions, seeds) in zip(axes[0], panels):
        present = arms_present(results, conditions, seeds, chosen)
        for index, (arm, alpha) in enumerate(present.items()):
            errors = [100 * row["test_error"] for row in results.final(seeds, arm=arm, alpha=alpha, **conditions)]
            summary = interval(errors)
            axis.scatter([index] * len(errors), errors, color=COLORS[arm], s=10, alpha=0.5)
            if summary.n > 1:
                axis.errorbar([index + 0.2], [summary.mean], yerr=[summary.half_width], fmt="o", color=COLORS[arm],
                              capsize=5)
        axis.set_xticks(range(len(present)), [LABELS[arm].replace(" (coupled)", "\n(coupled)") for arm in present],
                        fontsize=8)
        axis.set_ylabel("test error (%) after the last epoch")
        axis.set_title(title.replace(" (", "\n(", 1) + "\n(dots: seeds; bar: mean, 95 % CI)", fontsize=9)
        axis.grid(axis="y", alpha=0.3)
    _save(figure, path)


def _interval_entries(axis, entries, xlabel, title, margin=None):
    """One horizontal interval per (label, Interval, scale[, colour]) entry; red where it excludes 0
    (unless the entry brings its own colour)."""
    for index, (label, summary, scale, *colour) in enumerate(entries):
        color = colour[0] if colour else "tab:red" if summary.excludes_zero else "black"
        axis.errorbar([scale * summary.mean], [index], xerr=[[scale * (summary.mean - summary.low)],
                                                             [scale * (summary.high - summary.mean)]],
                      fmt="o", color=color, capsize=4)
    if margin is not None:
        axis.axvspan(-margin, margin, color="tab:green", alpha=0.1, label=f"equivalence margin ±{margin:g}")
        axis.legend(fontsize=7, loc="lower right")
    axis.axvline(0, color="gray", linewidth=0.8)
    axis.set_yticks(range(len(entries)), [label for label, *_ in entries], fontsize=8)
    axis.set_ylim(len(entries) - 0.5, -0.5)
    axis.set_xlabel(xlabel, fontsize=8)
    axis.set_title(title, fontsize=9)
    axis.grid(axis="x", alpha=0.3)


def claim_panels(results, model):
    """(title, entries, x label, margin) of each claim of the second study with numbers for ``model``:
    the same intervals summary.md decides by (``experiments.preregistered``)."""
    from experiments import preregistered as stages
    from experiments.summary import selection_runs

    panels = []
    confirmation = stages.confirmation_analysis(results, model)
    if confirmation is not None and confirmation.pairs:
        entries = [(label, summary, 100) for label, summary in confirmation.pairs.items() if summary.n > 1]
        if confirmation.tost is not None:
            # The TOST's 90 % interval decides by the margin, not by 0: green inside it.
            tost = confirmation.tost
            entries.append(("Norm Loss − L2, 90 % (TOST)",
                            Interval(tost.mean, tost.sd, tost.n, tost.low, tost.high, math.nan), 100,
                            "tab:green" if tost.equivalent else "black"))
        if entries:
            panels.append(("Claim 1: final test error", entries,
                           "difference (points), 95 % CI (TOST: 90 %)", 100 * stages.EQUIVALENCE_MARGIN))
    if confirmation is not None and confirmation.area is not None and confirmation.area.n > 1:
        panels.append(("Claim 2: area under the validation-error curve", [("Norm Loss − L2", confirmation.area, 100)],
                       "difference of the mean height (points), 95 % CI", None))
    if selection_runs(results, model) is not None:
        _, differences, _ = stages.plateau_analysis(results, model)
        if differences and all(difference.n > 1 for difference in differences):
            panels.append(("Claim 3a: plateau width, Norm Loss − L2",
                           [("nominal α", differences[0], 1), ("effective strength", differences[1], 1)],
                           "difference (decades), 95 % CI", None))
    if model == "lenet":
        entries = []
        for size, change, interaction, _, _ in stages.batch_analysis(results):
            entries += [(f"L2 at {size} − at {results.settings.batch_size}", change, 100),
                        (f"interaction at {size}", interaction, 100)]
        entries = [entry for entry in entries if entry[1].n > 1]
        if entries:
            panels.append(("Claim 3b: batch size", entries, "test error (points), 95 % CI", None))
    return panels


def figure_claims(results, path):
    """The second study's deciding intervals, one panel per claim, a row per network."""
    from experiments.preregistered import MODELS

    rows = [(model, panels) for model in MODELS if (panels := claim_panels(results, model))]
    if not rows:
        return
    plt = _pyplot()
    columns = max(len(panels) for _, panels in rows)
    figure, axes = plt.subplots(len(rows), columns, figsize=(max(4.6 * columns, 7.5), 3.6 * len(rows)),
                                squeeze=False)
    for axes_row, (model, panels) in zip(axes, rows):
        for axis, (title, entries, xlabel, margin) in zip(axes_row, panels):
            _interval_entries(axis, entries, xlabel, f"{MODELS[model]}: {title}", margin)
        for axis in axes_row[len(panels):]:
            axis.set_visible(False)
    figure.suptitle("Paired differences by seed and the intervals that decide each claim\n"
                    "(red: excludes 0; green: within the equivalence margin)", fontsize=10)
    _save(figure, path)


def figure_paired_differences(results, norm_rows, timing_rows, path):
    """Paired differences of test error with 95 % intervals, one panel per setting (the second
    study: one panel per claim, figure_claims)."""
    if results.settings.preregistered:
        figure_claims(results, path)
        return
    chosen = results.chosen_alphas()
    panels = []
    for title, conditions, seeds in settings_titles(results):
        present = arms_present(results, conditions, seeds, chosen)
        entries = []
        for arm, reference in COMPARISONS:
            if arm in present and reference in present:
                difference = paired_difference(
                    results.by_seed("test_error", seeds, arm=arm, alpha=present[arm], **conditions),
                    results.by_seed("test_error", seeds, arm=reference, alpha=present[reference], **conditions))
                if difference.n > 1:
                    entries.append((f"{LABELS[arm]} − {LABELS[reference]}", difference, 100))
        if entries:
            panels.append((title, entries))
    if not panels:
        return
    plt = _pyplot()
    figure, axes = plt.subplots(1, len(panels), figsize=(5.6 * len(panels), 4.6), squeeze=False)
    for axis, (title, entries) in zip(axes[0], panels):
        _interval_entries(axis, entries, "test error difference (points), mean and 95 % CI",
                          title.replace(" (", "\n(", 1) + "\n(red: the interval excludes 0)")
    _save(figure, path)


def figure_convergence(results, norm_rows, timing_rows, path):
    """Data loss and error per epoch at the chosen alphas (confirmation seeds), 95 % bands: a row
    for LeNet and, where the study confirms the all-conv network at its own alphas, a row for it."""
    from experiments.preregistered import MODELS

    settings = results.settings
    # Claim 2 is decided on the validation curves in the second study, on test error in the first.
    error_column = "validation_error" if settings.preregistered else "test_error"
    confirmed = [model for model in MODELS if model == "lenet" or settings.allconv_selection_seeds]
    rows = []
    for model in confirmed:
        conditions, seeds = results.confirmation_of(model)
        present = arms_present(results, conditions, seeds, results.chosen_alphas(model))
        if present:
            rows.append((MODELS[model], conditions, seeds, present))
    if not rows:
        return
    plt = _pyplot()
    figure, axes = plt.subplots(len(rows), 2, figsize=(11, 4.3 * len(rows)), squeeze=False)
    for (name, conditions, seeds, present), (loss_axis, error_axis) in zip(rows, axes):
        epochs = list(range(1, conditions["epochs"] + 1))
        for arm, alpha in present.items():
            for axis, column, scale in ((loss_axis, "data_loss", 1), (error_axis, error_column, 100)):
                stats = [interval(results.by_seed(column, seeds, epoch, arm=arm, alpha=alpha, **conditions).values())
                         for epoch in epochs]
                axis.plot(epochs, [scale * entry.mean for entry in stats], "o-", color=COLORS[arm], label=LABELS[arm],
                          markersize=4)
                axis.fill_between(epochs, [scale * entry.low for entry in stats],
                                  [scale * entry.high for entry in stats], color=COLORS[arm], alpha=0.15)
        loss_axis.set_ylabel("training data loss (cross-entropy, no penalty)")
        error_axis.set_ylabel(error_column.replace("_", " ") + " (%)")
        for axis in (loss_axis, error_axis):
            axis.set_title(f"Fashion-MNIST, {name}, chosen alphas", fontsize=10)
            axis.set_xlabel("epoch")
            _plain_log_y(axis)
            axis.xaxis.get_major_locator().set_params(integer=True)
            axis.grid(alpha=0.3, which="both")
            axis.legend(fontsize=8)
    figure.suptitle("Mean and 95 % CI over the confirmation seeds", fontsize=10)
    _save(figure, path)


def figure_batch_size(results, norm_rows, timing_rows, path):
    """Test error against the batch size, learning rate ∝ batch size, alpha kept."""
    settings = results.settings
    chosen = results.chosen_alphas()
    sizes = sorted({settings.batch_size, *settings.batch_sizes})
    lines = {}
    for arm in settings.batch_arms:
        if arm not in chosen:
            continue
        points = [(size, interval(results.by_seed("test_error", settings.batch_seeds, arm=arm, alpha=chosen[arm],
                                                  **results.lenet(batch_size=size)).values())) for size in sizes]
        points = [(size, entry) for size, entry in points if entry.n > 0]
        if len(points) > 1:
            lines[arm] = points
    if not lines:
        return
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(5.8, 4.3))
    for arm, points in lines.items():
        axis.errorbar([size for size, _ in points], [100 * entry.mean for _, entry in points],
                      yerr=[0 if math.isnan(entry.half_width) else 100 * entry.half_width for _, entry in points],
                      fmt="o-", color=COLORS[arm], capsize=3, label=f"{LABELS[arm]}, α={chosen[arm]:.3g}")
    axis.set_xscale("log", base=2)
    axis.set_xticks(sizes, [str(size) for size in sizes])
    axis.set_xlabel("batch size (α kept; peak learning rate "
                    + ("∝ batch size)" if settings.batch_learning_rate == "linear" else
                       f"{settings.learning_rate:g} at every size)"))
    axis.set_ylabel("test error (%) after the last epoch")
    axis.set_title("Fashion-MNIST, LeNet: test error against batch size\n(mean, 95 % CI over seeds)", fontsize=10)
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    _save(figure, path)


def figure_timing(results, norm_rows, timing_rows, path):
    """Median seconds per step relative to no regularizer, one group of bars per model."""
    if not timing_rows:
        return
    plt = _pyplot()
    models = list(dict.fromkeys(row["model"] for row in timing_rows))
    figure, axes = plt.subplots(1, len(models), figsize=(5 * len(models), 4), squeeze=False)
    for axis, model in zip(axes[0], models):
        rows = [row for row in timing_rows if row["model"] == model]
        names = [row["regularizer"] for row in rows]
        axis.bar(range(len(rows)), [row["ratio_to_none"] for row in rows], color=[COLORS[name] for name in names])
        for index, row in enumerate(rows):
            axis.text(index, row["ratio_to_none"], f"{row['ratio_to_none']:.3f}", ha="center", va="bottom", fontsize=8)
        axis.axhline(1.0, color="black", linewidth=0.8)
        axis.set_xticks(range(len(rows)), [LABELS[name] for name in names])
        axis.set_ylim(0, 1.15 * max(row["ratio_to_none"] for row in rows))
        axis.set_ylabel("median seconds per step / none's")
        axis.set_title(f"{model}: whole training step relative to none\n"
                       f"({int(rows[0]['excluded_rounds'])} of {int(rows[0]['rounds'])} rounds excluded as load)",
                       fontsize=9)
        axis.grid(axis="y", alpha=0.3)
    _save(figure, path)


def figure_unit_norms(results, norm_rows, timing_rows, path):
    """Mean unit norm of each layer against the training step, per arm (mean over the confirmation
    seeds): one panel per layer, a row per network."""
    models = [model for model in ("lenet", "allconv") if any(row["model"] == model for row in norm_rows)]
    if not models:
        return
    plt = _pyplot()
    figure, axes = plt.subplots(len(models), len(LAYER_COLUMNS), figsize=(4 * len(LAYER_COLUMNS), 3.6 * len(models)),
                                squeeze=False)
    for axes_row, model in zip(axes, models):
        model_rows = [row for row in norm_rows if row["model"] == model]
        arms = [arm for arm in results.settings.arms if any(row["arm"] == arm for row in model_rows)]
        for axis, column, layer in zip(axes_row, LAYER_COLUMNS, LAYER_NAMES[model]):
            for arm in arms:
                runs = [row for row in model_rows if row["arm"] == arm]
                steps = sorted({row["step"] for row in runs})
                means = [mean_std([row[column] for row in runs if row["step"] == step])[0] for step in steps]
                axis.plot(steps, means, color=COLORS[arm], label=LABELS[arm],
                          linestyle="--" if arm.endswith("coupled") else "-")
            axis.axhline(1.0, color="black", linewidth=0.8, linestyle=":")
            axis.set_title(f"{model} {layer}", fontsize=10)
            axis.set_xlabel("training step")
            axis.grid(alpha=0.3)
        axes_row[0].set_ylabel("mean unit norm ‖w_o‖ (mean over seeds)")
        axes_row[0].legend(fontsize=7)
    _save(figure, path)


def figure_control(results, norm_rows, timing_rows, path):
    """The positive control: validation error and mean unit norm per epoch, per arm and alpha,
    mean over the control seeds with a band from their lowest to their highest value."""
    settings = results.settings
    reference, treated = settings.control_arms[0], settings.control_arms[-1]
    panels = []
    for train_size, epochs in settings.control_settings:
        conditions = dict(dataset=settings.main_dataset, model="lenet", initializer="he", epochs=epochs,
                          batch_size=settings.batch_size, train_size=train_size)
        curves = [(reference, 0.0)] + [(treated, alpha) for alpha in settings.control_alphas]
        curves = [(arm, alpha) for arm, alpha in curves
                  if results.final(settings.control_seeds, arm=arm, alpha=alpha, **conditions)]
        if curves:
            panels.append((train_size, epochs, conditions, curves))
    if not panels:
        return
    plt = _pyplot()
    figure, axes = plt.subplots(2, len(panels), figsize=(5.5 * len(panels), 7.5), squeeze=False)
    styles = ("-", "--", ":", "-.")
    for column, (train_size, epochs, conditions, curves) in enumerate(panels):
        error_axis, norm_axis = axes[0][column], axes[1][column]
        for index, (arm, alpha) in enumerate(curves):
            label = LABELS[arm] + (f" α={alpha:.3g}" if arm != reference else "")
            style = dict(color=COLORS[arm], linestyle=styles[index % len(styles)])
            for axis, column_name, scale, first in ((error_axis, "validation_error", 100, 1),
                                                    (norm_axis, "weight_norm_mean", 1, 0)):
                epoch_axis = list(range(first, epochs + 1))
                values = [list(results.by_seed(column_name, settings.control_seeds, epoch, arm=arm, alpha=alpha,
                                               **conditions).values()) for epoch in epoch_axis]
                axis.plot(epoch_axis, [scale * mean_std(entry)[0] for entry in values], label=label, **style)
                axis.fill_between(epoch_axis, [scale * min(entry) for entry in values],
                                  [scale * max(entry) for entry in values], color=COLORS[arm], alpha=0.12)
        error_axis.set_title(f"Fashion-MNIST, LeNet: {train_size} images × {epochs} epochs", fontsize=9)
        error_axis.set_ylabel("validation error (%)")
        _plain_log_y(error_axis)
        norm_axis.set_ylabel("mean unit norm ‖w_o‖ over all kernels")
        for axis in (error_axis, norm_axis):
            axis.set_xlabel("epoch")
            axis.grid(alpha=0.3, which="both")
            axis.legend(fontsize=8)
    figure.suptitle("Positive control: mean over seeds " + ", ".join(str(seed) for seed in settings.control_seeds)
                    + "\n(band: lowest to highest seed)", fontsize=10)
    _save(figure, path)


FIGURE_MAKERS = {"control_curves.png": figure_control,
                 "validation_error_vs_alpha.png": figure_selection,
                 "test_error_confirmation.png": figure_confirmation,
                 "paired_differences.png": figure_paired_differences,
                 "convergence.png": figure_convergence,
                 "error_vs_batch_size.png": figure_batch_size,
                 "timing.png": figure_timing,
                 "unit_norms_per_layer.png": figure_unit_norms}
FIGURES = tuple(FIGURE_MAKERS)
