"""The outputs of ``normnet compare``, rebuilt from the run files every time.

    results.csv        one row per run per epoch (epoch 0: at initialization, norms only)
    weight_norms.csv   per-unit weight-norm trajectories (every few steps) of the norm runs
    timing.csv         seconds per step per regularizer, and the regularizer's own work
    *.png              figures (see ``experiments/figures.py``)
    summary.md         the tables, one section per claim (see ``experiments/summary.py``)

Everything in summary.md and the figures is computed from results.csv, weight_norms.csv
and timing.csv (read back from disk), so the published tables can be checked against
the published CSV files.
"""
import csv
import io
import json
import math
from pathlib import Path

from experiments import figures
from experiments.results import RESULT_COLUMNS, Results, result_rows
from experiments.storage import load_records
from experiments.summary import summary_markdown
from framework.persistence import atomic_write

NORM_COLUMNS = ("dataset", "model", "regularizer", "alpha", "batch_size", "epochs", "initializer", "seed", "step",
                "weight_norm_mean", "weight_norm_std", "layer_norm_means")


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


def write_reports(output_dir, settings, log=print):
    """Rebuild every CSV, figure and summary.md in ``output_dir`` from its run files.

    Returns the number of failed runs among them (they are listed in summary.md).
    """
    output_dir = Path(output_dir)
    records = load_records(output_dir)
    failed = [record for record in records if record.get("failed")]
    if len(failed) == len(records):
        log("no finished runs yet: nothing to report" if not records
            else f"all {len(records)} runs failed: nothing to report but the failures")
        if failed:
            atomic_write(output_dir / "summary.md", lambda handle: handle.write(summary_markdown(
                Results([], settings), [], [], failed).encode()))
        return len(failed)
    write_results_csv(output_dir, records)
    write_norms_csv(output_dir, records)
    timing_rows = []
    if (output_dir / "timing.json").exists():
        timing_rows = json.loads((output_dir / "timing.json").read_text())
        _write_csv(output_dir / "timing.csv", list(timing_rows[0]), timing_rows)
        timing_rows = read_csv(output_dir / "timing.csv")
    results = Results(read_csv(output_dir / "results.csv"), settings)
    norm_rows = read_csv(output_dir / "weight_norms.csv")
    # The trajectories of the norm experiment: LeNet at the main batch size and epochs, none or norm_alpha.
    norm_rows = [row for row in norm_rows if row["batch_size"] == settings.batch_size
                 and row["epochs"] == settings.epochs and row["model"] == "lenet"
                 and (row["regularizer"] == "none" or row["alpha"] == settings.norm_alpha)]
    figures.figure_best_error(results, output_dir / "best_test_error.png")
    figures.figure_error_vs_epoch(results, output_dir / "error_vs_epoch.png")
    figures.figure_error_vs_alpha(results, output_dir / "error_vs_alpha.png")
    figures.figure_error_vs_batch_size(results, output_dir / "error_vs_batch_size.png")
    figures.figure_weight_norms([row for row in norm_rows if row["dataset"] == settings.main_dataset],
                                settings, output_dir / "weight_norms.png")
    if timing_rows:
        figures.figure_timing(timing_rows, output_dir / "timing.png")
    text = summary_markdown(results, timing_rows, [row for row in norm_rows
                                                   if row["dataset"] == settings.main_dataset], failed)
    atomic_write(output_dir / "summary.md", lambda handle: handle.write(text.encode()))
    log(f"wrote results.csv ({len(results.rows)} rows), weight_norms.csv, timing.csv, figures and summary.md")
    return len(failed)
