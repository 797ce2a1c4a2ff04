"""The outputs of ``normnet compare``, rebuilt from the run files every time.

    results.csv        one row per run per epoch (epoch 0: at initialization, norms and penalty only)
    weight_norms.csv   per-layer mean unit-norm trajectories (every few steps) of the confirmation
                       runs on the main dataset
    timing.csv         seconds per step per model and regularizer, the regularizer's own work, and
                       how many rounds were excluded as load windows
    *.png              figures (see ``experiments/figures.py``)
    summary.md         the tables, one section per claim (see ``experiments/summary.py``)

Everything in summary.md and the figures is computed from results.csv, weight_norms.csv
and timing.csv (read back from disk), so the published tables can be checked against
the published CSV files.
"""
import csv
import io
import math
from pathlib import Path

from experiments import figures
from experiments.grid import arm_name
from experiments.results import LAYER_COLUMNS, RESULT_COLUMNS, Results, result_rows
from experiments.storage import load_records, load_timing
from experiments import preregistered, summary
from framework.persistence import atomic_write

NORM_COLUMNS = ("dataset", "model", "arm", "alpha", "batch_size", "epochs", "seed", "step", "weight_norm_mean",
                "weight_norm_std") + LAYER_COLUMNS


def _write_csv(path, columns, rows):
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: ("" if value is None or (isinstance(value, float) and math.isnan(value)) else value)
                         for key, value in row.items()})
    atomic_write(path, lambda handle: handle.write(buffer.getvalue().encode()))


def read_csv(path):
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
    rows = result_rows(records)
    rows.sort(key=lambda row: tuple(str(row[key]) for key in ("dataset", "model", "arm", "initializer"))
              + (row["alpha"], row["batch_size"], row["seed"], row["epoch"]))
    _write_csv(Path(output_dir) / "results.csv", RESULT_COLUMNS, rows)


def write_norms_csv(output_dir, records, settings):
    """The trajectories of the confirmation seeds' runs on the main dataset (LeNet at the main
    batch size, and the all-conv network)."""
    rows = []
    for record in records:
        spec = record["spec"]
        if (spec["dataset"] != settings.main_dataset or spec["seed"] not in settings.confirmation_seeds
                or (spec["model"] == "lenet" and spec["batch_size"] != settings.batch_size)):
            continue
        arm = arm_name(spec["regularizer"], spec.get("coupled", False))
        for point in record["trajectory"]:
            layers = point["layer_norm_means"]
            rows.append({**{key: spec[key] for key in NORM_COLUMNS if key in spec}, "arm": arm,
                         "step": point["step"], "weight_norm_mean": point["weight_norm_mean"],
                         "weight_norm_std": point["weight_norm_std"],
                         **{column: layers[index] for index, column in enumerate(LAYER_COLUMNS)
                            if index < len(layers)}})
    rows.sort(key=lambda row: (row["model"], row["arm"], row["seed"], row["step"]))
    _write_csv(Path(output_dir) / "weight_norms.csv", NORM_COLUMNS, rows)


def summary_of(settings):
    """The function that writes summary.md for ``settings``' study."""
    return preregistered.summary_markdown if settings.preregistered else summary.summary_markdown


def write_reports(output_dir, settings, log=print, grid=None):
    """Rebuild every CSV, figure and summary.md in ``output_dir`` from its run files.

    Works on whatever runs exist (a study in progress too): a table or figure whose runs
    are missing is left out, and summary.md says which parts of the design are incomplete.
    ``grid`` (a set of run ids; None: every record) is the study's grid: a record of another
    grid (other settings, alphas no longer chosen) is left out, never counted as a seed.
    Returns the number of failed runs among them (they are listed in summary.md).
    """
    output_dir = Path(output_dir)
    records = load_records(output_dir)
    if grid is not None:
        outside = [record["run_id"] for record in records if record["run_id"] not in grid]
        if outside:
            log(f"{len(outside)} run records in {output_dir}/runs are not runs of this grid and are left out of the "
                f"report (the first: {outside[0]})")
        records = [record for record in records if record["run_id"] in grid]
    failed = [record for record in records if record.get("failed")]
    if len(failed) == len(records):
        log("no finished runs yet: nothing to report" if not records
            else f"all {len(records)} runs failed: nothing to report but the failures")
        if failed:
            atomic_write(output_dir / "summary.md", lambda handle: handle.write(summary_of(settings)(
                Results([], settings), [], failed).encode()))
        return len(failed)
    write_results_csv(output_dir, records)
    write_norms_csv(output_dir, records, settings)
    timing_rows = []
    if (output_dir / "timing.json").exists():
        timing_rows = load_timing(output_dir / "timing.json")
        _write_csv(output_dir / "timing.csv", list(timing_rows[0]), timing_rows)
        timing_rows = read_csv(output_dir / "timing.csv")
    results = Results(read_csv(output_dir / "results.csv"), settings)
    norm_rows = read_csv(output_dir / "weight_norms.csv")
    for name, draw in figures.FIGURE_MAKERS.items():
        draw(results, norm_rows, timing_rows, output_dir / name)
    text = summary_of(settings)(results, timing_rows, failed)
    atomic_write(output_dir / "summary.md", lambda handle: handle.write(text.encode()))
    log(f"wrote results.csv ({len(results.rows)} rows), weight_norms.csv, timing.csv, figures and summary.md")
    return len(failed)
