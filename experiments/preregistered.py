"""The second study's sections of ``summary.md``: each stage's pre-registered analysis
(``docs/norm_loss_preregistration.md``, computed by ``experiments/inference.py``) and its verdict.

    S1  selection: validation error against alpha and effective strength; plateau widths (claim 3a)
    S2  confirmation: the control again, TOST and superiority (claim 1), curve areas (claim 2)
    S3  batch size: the per-seed interaction (claim 3b)
    S4  the all-conv network with batch norm: its own selection and confirmation, as S1 and S2

Errors are in percent, differences in points; a section appears once its stage has runs.
"""
import dataclasses
import math

from experiments.grid import (MOMENTUM, allconv_selection_specs, allconv_specs, batch_specs, confirmation_specs,
                              selection_specs)
from experiments.inference import (NEVER_TRAINED, batch_interaction, cosine_mean_learning_rate, effective_strength,
                                   equilibrium_steps, equivalence, paired_curve_areas, plateau_widths, superiority,
                                   untrained_seeds)
from experiments.paired import holm, interval, paired_difference
from experiments.summary import (LABELS, arms_present, ci_cell, claim_cost, failed_runs_section, pct, selection_rows,
                                 selection_runs, summary_head, table, unit_norms_section)

# Stated in advance (docs/norm_loss_preregistration.md).
EQUIVALENCE_MARGIN = 0.004        # ±0.4 points of test error
PLATEAU_TOLERANCE = 0.005         # 0.5 points of validation error
INSENSITIVE = 0.004               # L2's own change at a batch size within ±0.4 points: nothing to reduce
MODELS = {"lenet": "LeNet", "allconv": "all-conv + BN"}
L2, NORMLOSS = "l2_coupled", "normloss_coupled"


def steps_of(row):
    """Training steps of the run a result row belongs to (ceil(train_size / batch_size) per epoch)."""
    return math.ceil(row["train_size"] / row["batch_size"]) * row["epochs"]


def interval_verdict(summary, positive, negative):
    """``positive`` when the interval lies below 0, ``negative`` when above, else 'not resolved'."""
    if summary.n < 2:
        return "not enough seeds"
    return positive if summary.high < 0 else negative if summary.low > 0 else "not resolved"


def plateau_analysis(results, model="lenet"):
    """Claim 3a's numbers: arm → (Interval of plateau widths on nominal α, on effective strength),
    and the paired Norm Loss − L2 differences on both axes with the verdict (None without both arms)."""
    conditions, seeds, arms, _, _ = selection_runs(results, model)
    widths = {}
    for arm in arms:
        final = [row for alpha in results.selection_alphas(arm, model)
                 for row in results.final(seeds, arm=arm, alpha=alpha, **conditions)]
        nominal = {seed: [(row["alpha"], row["validation_error"]) for row in final if row["seed"] == seed]
                   for seed in seeds}
        strength = {seed: [(effective_strength(row["shrinkage_per_step"], steps_of(row)), row["validation_error"])
                           for row in final if row["seed"] == seed and row["shrinkage_per_step"] > 0]
                    for seed in seeds}
        widths[arm] = (plateau_widths(nominal, PLATEAU_TOLERANCE), plateau_widths(strength, PLATEAU_TOLERANCE))
    if not {NORMLOSS, L2} <= set(widths):
        return widths, None, None
    differences = [paired_difference(widths[NORMLOSS][axis][0], widths[L2][axis][0]) for axis in (0, 1)]
    decided = [interval_verdict(difference, "not supported", "supported") for difference in differences]
    verdict = ("supported" if decided == ["supported"] * 2 else "not supported" if "not supported" in decided
               else "not resolved")
    return widths, differences, verdict


def selection_stage(results, model="lenet", name="S1"):
    """S1 (S4 for the all-conv network): validation error against alpha per arm, the chosen alphas,
    plateau widths (claim 3a)."""
    if selection_runs(results, model) is None:
        return []
    conditions, seeds, arms, _, _ = selection_runs(results, model)

    def cells(final, mark):
        if not final:
            return ["", ""]
        strength = [effective_strength(row["shrinkage_per_step"], steps_of(row)) for row in final]
        return [f"{100 * interval([row['validation_error'] for row in final]).mean:.2f}{mark}",
                f"{interval(strength).mean:.3g}"]

    rows = selection_rows(results, cells, model)
    none = results.final(seeds, arm="none", **conditions)
    widths, differences, verdict = plateau_analysis(results, model)
    width_rows = [[LABELS[arm]] + [f"{summary.mean:.2f} [{summary.low:.2f}, {summary.high:.2f}]"
                                   if summary.n > 1 else f"{summary.mean:.2f}"
                                   for (_, summary) in widths[arm]] for arm in arms]
    out = [f"## {name}: validation error against α and effective strength ({MODELS[model]}, selection seeds)", "",
           f"Mean final validation error (%) over seeds {', '.join(str(seed) for seed in seeds)} and the mean "
           "effective strength s (the relative pull per step at the final weights × the steps; coupled L2: "
           "Σ η·α / (1 − μ)); ← the chosen α."
           + (f" No regularizer: {pct([row['validation_error'] for row in none])} %." if none else ""), "",
           table(["α"] + [f"{LABELS[arm]} {what}" for arm in arms for what in ("error %", "s")], rows), "",
           f"Plateau width in decades (the contiguous α around each seed's best within "
           f"{100 * PLATEAU_TOLERANCE:g} points), mean [95 % CI] over seeds:", "",
           table(["arm", "nominal α", "effective strength"], width_rows), ""]
    if differences:
        out += [f"Claim 3a, {LABELS[NORMLOSS]} − {LABELS[L2]} plateau width (decades, paired by seed): nominal α "
                f"{ci_cell(differences[0], 1)}, effective strength {ci_cell(differences[1], 1)}: "
                f"{marked(verdict, short_of_equilibrium(results, model))}.", ""]
    return out


@dataclasses.dataclass
class Confirmation:
    """S2's numbers (S4's for the all-conv network) at the chosen alphas; see confirmation_analysis."""

    arms: dict            # arm → its chosen alpha, the arms with runs
    rows: list            # the table: arm, α, validation error, test error, n
    pairs: dict = None    # "L2 (coupled) − none" … → Interval of the paired test-error differences
    holm: list = None     # their Holm-adjusted p values
    control_acts: bool = False
    tost: object = None   # experiments.inference.Equivalence of Norm Loss − L2
    better: object = None  # Interval of Norm Loss − L2 (95 %)
    area: object = None   # Interval of the paired curve areas, Norm Loss − L2
    verdicts: dict = None  # "comparable", "better", "faster" → verdict


def confirmation_analysis(results, model="lenet"):
    """Claims 1 and 2 by the pre-registered rules; None before the stage has runs."""
    settings = results.settings
    conditions, seeds = results.confirmation_of(model)
    epochs = conditions["epochs"]
    chosen = results.chosen_alphas(model if settings.allconv_selection_seeds else "lenet")
    arms = arms_present(results, conditions, seeds, chosen)
    if not arms:
        return None
    rows = [[LABELS[arm], f"{alpha:.3g}" if arm != "none" else "—",
             pct([row["validation_error"] for row in results.final(seeds, arm=arm, alpha=alpha, **conditions)]),
             pct([row["test_error"] for row in results.final(seeds, arm=arm, alpha=alpha, **conditions)]),
             len(results.final(seeds, arm=arm, alpha=alpha, **conditions))] for arm, alpha in arms.items()]
    analysis = Confirmation(arms, rows)
    if not {"none", L2, NORMLOSS} <= set(arms):
        return analysis

    def test_errors(arm):
        return results.by_seed("test_error", seeds, arm=arm, alpha=arms[arm], **conditions)

    control = paired_difference(test_errors(L2), test_errors("none"))
    analysis.pairs = {f"{LABELS[L2]} − none": control,
                      f"{LABELS[NORMLOSS]} − none": paired_difference(test_errors(NORMLOSS), test_errors("none")),
                      f"{LABELS[NORMLOSS]} − {LABELS[L2]}": paired_difference(test_errors(NORMLOSS),
                                                                               test_errors(L2))}
    analysis.holm = holm([difference.p_value for difference in analysis.pairs.values()])
    analysis.control_acts = control.n >= 2 and control.high < 0
    if not analysis.control_acts:
        return analysis
    l2_errors, normloss_errors = test_errors(L2), test_errors(NORMLOSS)
    common = sorted(set(l2_errors) & set(normloss_errors))
    differences = [normloss_errors[seed] - l2_errors[seed] for seed in common]
    analysis.tost = equivalence(differences, EQUIVALENCE_MARGIN)
    analysis.better, superior = superiority(differences)
    curves = {arm: {seed: [results.by_seed("validation_error", [seed], epoch, arm=arm, alpha=arms[arm],
                                           **conditions)[seed] for epoch in range(1, epochs + 1)]
                    for seed in common} for arm in (L2, NORMLOSS)}
    analysis.area = paired_curve_areas(curves[NORMLOSS], curves[L2])
    analysis.verdicts = {
        "comparable": "supported" if analysis.tost.equivalent else "not resolved",
        "better": ("supported" if superior else
                   "worse" if analysis.better.n > 1 and analysis.better.low > 0 else "not resolved"),
        "faster": interval_verdict(analysis.area, "supported", "not supported")}
    return analysis


def equilibrium(results, alpha):
    """(steps coupled L2 at ``alpha`` needs to reach its effective-learning-rate equilibrium in the
    batch-normalized network, 1/(2·η̄·α/(1 − μ)); the steps its all-conv runs have)."""
    settings = results.settings
    steps = math.ceil(settings.allconv_train_size / settings.allconv_batch_size) * settings.allconv_epochs
    return equilibrium_steps(cosine_mean_learning_rate(settings.learning_rate, steps), alpha, MOMENTUM), steps


def short_of_equilibrium(results, model):
    """Whether ``model``'s verdicts are to be reported as short of weight decay's equilibrium (the
    pre-registration's condition on S4): the all-conv runs have fewer steps than coupled L2 needs at
    its chosen α."""
    alpha = results.chosen_alphas(model).get(L2) if model == "allconv" else None
    if not alpha:
        return False
    needed, steps = equilibrium(results, alpha)
    return steps < needed


def marked(verdict, short):
    """A verdict in bold, marked when its runs are short of weight decay's equilibrium."""
    return f"**{verdict}**" + (" (short of the equilibrium)" if short else "")


def equilibrium_line(results, alpha):
    """Whether the all-conv runs are long enough for coupled L2 at ``alpha`` to reach its
    effective-learning-rate equilibrium (the pre-registration's condition on S4's verdicts)."""
    needed, steps = equilibrium(results, alpha)
    reached = "reached" if steps >= needed else "short of the equilibrium: S4's verdicts are reported as such"
    return (f"Weight decay's equilibrium in the batch-normalized network: 1/(2·η̄·α/(1 − μ)) = {needed:.0f} steps "
            f"at the chosen α = {alpha:.3g}; the runs have {steps}: {reached}.")


def confirmation_stage(results, model="lenet", name="S2"):
    """S2 (S4 for the all-conv network): the control on test error, claim 1 (TOST, superiority),
    claim 2 (curve areas)."""
    analysis = confirmation_analysis(results, model)
    if analysis is None:
        return []
    out = [f"## {name}: confirmation at the chosen α ({MODELS[model]}; claims 1 and 2)", "",
           table(["arm", "α", "validation error %", "test error %", "n"], analysis.rows), ""]
    if model == "allconv" and L2 in analysis.arms:
        out += [equilibrium_line(results, analysis.arms[L2]), ""]
    if analysis.pairs is None:
        return out
    out += ["Paired differences of final test error (points), 95 % CI, Holm-adjusted p over the three:", "",
            table(["difference", "n", "mean [95 % CI]", "Holm p"],
                  [[label, difference.n, ci_cell(difference), f"{p:.3f}"]
                   for (label, difference), p in zip(analysis.pairs.items(), analysis.holm)]), ""]
    if not analysis.control_acts:
        control = next(iter(analysis.pairs.values()))
        return out + [f"The control does not replicate on these seeds (L2 − none {ci_cell(control)}): claims 1 and 2 "
                      "are **not testable here**.", ""]
    tost, verdicts = analysis.tost, analysis.verdicts
    short = short_of_equilibrium(results, model)
    return out + [
        f"Claim 1, comparable: TOST of Norm Loss − L2 with margin ±{100 * EQUIVALENCE_MARGIN:g} points: 90 % interval "
        f"[{100 * tost.low:+.2f}, {100 * tost.high:+.2f}], p = {tost.p_value:.3f}: "
        f"{marked(verdicts['comparable'], short)}. "
        f"Better: 95 % interval {ci_cell(analysis.better)}: {marked(verdicts['better'], short)}.", "",
        "Claim 2, faster: the paired area under the validation-error curve (mean height over the epochs, points), "
        f"Norm Loss − L2: {ci_cell(analysis.area)}: {marked(verdicts['faster'], short)}.", ""]


def batch_analysis(results):
    """Claim 3b's numbers: per batch size b with runs, (b, Interval of L2 at b − at 64, Interval of the
    interaction, the seeds set apart, the verdict)."""
    settings = results.settings
    chosen = results.chosen_alphas()
    if not {L2, NORMLOSS} <= set(chosen):
        return []
    seeds = settings.batch_seeds
    analyses = []
    for size in settings.batch_sizes:
        def final(measure):
            return {(arm, batch): results.by_seed(measure, seeds, arm=arm, alpha=chosen[arm],
                                                  **results.lenet(batch_size=batch))
                    for arm in (L2, NORMLOSS) for batch in (size, settings.batch_size)}

        errors = final("test_error")
        if not all(errors.values()):
            continue
        # a run that never trained is read from its validation error, as pre-registered
        apart = untrained_seeds(*final("validation_error").values())
        interaction = batch_interaction(errors[NORMLOSS, size], errors[NORMLOSS, settings.batch_size],
                                        errors[L2, size], errors[L2, settings.batch_size], set_apart=apart)
        kept = [seed for seed in errors[L2, size] if seed not in apart]
        change = paired_difference({seed: errors[L2, size][seed] for seed in kept},
                                   errors[L2, settings.batch_size])
        if change.n > 1 and change.low > -INSENSITIVE and change.high < INSENSITIVE and change.low < 0 < change.high:
            verdict = "not testable here (L2 is insensitive)"
        elif change.n > 1 and (change.low > 0 or change.high < 0):
            # Norm Loss changes less when the interaction has the opposite sign of L2's change.
            opposite = interaction.high < 0 if change.mean > 0 else interaction.low > 0
            same = interaction.low > 0 if change.mean > 0 else interaction.high < 0
            verdict = "supported" if opposite else "not supported" if same else "not resolved"
        else:
            verdict = "not resolved"
        analyses.append((size, change, interaction, apart, verdict))
    return analyses


def batch_stage(results):
    """S3: per batch size, L2's own change and the per-seed interaction (claim 3b)."""
    settings = results.settings
    rows = [[size, ci_cell(change), ci_cell(interaction), ", ".join(str(seed) for seed in apart) or "none", verdict]
            for size, change, interaction, apart, verdict in batch_analysis(results)]
    if not rows:
        return []
    return ["## S3: sensitivity to the batch size (claim 3b)", "",
            f"Peak learning rate {settings.learning_rate} at every batch size ({settings.batch_learning_rate}), α per "
            f"step unchanged. Per seed (Norm Loss at b − at {settings.batch_size}) − (L2 at b − at "
            f"{settings.batch_size}) of final test error (points); a seed where a run never trained (validation error "
            f"≥ {100 * NEVER_TRAINED:g} %) is listed apart, not averaged in.", "",
            table(["batch size b", f"L2 at b − at {settings.batch_size}", "interaction [95 % CI]",
                   "seeds set apart", "verdict"], rows), ""]


def with_status(section, results, specs):
    """``section`` with a line under its heading when some of its stage's runs (``specs``) are missing:
    its numbers are provisional and its verdicts do not count until the stage is complete."""
    finished = {row["run_id"] for row in results.rows}
    missing = [spec for spec in specs if spec.run_id not in finished]
    if not section or not missing:
        return section
    note = (f"**Stage incomplete: {len(specs) - len(missing)} of {len(specs)} runs finished. The numbers below are "
            "provisional; its verdicts count only once the stage is complete.**")
    return section[:2] + [note, ""] + section[2:]


def summary_markdown(results, timing_rows, failed_records=()):
    """The whole ``summary.md`` of the second study: the design, the positive control, then each
    stage that has runs, in order, marked while incomplete."""
    settings = results.settings
    chosen = results.every_chosen_alpha()
    body = (with_status(selection_stage(results), results, selection_specs(settings))
            + with_status(confirmation_stage(results), results, confirmation_specs(settings, chosen))
            + with_status(batch_stage(results), results, batch_specs(settings, chosen))
            + with_status(selection_stage(results, "allconv", "S4"), results, allconv_selection_specs(settings))
            + with_status(confirmation_stage(results, "allconv", "S4"), results, allconv_specs(settings, chosen))
            + unit_norms_section(results) + claim_cost(timing_rows))
    return "\n".join(summary_head(results, failed_records) + body + failed_runs_section(list(failed_records)))
