"""The figures of ``normnet compare``, drawn from the result rows, the weight-norm rows and the
timing rows (the same tables ``summary.md`` is computed from). A figure whose runs do not
exist yet is not drawn.

    control_curves.png              the positive control: validation error and mean unit norm per
                                    epoch, none against coupled L2, per (train size, epochs)
    validation_error_vs_alpha.png   selection: validation error against nominal alpha and against
                                    the shrinkage per step each arm applies at its final weights
    test_error_confirmation.png     claim 1: test error per arm at its chosen alpha, every seed
    paired_differences.png          claim 1: paired differences with 95 % intervals, per setting
    convergence.png                 claim 2: data loss and test error per epoch, 95 % bands
    error_vs_batch_size.png         claim 3: test error against the batch size (lr ∝ batch size)
    timing.png                      claim 4: seconds per step relative to no regularizer, per model
    unit_norms_per_layer.png        mean unit norm of each layer during training, per arm
"""
import io
import math

from experiments.paired import interval, paired_difference
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
    """Plain numbers (12, 15, 20) on a logarithmic y axis instead of powers of ten."""
    from matplotlib.ticker import FormatStrFormatter

    axis.set_yscale("log")
    axis.yaxis.set_major_formatter(FormatStrFormatter("%g"))
    axis.yaxis.set_minor_formatter(FormatStrFormatter("%g"))
    axis.tick_params(axis="y", which="minor", labelsize=7)


def figure_selection(results, norm_rows, timing_rows, path):
    """Validation error (mean over the selection seeds) against nominal alpha and against shrinkage."""
    settings = results.settings
    conditions = results.lenet()
    seeds = settings.selection_seeds
    arms = [arm for arm in settings.regularized_arms if results.selection_alphas(arm)]
    if not arms:
        return
    plt = _pyplot()
    figure, (by_alpha, by_shrinkage) = plt.subplots(1, 2, figsize=(12, 4.6))
    chosen = results.chosen_alphas()
    for arm in arms:
        alphas = results.selection_alphas(arm)
        finals = [results.final(seeds, arm=arm, alpha=alpha, **conditions) for alpha in alphas]
        errors = [100 * mean_std([row["validation_error"] for row in final])[0] for final in finals]
        shrinkage = [mean_std([row["shrinkage_per_step"] for row in final])[0] for final in finals]
        style = "s--" if arm.endswith("coupled") else "o-"
        by_alpha.plot(alphas, errors, style, color=COLORS[arm], label=LABELS[arm], markersize=4)
        by_shrinkage.plot(shrinkage, errors, style, color=COLORS[arm], label=LABELS[arm], markersize=4)
        if arm in chosen:
            index = alphas.index(chosen[arm])
            by_alpha.plot([alphas[index]], [errors[index]], "*", color=COLORS[arm], markersize=14)
            by_shrinkage.plot([shrinkage[index]], [errors[index]], "*", color=COLORS[arm], markersize=14)
    none = mean_std([row["validation_error"] for row in results.final(seeds, arm="none", **conditions)])[0]
    for axis in (by_alpha, by_shrinkage):
        if not math.isnan(none):
            axis.axhline(100 * none, color=COLORS["none"], linestyle=":", label="none")
        axis.set_xscale("log")
        _plain_log_y(axis)
        axis.set_ylabel("validation error (%), mean over selection seeds (log)")
        axis.grid(alpha=0.3, which="both")
        axis.legend(fontsize=8)
    by_alpha.set_xlabel("nominal α (log)")
    by_alpha.set_title("Validation error against α (★ chosen)", fontsize=10)
    by_shrinkage.set_xlabel("relative shrinkage per step |η̄·g| / |w| at the final weights (log)")
    by_shrinkage.set_title("Validation error against the shrinkage each α applies", fontsize=10)
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


def figure_paired_differences(results, norm_rows, timing_rows, path):
    """Paired differences of test error with 95 % intervals, one panel per setting."""
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
                    entries.append((f"{LABELS[arm]} − {LABELS[reference]}", difference))
        if entries:
            panels.append((title, entries))
    if not panels:
        return
    plt = _pyplot()
    figure, axes = plt.subplots(1, len(panels), figsize=(5.6 * len(panels), 4.6), squeeze=False)
    for axis, (title, entries) in zip(axes[0], panels):
        for index, (label, difference) in enumerate(entries):
            color = "tab:red" if difference.excludes_zero else "black"
            axis.errorbar([100 * difference.mean], [index], xerr=[[100 * (difference.mean - difference.low)],
                                                                   [100 * (difference.high - difference.mean)]],
                          fmt="o", color=color, capsize=4)
        axis.axvline(0, color="gray", linewidth=0.8)
        axis.set_yticks(range(len(entries)), [label for label, _ in entries], fontsize=8)
        axis.invert_yaxis()
        axis.set_xlabel("test error difference (points), mean and 95 % CI")
        axis.set_title(title.replace(" (", "\n(", 1) + "\n(red: the interval excludes 0)", fontsize=9)
        axis.grid(axis="x", alpha=0.3)
    _save(figure, path)


def figure_convergence(results, norm_rows, timing_rows, path):
    """Data loss and test error per epoch at the chosen alphas (confirmation seeds), 95 % bands."""
    settings = results.settings
    conditions = results.lenet()
    seeds = settings.confirmation_seeds
    present = arms_present(results, conditions, seeds, results.chosen_alphas())
    if not present:
        return
    plt = _pyplot()
    figure, (loss_axis, error_axis) = plt.subplots(1, 2, figsize=(11, 4.3))
    epochs = list(range(1, settings.epochs + 1))
    for arm, alpha in present.items():
        for axis, column, scale in ((loss_axis, "data_loss", 1), (error_axis, "test_error", 100)):
            stats = [interval(results.by_seed(column, seeds, epoch, arm=arm, alpha=alpha, **conditions).values())
                     for epoch in epochs]
            means = [scale * entry.mean for entry in stats]
            axis.plot(epochs, means, "o-", color=COLORS[arm], label=LABELS[arm], markersize=4)
            axis.fill_between(epochs, [scale * entry.low for entry in stats], [scale * entry.high for entry in stats],
                              color=COLORS[arm], alpha=0.15)
    loss_axis.set_ylabel("training data loss (cross-entropy, no penalty)")
    error_axis.set_ylabel("test error (%)")
    for axis in (loss_axis, error_axis):
        axis.set_xlabel("epoch")
        _plain_log_y(axis)
        axis.xaxis.get_major_locator().set_params(integer=True)
        axis.grid(alpha=0.3, which="both")
        axis.legend(fontsize=8)
    figure.suptitle("Fashion-MNIST, LeNet, chosen alphas: mean and 95 % CI over the confirmation seeds", fontsize=10)
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
    axis.set_xlabel("batch size (peak learning rate ∝ batch size, α kept)")
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
