"""``summary.md``: one section per claim of the Norm Loss paper (Georgiou et al., ICPR 2020),
each computed from the result rows (``results.csv`` read back), ``timing.csv`` and
``weight_norms.csv``:

    1. accuracy comparable to or better than weight decay     claim_accuracy
    2. faster convergence                                     claim_convergence
    3. less sensitivity to alpha and to the batch size        claim_sensitivity
    4. negligible extra computation                           claim_cost
    weight norms from two initializations                     weight_norms_section
    runs that failed                                          failed_runs_section

Errors are in percent, mean ± std over seeds, with the number of seeds.
"""
import statistics

from experiments.grid import LEARNING_RATE, MOMENTUM, VALIDATION_SIZE
from experiments.results import epochs_to, mean_std, select

LABELS = {"none": "none", "l1": "L1", "l2": "L2 (weight decay)", "normloss": "Norm Loss"}
SETTINGS_TITLES = {("fashion-mnist", "lenet"): "Fashion-MNIST, LeNet", ("fashion-mnist", "allconv"):
                   "Fashion-MNIST, all-conv + BN", ("mnist", "lenet"): "MNIST, LeNet"}
WEIGHT_REGULARIZERS = ("l1", "l2", "normloss")


def pct(values):
    """'12.34 ± 0.56' (percent) from error fractions; the seed count is reported separately."""
    mean, std, _ = mean_std(values)
    return f"{100 * mean:.2f} ± {100 * std:.2f}"


def table(header, rows):
    """A Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def spread(means):
    """(max − min, population std) of mean errors across alphas or batch sizes, in points."""
    return 100 * (max(means) - min(means)), 100 * statistics.pstdev(means)


def introduction():
    return ["# normnet compare: Norm Loss against none / L1 / L2", "",
            f"SGD with momentum {MOMENTUM}, learning rate {LEARNING_RATE}, mean cross-entropy, float32. "
            f"Best alpha = lowest mean validation error after the last epoch (validation: the last "
            f"{VALIDATION_SIZE} training images); test error reported at that alpha. Errors in percent, "
            f"mean ± std over seeds (n = number of seeds).", ""]


def claim_accuracy(results):
    """Claim 1: the best test error of each regularizer, at its best alpha, in every setting."""
    settings = results.settings
    out = []
    for (dataset, model), title in SETTINGS_TITLES.items():
        conditions = results.setting(dataset, model)
        chosen = results.chosen(dataset, model)
        if not chosen:
            continue
        note = " (alphas chosen on Fashion-MNIST)" if dataset != settings.main_dataset else ""
        train_size = results.final(**conditions)[0]["train_size"]
        evaluated = (f"; evaluated on the first {settings.allconv_eval_size} test images"
                     if model == "allconv" and settings.allconv_eval_size else "")
        out += [f"### {title}{note}", "",
                f"{train_size} training images, {conditions['epochs']} epochs, batch "
                f"{conditions['batch_size']}{evaluated}.", ""]
        rows = []
        for name, alpha in chosen.items():
            final = results.final(regularizer=name, alpha=alpha, **conditions)
            rows.append([LABELS[name], f"{alpha:g}", pct([row["validation_error"] for row in final]),
                         pct([row["test_error"] for row in final]), len(final)])
        out += [table(["regularizer", "alpha", "validation error %", "test error %", "n"], rows), ""]
    return ["## 1. Best test error per regularizer (at its best alpha)", ""] + out if out else []


def convergence_curves(results, conditions, chosen):
    """Regularizer → [(epoch, mean test error)] at its chosen alpha."""
    curves = {}
    for name, alpha in chosen.items():
        runs = select(results.rows, regularizer=name, alpha=alpha, **conditions)
        curves[name] = [(epoch, mean_std([row["test_error"] for row in runs if row["epoch"] == epoch])[0])
                        for epoch in range(1, conditions["epochs"] + 1)]
    return curves


def claim_convergence(results):
    """Claim 2: test error per epoch at the best alphas, and the epochs each needs to reach a common error."""
    main_dataset = results.settings.main_dataset
    conditions = results.setting(main_dataset, "lenet")
    chosen = results.chosen(main_dataset, "lenet")
    if not chosen:
        return []
    curves = convergence_curves(results, conditions, chosen)
    # The worst final error among the regularizers: every curve reaches it.
    threshold = max(curve[-1][1] for curve in curves.values())
    epochs = range(1, conditions["epochs"] + 1)
    out = ["## 2. Convergence: test error per epoch at the best alphas "
           f"({SETTINGS_TITLES[(main_dataset, 'lenet')]})", "",
           f"'epochs to {100 * threshold:.2f} %': first epoch whose mean test error is at or below the worst "
           "final mean error among the regularizers (so every curve reaches it).", ""]
    rows = []
    for name, alpha in chosen.items():
        runs = select(results.rows, regularizer=name, alpha=alpha, **conditions)
        cells = [pct([row["test_error"] for row in runs if row["epoch"] == epoch]) for epoch in epochs]
        loss_mean, loss_std, _ = mean_std([row["train_loss"] for row in runs if row["epoch"] == 1])
        rows.append([LABELS[name], f"{alpha:g}"] + cells +
                    [f"{loss_mean:.3f} ± {loss_std:.3f}", epochs_to(curves[name], threshold)])
    header = (["regularizer", "alpha"] + [f"epoch {epoch}" for epoch in epochs]
              + ["train loss, epoch 1", f"epochs to {100 * threshold:.2f} %"])
    return out + [table(header, rows), ""]


def alpha_sensitivity(results, dataset, model):
    """Claim 3, first half: test error against alpha in one setting, and its spread across alphas."""
    conditions = results.setting(dataset, model)
    names = [name for name in WEIGHT_REGULARIZERS if results.alphas(name, **conditions)]
    if not names:
        return []
    alphas = sorted({alpha for name in names for alpha in results.alphas(name, **conditions)})
    none = results.final(regularizer="none", **conditions)
    out = [f"### Test error % against alpha ({SETTINGS_TITLES[(dataset, model)]})", "",
           f"No regularizer: {pct([row['test_error'] for row in none])} (n = {len(none)}).", ""]
    rows = []
    for alpha in alphas:
        cells = []
        for name in names:
            final = results.final(regularizer=name, alpha=alpha, **conditions)
            cells.append(f"{pct([row['test_error'] for row in final])} (n={len(final)})" if final else "")
        rows.append([f"{alpha:g}"] + cells)
    out += [table(["alpha"] + [LABELS[name] for name in names], rows), ""]
    spreads = []
    for name in names:
        name_alphas = results.alphas(name, **conditions)
        means = [mean_std([row["test_error"] for row in results.final(regularizer=name, alpha=alpha,
                                                                      **conditions)])[0]
                 for alpha in name_alphas]
        width, deviation = spread(means)
        spreads.append([LABELS[name], f"{min(name_alphas):g} … {max(name_alphas):g}", len(means),
                        f"{width:.2f}", f"{deviation:.2f}", f"{100 * min(means):.2f}", f"{100 * max(means):.2f}"])
    return out + ["Spread of the mean test error across alphas:", "",
                  table(["regularizer", "alphas", "count", "max − min (points)", "std (points)", "best %",
                         "worst %"], spreads), ""]


def batch_sensitivity(results):
    """Claim 3, second half: L2 and Norm Loss at their best alphas across batch sizes (learning rate fixed)."""
    settings = results.settings
    conditions = dict(dataset=settings.main_dataset, model="lenet", initializer="he", epochs=settings.epochs)
    chosen = results.chosen(settings.main_dataset, "lenet")
    rows = []
    spreads = []
    for name in ("l2", "normloss"):
        alpha = chosen.get(name)
        if alpha is None:
            continue
        sizes = sorted({row["batch_size"] for row in results.final(regularizer=name, alpha=alpha, **conditions)})
        if len(sizes) < 2:
            continue
        means = []
        for size in sizes:
            final = results.final(regularizer=name, alpha=alpha, batch_size=size, **conditions)
            means.append(mean_std([row["test_error"] for row in final])[0])
            rows.append([LABELS[name], f"{alpha:g}", size, pct([row["test_error"] for row in final]), len(final)])
        width, deviation = spread(means)
        spreads.append([LABELS[name], f"{alpha:g}", ", ".join(str(size) for size in sizes),
                        f"{width:.2f}", f"{deviation:.2f}"])
    if not rows:
        return []
    return [f"### Test error % against batch size ({SETTINGS_TITLES[(settings.main_dataset, 'lenet')]}, "
            f"learning rate fixed, {settings.epochs} epochs)", "",
            table(["regularizer", "alpha", "batch size", "test error %", "n"], rows), "",
            "Spread of the mean test error across batch sizes:", "",
            table(["regularizer", "alpha", "batch sizes", "max − min (points)", "std (points)"], spreads), ""]


def claim_sensitivity(results):
    """Claim 3: sensitivity to alpha (LeNet and all-conv) and to the batch size."""
    main_dataset = results.settings.main_dataset
    out = (alpha_sensitivity(results, main_dataset, "lenet") + alpha_sensitivity(results, main_dataset, "allconv")
           + batch_sensitivity(results))
    return ["## 3. Sensitivity to alpha and to the batch size", ""] + out if out else []


def claim_cost(timing_rows):
    """Claim 4: seconds per training step with each regularizer, and the regularizer's own share."""
    if not timing_rows:
        return []
    first = timing_rows[0]
    rows = [[LABELS[row["regularizer"]], f"{1000 * row['median_seconds_per_step']:.2f}",
             f"{row['ratio_to_none']:.3f}", f"{1e6 * row['regularizer_seconds_per_step']:.0f}",
             f"{100 * row['regularizer_share_of_step']:.2f}"] for row in timing_rows]
    return ["## 4. Seconds per training step (LeNet, batch "
            f"{int(first['batch_size'])}, one process, regularizers alternating in "
            f"{int(first['rounds'])} rounds of {int(first['steps_per_round'])} steps)", "",
            table(["regularizer", "median ms/step", "ratio to none", "regularizer's own work µs/step",
                   "own work % of step"], rows), ""]


def weight_norms_section(results, norm_rows):
    """Per-unit weight norms at the start and the end, from He and from the small initializer."""
    if not norm_rows:
        return []
    norm_alpha = results.settings.norm_alpha
    rows = []
    for initializer in ("he", "small"):
        for name in ("none", "l2", "normloss"):
            runs = [row for row in norm_rows if row["initializer"] == initializer and row["regularizer"] == name
                    and (name == "none" or row["alpha"] == norm_alpha)]
            if not runs:
                continue
            last_step = max(row["step"] for row in runs)
            start = [row for row in runs if row["step"] == 0]
            end = [row for row in runs if row["step"] == last_step]
            rows.append([initializer, LABELS[name], "—" if name == "none" else f"{norm_alpha:g}",
                         f"{statistics.fmean(r['weight_norm_mean'] for r in start):.3f} ± "
                         f"{statistics.fmean(r['weight_norm_std'] for r in start):.3f}",
                         f"{statistics.fmean(r['weight_norm_mean'] for r in end):.3f} ± "
                         f"{statistics.fmean(r['weight_norm_std'] for r in end):.3f}", last_step, len(start)])
    out = ["## Weight norms (LeNet, mean ± std of per-unit norms ‖w_o‖ over all kernels, seed-averaged)", "",
           table(["init", "regularizer", "alpha", "norm at step 0", "norm at the end", "steps", "n"], rows), ""]
    final_small = {}
    for name in ("none", "l2", "normloss"):
        runs = [row for row in results.final(initializer="small", regularizer=name, model="lenet")
                if name == "none" or row["alpha"] == norm_alpha]
        if runs:
            final_small[name] = runs
    if final_small:
        out += ["Test error % after the last epoch from the small initializer: " + ", ".join(
            f"{LABELS[name]} {pct([row['test_error'] for row in runs])} (n={len(runs)})"
            for name, runs in final_small.items()) + ".", ""]
    return out


def failed_runs_section(failed_records):
    """The runs that raised instead of finishing (they are in no table above)."""
    if not failed_records:
        return []
    rows = [[record["run_id"], record.get("executed_on", ""), " ".join(record["error"].split()).replace("|", "\\|")]
            for record in failed_records]
    return ["## Failed runs", "",
            f"{len(failed_records)} runs raised an error and appear in no table above. Delete a run's file "
            "in `runs/` to run it again.", "",
            table(["run", "executed on", "error"], rows), ""]


def summary_markdown(results, timing_rows, norm_rows, failed_records=()):
    """The whole ``summary.md``: the introduction, then one section per claim."""
    sections = (introduction() + claim_accuracy(results) + claim_convergence(results)
                + claim_sensitivity(results) + claim_cost(timing_rows) + weight_norms_section(results, norm_rows)
                + failed_runs_section(list(failed_records)))
    return "\n".join(sections)
