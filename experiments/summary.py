"""``summary.md``: the design, then one section per claim of the Norm Loss paper (Georgiou et al.,
ICPR 2020), each computed from the result rows (``results.csv`` read back), ``timing.csv`` and
``weight_norms.csv``:

    the design and what of it has finished                    design_section
    the positive control: does coupled L2 act at all?         control_section
    selection: validation error against alpha, chosen alphas  selection_section
    1. accuracy comparable to or better than weight decay     claim_accuracy
    2. faster convergence                                     claim_convergence
    3. less sensitivity to alpha and to the batch size        claim_sensitivity
    4. negligible extra computation                           claim_cost
    per-layer unit norms                                      unit_norms_section
    runs that failed                                          failed_runs_section

Errors are in percent. "±" after a mean is the sample standard deviation over seeds; an
interval in brackets is a 95 % t confidence interval (``experiments/paired.py``).
"""
import math

from experiments.grid import (MOMENTUM, VALIDATION_SIZE, allconv_key, dependent_specs, independent_specs,
                              selected_experiments, selection_specs)
from experiments.paired import holm, interval, paired_difference, seeds_to_resolve
from experiments.results import LAYER_COLUMNS, epochs_to, mean_std, select

LABELS = {"none": "none", "l1": "L1", "l2": "L2", "normloss": "Norm Loss", "normloss_coupled": "Norm Loss (coupled)",
          "l2_coupled": "L2 (coupled)"}
LAYER_NAMES = {"lenet": ("conv1", "conv2", "fc1", "fc2", "fc3"),
               "allconv": ("conv1", "conv2", "conv3", "conv4", "classifier")}
# The paired comparisons of claim 1: (arm, reference).
COMPARISONS = (("normloss", "none"), ("normloss", "l2"), ("normloss_coupled", "l2"), ("normloss_coupled", "normloss"),
               ("l2", "none"), ("l1", "none"), ("l2_coupled", "l2"), ("normloss_coupled", "l2_coupled"))


def pct(values):
    """'12.34 ± 0.56' (percent) from error fractions."""
    mean, std, _ = mean_std(values)
    return f"{100 * mean:.2f} ± {100 * std:.2f}"


def resolvable_cell(difference, scale=100, digits=2):
    """The smallest resolvable effect of an Interval (times ``scale``), or '—' without two values."""
    return "—" if difference.n < 2 else f"{scale * difference.resolvable:.{digits}f}"


def ci_cell(difference, scale=100, digits=2):
    """'−0.12 [−0.30, +0.06]' of an Interval (times ``scale``), or '—' without two values."""
    if difference.n < 2:
        return "—"
    return (f"{scale * difference.mean:+.{digits}f} [{scale * difference.low:+.{digits}f}, "
            f"{scale * difference.high:+.{digits}f}]")


def table(header, rows):
    """A Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def settings_titles(results):
    """(title, conditions, seeds) of each confirmation setting that has runs."""
    settings = results.settings
    allconv_alphas_from = "its own selection" if settings.allconv_selection_seeds else "LeNet"
    candidates = [(f"Fashion-MNIST, LeNet ({settings.epochs} epochs)", results.lenet(), settings.confirmation_seeds),
                  (f"MNIST, LeNet ({settings.epochs} epochs, alphas chosen on Fashion-MNIST)",
                   results.lenet(settings.second_dataset), settings.mnist_seeds),
                  (f"Fashion-MNIST, all-conv + BN ({settings.allconv_epochs} epochs, alphas chosen on "
                   f"{allconv_alphas_from})", results.allconv(), settings.allconv_seeds)]
    return [(title, conditions, seeds) for title, conditions, seeds in candidates
            if results.final(seeds, **conditions)]


def arms_present(results, conditions, seeds, chosen):
    """Arm → alpha of the arms with runs at their chosen alpha in a setting, in the design's order."""
    return {arm: chosen[arm] for arm in results.settings.arms
            if arm in chosen and results.final(seeds, arm=arm, alpha=chosen[arm], **conditions)}


def design_section(results, finished_ids):
    """What the grid is, its size, and how much of it has finished."""
    settings = results.settings
    experiments = [name for name in selected_experiments(None) if name != "timing"]
    selection = selection_specs(settings)
    every = {spec.run_id: spec for spec in independent_specs(settings, experiments)
             + dependent_specs(settings, experiments, {**{arm: 1.0 for arm in settings.arms},
                                                       **{allconv_key(arm): 1.0 for arm in settings.arms},
                                                       **results.every_chosen_alpha()})}
    by_experiment = {}
    for spec in every.values():
        by_experiment.setdefault(spec.experiment, []).append(spec)
    rows = [[name, len(specs), sum(spec.run_id in finished_ids for spec in specs)]
            for name, specs in by_experiment.items()]
    complete = len(selection) == sum(spec.run_id in finished_ids for spec in selection)
    note = ("" if complete else " The selection is unfinished, so the confirmation counts assume every "
            "regularized arm gets an alpha.")
    seeds = lambda values: ", ".join(str(seed) for seed in values)  # noqa: E731 - a one-line helper
    what = []
    if settings.control_settings and settings.control_seeds:
        what.append("Positive control: " + ", ".join(LABELS[arm] for arm in settings.control_arms) + " at alphas "
                    + ", ".join(f"{alpha:.3g}" for alpha in settings.control_alphas) + " on "
                    + ", ".join(f"{size} training images × {epochs} epochs" for size, epochs in settings.control_settings)
                    + f", seeds {seeds(settings.control_seeds)}; fixed in advance, nothing is chosen from it.")
    if settings.selection_seeds:
        what.append(f"Selection: every regularized arm at alphas {', '.join(f'{alpha:.3g}' for alpha in settings.alphas)}"
                    + (f" (Norm Loss's arms further on: "
                       f"{', '.join(f'{alpha:.3g}' for alpha in settings.norm_loss_further)})"
                       if settings.norm_loss_further else "")
                    + f" on seeds {seeds(settings.selection_seeds)}; each arm's alpha is the one with the lowest mean "
                    "validation error.")
    if settings.allconv_selection_seeds:
        what.append(f"The all-conv network with batch norm has its own selection, at alphas "
                    f"{', '.join(f'{alpha:.3g}' for alpha in settings.allconv_alphas)} on seeds "
                    f"{seeds(settings.allconv_selection_seeds)}, and its confirmation on seeds "
                    f"{seeds(settings.allconv_seeds)}.")
    if settings.confirmation_seeds:
        what.append(f"Confirmation: every arm at its chosen alpha on seeds {min(settings.confirmation_seeds)}–"
                    f"{max(settings.confirmation_seeds)}, paired (same initial weights and batch order per seed). "
                    "The test set chooses nothing.")
    return ["## Design", "",
            f"SGD with momentum {MOMENTUM}, peak learning rate {settings.learning_rate} at batch "
            f"{settings.batch_size}, cosine decay per step to near zero, mean cross-entropy, float32, He "
            f"initialization. Training: the first {settings.train_size} training images (the control: its own "
            f"sizes); validation: the last {VALIDATION_SIZE}. Arms: {', '.join(LABELS[arm] for arm in settings.arms)} "
            "(decoupled: shrinkage of the current weights; coupled: the penalty's gradient through momentum).", "",
            " ".join(what), "",
            "Runs of each experiment (finished of planned):" + note, "",
            table(["experiment", "runs", "finished"], rows), ""]


# The positive control's gate (docs/norm_loss_preregistration.md): coupled L2 − none on validation
# error at most this many points, with the 95 % interval below 0.
CONTROL_GATE_POINTS = -0.5
# The effects the pilot's spread is turned into confirmation seeds for (points).
CONTROL_EFFECTS = (0.4, 0.5)


def control_section(results):
    """The positive control: per (train size, epochs) and control alpha, each arm's final validation and
    test error, the paired difference L2 (coupled) − none of validation error, and whether it passes the gate."""
    settings = results.settings
    reference, treated = settings.control_arms[0], settings.control_arms[-1]
    seeds = settings.control_seeds
    out = []
    for train_size, epochs in settings.control_settings:
        conditions = dict(dataset=settings.main_dataset, model="lenet", initializer="he", epochs=epochs,
                          batch_size=settings.batch_size, train_size=train_size)
        none = results.final(seeds, arm=reference, **conditions)
        rows = [[LABELS[reference], "0", len(none), pct([row["validation_error"] for row in none]),
                 pct([row["test_error"] for row in none])]] if none else []
        verdicts = []
        for alpha in settings.control_alphas:
            final = results.final(seeds, arm=treated, alpha=alpha, **conditions)
            if not final:
                continue
            rows.append([LABELS[treated], f"{alpha:.3g}", len(final), pct([row["validation_error"] for row in final]),
                         pct([row["test_error"] for row in final])])
            difference = paired_difference(
                results.by_seed("validation_error", seeds, arm=treated, alpha=alpha, **conditions),
                results.by_seed("validation_error", seeds, arm=reference, **conditions))
            if difference.n < 2:
                verdict = "not enough paired seeds yet"
            elif 100 * difference.mean <= CONTROL_GATE_POINTS and difference.high < 0:
                verdict = "passes the gate"
            else:
                verdict = "does not pass the gate"
            needed = ("—" if difference.n < 2 else ", ".join(
                f"{seeds_to_resolve(difference.sd * 100, effect)} for {effect}" for effect in CONTROL_EFFECTS))
            verdicts.append([f"{alpha:.3g}", difference.n, ci_cell(difference),
                             "—" if difference.n < 2 else f"{100 * difference.sd:.2f}", needed, verdict])
        if not rows:
            continue
        out += [f"### {train_size} training images × {epochs} epochs", "",
                table(["arm", "alpha", "n", "validation error %", "test error %"], rows), ""]
        if verdicts:
            out += [f"{LABELS[treated]} − {LABELS[reference]}, validation error after the last epoch (points, paired "
                    "by seed):", "",
                    table(["alpha", "n", "mean [95 % CI]", "sd of the differences",
                           "paired seeds to resolve (points, 80 % power)", "gate"], verdicts), ""]
    if not out:
        return []
    return ["## Positive control: does coupled L2 act here?", "",
            f"Gate: {LABELS[treated]} − {LABELS[reference]} at most {CONTROL_GATE_POINTS} points of validation "
            "error (the mean of the paired differences), with its 95 % interval below 0.", ""] + out


def selection_runs(results, model="lenet"):
    """(conditions, seeds, the regularized arms with selection runs, their chosen alphas, every alpha
    among those runs) of the selection of ``model``; None before it has runs."""
    arms = [arm for arm in results.settings.regularized_arms if results.selection_alphas(arm, model)]
    if not arms:
        return None
    conditions, seeds = results.selection_of(model)
    return (conditions, seeds, arms, results.chosen_alphas(model),
            sorted({alpha for arm in arms for alpha in results.selection_alphas(arm, model)}))


def selection_rows(results, cells, model="lenet"):
    """One table row per selection alpha of ``model``: the alpha, then ``cells(final_rows, mark)`` of
    each arm (its runs' last-epoch rows at that alpha; mark " ←" at its chosen alpha, else "")."""
    conditions, seeds, arms, chosen, alphas = selection_runs(results, model)
    return [[f"{alpha:.3g}"] + [cell for arm in arms
                                for cell in cells(results.final(seeds, arm=arm, alpha=alpha, **conditions),
                                                  " ←" if chosen.get(arm) == alpha else "")]
            for alpha in alphas]


def selection_section(results):
    """Validation error against alpha for every arm, and the chosen alphas."""
    if selection_runs(results) is None:
        return []
    conditions, seeds, arms, chosen, _ = selection_runs(results)
    rows = selection_rows(results, lambda final, mark: [
        f"{100 * mean_std([row['validation_error'] for row in final])[0]:.2f}{mark}" if final else ""])
    none = results.final(seeds, arm="none", **conditions)
    out = ["## Selection: validation error (%) against alpha (Fashion-MNIST, LeNet)", "",
           f"Mean over the selection seeds ({', '.join(str(seed) for seed in seeds)}); ← marks the chosen alpha. "
           f"No regularizer: {100 * mean_std([row['validation_error'] for row in none])[0]:.2f} "
           f"(n = {len(none)}).", "",
           table(["alpha"] + [LABELS[arm] for arm in arms], rows), ""]
    # How wide the good range is, over the alphas every arm has (so that the arms are counted alike):
    # how many come within 0.5 points of the arm's best, and the contiguous plateau around it.
    common = sorted(set.intersection(*(set(results.selection_alphas(arm)) for arm in arms)))
    width_rows = []
    for arm in arms:
        means = {alpha: mean_std([row["validation_error"] for row in
                                  results.final(seeds, arm=arm, alpha=alpha, **conditions)])[0]
                 for alpha in common}
        best = mean_std([row["validation_error"] for row in
                         results.final(seeds, arm=arm, alpha=chosen[arm], **conditions)])[0]
        good = [alpha for alpha in common if means[alpha] <= best + 0.005]
        plateau, width = "—", "—"
        if chosen[arm] in common:
            start = end = common.index(chosen[arm])
            while start > 0 and common[start - 1] in good:
                start -= 1
            while end < len(common) - 1 and common[end + 1] in good:
                end += 1
            plateau = f"{common[start]:.3g} … {common[end]:.3g}"
            width = f"{math.log10(common[end] / common[start]):.1f}" if common[start] > 0 else "—"
        shrinkage = mean_std([row["shrinkage_per_step"] for row in
                              results.final(seeds, arm=arm, alpha=chosen.get(arm), **conditions)])[0]
        width_rows.append([LABELS[arm], f"{chosen[arm]:.3g}", f"{100 * best:.2f}", len(good), plateau, width,
                           f"{100 * max(means.values()):.2f}", f"{shrinkage:.2e}"])
    return out + [f"Sensitivity to alpha, over the {len(common)} alphas every arm has: how many come within 0.5 "
                  "points of the arm's best mean validation error, the contiguous plateau of such alphas "
                  "around the chosen one and its width in decades, and the relative shrinkage per step at the chosen "
                  "alpha (mean |η̄·g| / |w| per unit at the final weights; coupled arms times 1/(1 − μ)):", "",
                  table(["arm", "chosen alpha", "best validation %", f"of the {len(common)} alphas within 0.5 points",
                         "contiguous plateau", "its width, decades", "worst validation % over them",
                         "shrinkage per step"], width_rows), ""]


def claim_accuracy(results):
    """Claim 1: test error of each arm at its chosen alpha on the confirmation seeds, and the paired
    differences that decide the claim."""
    chosen = results.chosen_alphas()
    out = []
    for title, conditions, seeds in settings_titles(results):
        present = arms_present(results, conditions, seeds, chosen)
        if not present:
            continue
        rows = []
        for arm, alpha in present.items():
            final = results.final(seeds, arm=arm, alpha=alpha, **conditions)
            rows.append([LABELS[arm], "—" if arm == "none" else f"{alpha:.3g}",
                         pct([row["validation_error"] for row in final]), pct([row["test_error"] for row in final]),
                         len(final)])
        tested = []
        for arm, reference in COMPARISONS:
            if arm not in present or reference not in present:
                continue
            difference = paired_difference(
                results.by_seed("test_error", seeds, arm=arm, alpha=present[arm], **conditions),
                results.by_seed("test_error", seeds, arm=reference, alpha=present[reference], **conditions))
            if difference.n >= 2:
                tested.append((arm, reference, difference))
        adjusted = holm([difference.p_value for _, _, difference in tested])
        differences = []
        for (arm, reference, difference), holm_p in zip(tested, adjusted):
            verdict = ("resolved: " + ("lower" if difference.high < 0 else "higher")) if difference.excludes_zero \
                else "not resolved"
            differences.append([f"{LABELS[arm]} − {LABELS[reference]}", difference.n, ci_cell(difference),
                                f"{100 * difference.sd:.2f}", f"{100 * difference.half_width:.2f}",
                                f"{100 * difference.resolvable:.2f}", f"{difference.p_value:.3f}", f"{holm_p:.3f}",
                                verdict])
        out += [f"### {title}", "",
                table(["arm", "alpha", "validation error %", "test error %", "n"], rows), ""]
        if differences:
            out += ["Paired differences of test error (points; arm − reference, seed by seed); p: two-sided "
                    f"paired t test; Holm p: adjusted for the {len(differences)} differences of this table:", "",
                    table(["difference", "n", "mean [95 % CI]", "sd of the differences", "CI half-width",
                           "smallest resolvable effect (80 % power)", "p", "Holm p", "verdict"], differences), ""]
    return ["## 1. Accuracy: test error at the chosen alphas, confirmation seeds", ""] + out if out else []


def claim_convergence(results):
    """Claim 2: data loss and test error per epoch with intervals, and epochs to a common target."""
    settings = results.settings
    conditions = results.lenet()
    seeds = settings.confirmation_seeds
    present = arms_present(results, conditions, seeds, results.chosen_alphas())
    if not present:
        return []
    epochs = range(1, settings.epochs + 1)
    loss_rows, error_rows = [], []
    finals = {}
    for arm, alpha in present.items():
        loss_cells, error_cells = [], []
        for epoch in epochs:
            losses = interval(results.by_seed("data_loss", seeds, epoch, arm=arm, alpha=alpha, **conditions).values())
            errors = interval(results.by_seed("test_error", seeds, epoch, arm=arm, alpha=alpha,
                                              **conditions).values())
            loss_cells.append(f"{losses.mean:.4f} ± {losses.half_width:.4f}")
            error_cells.append(f"{100 * errors.mean:.2f} ± {100 * errors.half_width:.2f}")
            finals[arm] = errors.mean
        loss_rows.append([LABELS[arm]] + loss_cells)
        error_rows.append([LABELS[arm]] + error_cells)
    # The worst final mean test error among the arms: every arm's mean curve reaches it.
    target = max(finals.values())
    reach_rows = []
    for arm, alpha in present.items():
        runs = select(results.rows, seeds, arm=arm, alpha=alpha, **conditions)
        per_seed = []
        for seed in sorted({row["seed"] for row in runs}):
            curve = sorted((row["epoch"], row["test_error"]) for row in runs if row["seed"] == seed and row["epoch"] > 0)
            reached = epochs_to(curve, target)
            per_seed.append(math.nan if reached is None else reached)
        reached = interval(per_seed)
        reach_rows.append([LABELS[arm], f"{reached.mean:.2f}" if reached.n else "—",
                           sum(math.isnan(value) for value in per_seed), len(per_seed)])
    header = ["arm"] + [f"epoch {epoch}" for epoch in epochs]
    return ["## 2. Convergence (Fashion-MNIST, LeNet, confirmation seeds)", "",
            "Training data loss (mean cross-entropy of the epoch's batches, without the penalty; mean ± 95 % CI "
            "half-width over seeds):", "", table(header, loss_rows), "",
            "Test error % after each epoch (mean ± 95 % CI half-width):", "", table(header, error_rows), "",
            f"Epochs to reach {100 * target:.2f} % test error (the worst final mean among the arms), per seed: "
            "the mean epoch over the seeds that reach it, and how many do not:", "",
            table(["arm", "mean epochs", "seeds that never reach it", "seeds"], reach_rows), ""]


def batch_sensitivity(results):
    """Claim 3, second half: L2 and Norm Loss across batch sizes, learning rate ∝ batch size, alpha kept."""
    settings = results.settings
    chosen = results.chosen_alphas()
    seeds = settings.batch_seeds
    sizes = sorted({settings.batch_size, *settings.batch_sizes})
    rows, differences = [], []
    for size in sizes:
        conditions = results.lenet(batch_size=size)
        by_arm = {}
        for arm in settings.batch_arms:
            if arm not in chosen:
                continue
            final = results.final(seeds, arm=arm, alpha=chosen[arm], **conditions)
            if final:
                by_arm[arm] = results.by_seed("test_error", seeds, arm=arm, alpha=chosen[arm], **conditions)
                rows.append([size, f"{settings.learning_rate * size / settings.batch_size:g}", LABELS[arm],
                             f"{chosen[arm]:.3g}", pct([row["test_error"] for row in final]), len(final)])
        if len(by_arm) == 2:
            first, second = settings.batch_arms
            difference = paired_difference(by_arm[second], by_arm[first])
            differences.append([size, f"{LABELS[second]} − {LABELS[first]}", difference.n, ci_cell(difference)])
    if not rows:
        return []
    return ["### Batch size (Fashion-MNIST, LeNet; peak learning rate ∝ batch size; alpha kept per step)", "",
            "The same number of epochs at every batch size; the decoupled shrinkage per step is η·α·g(w) with η "
            "scaled like the batch size and the steps per epoch inversely, so the shrinkage per epoch is the same "
            f"at every batch size. Seeds {', '.join(str(seed) for seed in seeds)}.", "",
            table(["batch size", "peak learning rate", "arm", "alpha", "test error %", "n"], rows), ""] + (
                ["Paired differences of test error (points):", "",
                 table(["batch size", "difference", "n", "mean [95 % CI]"], differences), ""] if differences else [])


def claim_sensitivity(results):
    """Claim 3: sensitivity to alpha (the selection section has the curves) and to the batch size."""
    out = batch_sensitivity(results)
    return ["## 3. Sensitivity to the batch size", "", *out] if out else []


def claim_cost(timing_rows):
    """Claim 4: seconds per training step with each regularizer, per model, load windows excluded."""
    if not timing_rows:
        return []
    out = ["## 4. Seconds per training step (one process, regularizers alternating, after the grid)", ""]
    for model in dict.fromkeys(row["model"] for row in timing_rows):
        rows_of_model = [row for row in timing_rows if row["model"] == model]
        first = rows_of_model[0]
        rows = [[LABELS[row["regularizer"]], f"{1000 * row['median_seconds_per_step']:.2f}",
                 f"{row['ratio_to_none']:.3f}", f"{1e6 * row['regularizer_seconds_per_step']:.0f}",
                 f"{100 * row['regularizer_share_of_step']:.2f}"] for row in rows_of_model]
        out += [f"{model}, batch {int(first['batch_size'])}: {int(first['rounds'])} rounds of "
                f"{int(first['steps_per_round'])} steps, {int(first['excluded_rounds'])} excluded as load windows "
                "(CPU time under 90 % of wall time, or wall time more than 15 % off the median round).", "",
                table(["regularizer", "median ms/step", "ratio to none", "regularizer's own work µs/step",
                       "own work % of step"], rows), ""]
    return out


def unit_norms_section(results):
    """Final per-layer mean unit norms per arm (confirmation seeds), LeNet and all-conv."""
    chosen = results.chosen_alphas()
    out = []
    for title, conditions, seeds in settings_titles(results):
        if conditions["dataset"] != results.settings.main_dataset:
            continue
        present = arms_present(results, conditions, seeds, chosen)
        rows = []
        for arm, alpha in present.items():
            final = results.final(seeds, arm=arm, alpha=alpha, **conditions)
            initial = [row for row in select(results.rows, seeds, arm=arm, alpha=alpha, **conditions)
                       if row["epoch"] == 0]
            cells = []
            for column in LAYER_COLUMNS:
                start = mean_std([row[column] for row in initial])[0]
                end, spread, _ = mean_std([row[column] for row in final])
                cells.append(f"{start:.2f} → {end:.2f} ± {spread:.2f}")
            rows.append([LABELS[arm]] + cells)
        if rows:
            out += [f"### {title}", "", table(["arm"] + list(LAYER_NAMES[conditions["model"]]), rows), ""]
    if not out:
        return []
    return ["## Per-layer mean unit norms ‖w_o‖ (initialization → end, mean ± sd over seeds)", "",
            "Norm Loss pulls each unit's norm towards 1; the mean over all units is dominated by the fully "
            "connected layers, so each layer is shown apart (figure unit_norms_per_layer.png).", ""] + out


def verdict(difference, lower="lower", higher="higher"):
    """'lower' / 'higher' when the 95 % interval excludes 0, else 'not resolved'."""
    if difference.n < 2:
        return "too few seeds"
    if not difference.excludes_zero:
        return "not resolved"
    return lower if difference.high < 0 else higher


def paired(results, column, seeds, arm, reference, alphas, conditions, epoch=None):
    """:func:`paired_difference` of ``column`` between two arms at their alphas in one setting."""
    return paired_difference(results.by_seed(column, seeds, epoch, arm=arm, alpha=alphas[arm], **conditions),
                             results.by_seed(column, seeds, epoch, arm=reference, alpha=alphas[reference],
                                             **conditions))


def verdicts_section(results):
    """The interval that decides each claim, in one table (points of test error, or of data loss)."""
    settings = results.settings
    chosen = results.chosen_alphas()
    rows = []
    for title, conditions, seeds in settings_titles(results):
        present = arms_present(results, conditions, seeds, chosen)
        for arm, reference, claim in (("normloss", "l2", "1: accuracy vs weight decay"),
                                      ("normloss_coupled", "l2_coupled", "1: accuracy vs weight decay, coupled"),
                                      ("normloss", "none", "1: accuracy vs no regularizer"),
                                      ("normloss_coupled", "normloss", "coupled vs decoupled Norm Loss")):
            if arm in present and reference in present:
                difference = paired(results, "test_error", seeds, arm, reference, present, conditions)
                rows.append([claim, title.split(" (")[0], f"{LABELS[arm]} − {LABELS[reference]}", "test error",
                             difference.n, ci_cell(difference), resolvable_cell(difference), verdict(difference)])
    conditions = results.lenet()
    seeds = settings.confirmation_seeds
    present = arms_present(results, conditions, seeds, chosen)
    if "normloss" in present and "l2" in present:
        for column, scale, what in (("test_error", 100, "test error after epoch 1"),
                                    ("data_loss", 1, "data loss in epoch 1")):
            difference = paired(results, column, seeds, "normloss", "l2", present, conditions, epoch=1)
            rows.append(["2: faster convergence", "Fashion-MNIST, LeNet", "Norm Loss − L2", what, difference.n,
                         ci_cell(difference, scale, 2 if scale == 100 else 4),
                         resolvable_cell(difference, scale, 2 if scale == 100 else 4),
                         verdict(difference, "lower (faster)", "higher (slower)")])
    for size in sorted(settings.batch_sizes):
        batch_conditions = results.lenet(batch_size=size)
        if all(results.final(settings.batch_seeds, arm=arm, alpha=chosen[arm], **batch_conditions)
               for arm in ("normloss", "l2") if arm in chosen) and {"normloss", "l2"} <= set(chosen):
            difference = paired(results, "test_error", settings.batch_seeds, "normloss", "l2", chosen,
                                batch_conditions)
            rows.append(["3: batch size", f"Fashion-MNIST, LeNet, batch {size}", "Norm Loss − L2", "test error",
                         difference.n, ci_cell(difference), resolvable_cell(difference), verdict(difference)])
    if not rows:
        return []
    return ["## Verdicts: the intervals that decide", "",
            "Paired differences (arm − reference, seed by seed) with 95 % t intervals; points of test error "
            "(or data loss). 'not resolved': the interval contains 0; the smallest resolvable effect is the "
            "true difference this design detects with 80 % power.", "",
            table(["claim", "setting", "difference", "measure", "n", "mean [95 % CI]",
                   "smallest resolvable effect", "verdict"], rows), ""]


# Multiply-adds of one forward pass per image. LeNet: conv1 28²·6·25 = 117 600, conv2 14²·16·150 =
# 470 400, fc 784·120 + 120·84 + 84·10 = 105 000. All-conv (width 16): 28²·16·9 + 14²·16·144 +
# 14²·32·144 + 7²·32·288 + 7²·10·32 = 1 934 912.
FORWARD_MULTIPLY_ADDS = {"lenet": 693_000, "allconv": 1_934_912}
# The paper's networks on 32x32 CIFAR images, forward multiply-adds per image as usually cited
# (ResNet-110: He et al. 2016; WRN-28-10: Zagoruyko and Komodakis 2016).
PAPER_NETWORKS = {"ResNet-110": 0.253e9, "WRN-28-10": 5.25e9}
PAPER_EPOCHS = 200
PAPER_TRAINING_IMAGES = 50_000
# A training step costs about three forward passes (forward, input gradient, weight gradient).
TRAINING_FACTOR = 3
# Effective throughput assumed for one current data-centre GPU (H100/H200 class, mixed precision) on
# these CIFAR networks: a few per cent of its dense peak, as 32x32 images with thin layers and batch
# norm leave it mostly memory-bound; the thin ResNet-110 reaches less than the wide WRN.
GPU_FLOPS = {"ResNet-110": 10e12, "WRN-28-10": 50e12}


def paper_setting_section(timing_rows, resolvable_sd=(0.3, 0.5), effect=0.4):
    """What the paper's setting would cost: FLOPs per run, this framework's measured speed, one GPU."""
    speeds = {}
    for row in timing_rows:
        if row["regularizer"] == "none" and row["model"] in FORWARD_MULTIPLY_ADDS:
            flops = 2 * TRAINING_FACTOR * FORWARD_MULTIPLY_ADDS[row["model"]] * row["batch_size"]
            speeds[row["model"]] = flops / row["median_seconds_per_step"]
    if not speeds:
        return []
    # The 3x3 convolutions with batch norm of the all-conv net are the closer model of a ResNet.
    framework_flops = speeds.get("allconv", min(speeds.values()))
    seeds = {sd: seeds_to_resolve(sd, effect) for sd in resolvable_sd}
    runs = {sd: 2 * 5 * 2 + 2 * count for sd, count in seeds.items()}
    rows = []
    for name, multiply_adds in PAPER_NETWORKS.items():
        per_run = 2 * TRAINING_FACTOR * multiply_adds * PAPER_TRAINING_IMAGES * PAPER_EPOCHS
        here_days = per_run / framework_flops / 86400
        gpu_hours = per_run / GPU_FLOPS[name] / 3600
        rows.append([name, f"{multiply_adds / 1e9:.3g}", f"{per_run:.2e}", f"{here_days:,.0f}",
                     f"{gpu_hours:.1f}", " / ".join(f"{runs[sd] * gpu_hours:,.0f}" for sd in resolvable_sd)])
    measured = ", ".join(f"{model} {flops / 1e9:.1f} GFLOP/s" for model, flops in speeds.items())
    return ["## What the paper's setting would need (CIFAR-10/100, ResNet-110, WRN-28-10)", "",
            f"Measured here (one core, the timing's median step without a regularizer, counting 2 · "
            f"{TRAINING_FACTOR} · forward multiply-adds per training image): {measured}. A run is "
            f"{PAPER_EPOCHS} epochs of {PAPER_TRAINING_IMAGES} images. To resolve a {effect}-point effect "
            "(the paper's) with 80 % power takes the fewest n with (t(0.975, n − 1) + t(0.80, n − 1)) · sd_d / √n ≤ "
            f"{effect}: "
            + ", ".join(f"{seeds[sd]} for sd_d = {sd} points" for sd in resolvable_sd)
            + "; a study is then weight decay and Norm Loss at 5 alphas × 2 selection seeds plus n confirmation "
            "seeds each, per dataset. One GPU is assumed to sustain "
            + ", ".join(f"{flops / 1e12:.0f} TFLOP/s on {name}" for name, flops in GPU_FLOPS.items()) + ".", "",
            table(["network", "forward GMAC / image", "FLOP per run", "days per run here (one core)",
                   "GPU hours per run", "GPU hours per study and dataset (" + " / ".join(
                       f"sd_d {sd}" for sd in resolvable_sd) + ")"], rows), ""]


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


def summary_head(results, failed_records=()):
    """The title, the design and the positive control: what every study's summary.md starts with."""
    finished_ids = {row["run_id"] for row in results.rows} | {record["run_id"] for record in failed_records}
    title = ", ".join(LABELS[arm] for arm in results.settings.arms)
    return [f"# normnet compare: {title}", ""] + design_section(results, finished_ids) + control_section(results)


def summary_markdown(results, timing_rows, failed_records=()):
    """The whole ``summary.md`` of the first study: the design, the selection, then one section per
    claim (the second study's is ``experiments.preregistered.summary_markdown``)."""
    body = (verdicts_section(results) + selection_section(results) + claim_accuracy(results)
            + claim_convergence(results) + claim_sensitivity(results) + claim_cost(timing_rows)
            + unit_norms_section(results) + paper_setting_section(timing_rows))
    return "\n".join(summary_head(results, failed_records) + body + failed_runs_section(list(failed_records)))
