"""The figures of ``normnet compare``, drawn from the result rows, the weight-norm rows and the
timing rows (the same tables ``summary.md`` is computed from).

    best_test_error.png      claim 1: test error per regularizer at its best alpha, per setting
    error_vs_epoch.png       claim 2: test error per epoch at the best alphas
    error_vs_alpha.png       claim 3: test error against alpha
    error_vs_batch_size.png  claim 3: test error against the batch size
    timing.png               claim 4: seconds per step relative to no regularizer
    weight_norms.png         per-unit weight norms during training, from two initializations
"""
import io
import math
import statistics

from experiments.results import mean_std, select
from experiments.summary import LABELS, SETTINGS_TITLES
from framework.persistence import atomic_write

COLORS = {"none": "tab:gray", "l1": "tab:green", "l2": "tab:blue", "normloss": "tab:red"}


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
