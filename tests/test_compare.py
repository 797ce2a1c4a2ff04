"""``normnet compare --quick`` end to end: the files it writes, that a rerun resumes, and that a
local Dask cluster of two workers yields the same runs with the same numbers as one process.

Slow (trains real, tiny LeNet and all-conv runs on Fashion-MNIST and MNIST). Needs both
datasets: skipped without them, failed without them under CI=true (the ``study_data`` fixture).
"""
import csv
import json

import pytest

from experiments.figures import FIGURES
from experiments.grid import ARMS, Settings, selection_specs
from experiments.provenance import code_identity
from experiments.results import RESULT_COLUMNS
from framework.cli import main

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# What may differ between two executions of the same run: where and how fast it ran.
CIRCUMSTANCES = ("executed_on", "wall_seconds")


@pytest.fixture(scope="module")
def quick_in_process(study_data, tmp_path_factory):
    """The output folder of ``normnet compare --quick --workers 1`` and what it printed."""
    import contextlib
    import io

    output_dir = tmp_path_factory.mktemp("quick") / "compare"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(["compare", "--quick", "--workers", "1", "--output-dir", str(output_dir), "--no-progress"]) == 0
    return output_dir, printed.getvalue()


def numbers(record):
    """A run record without what depends on where and how fast it ran, as JSON text (NaN as null)."""
    from experiments.storage import json_bytes

    kept = {key: value for key, value in record.items() if key not in CIRCUMSTANCES}
    kept["rows"] = [{key: value for key, value in row.items() if key != "seconds_per_step"} for row in record["rows"]]
    return json_bytes(kept)


def run_records(output_dir):
    return {path.name: json.loads(path.read_text()) for path in (output_dir / "runs").glob("*.json")}


@pytest.mark.slow
def test_compare_quick_writes_every_output_and_resumes(quick_in_process, capsys):
    output_dir, first_output = quick_in_process

    # One JSON per finished run, each holding its spec, per-epoch rows and a norm trajectory.
    run_files = sorted((output_dir / "runs").glob("*.json"))
    settings = Settings.quick()
    assert len(run_files) >= len(set(selection_specs(settings)))
    record = json.loads(run_files[0].read_text())
    assert {"spec", "rows", "trajectory", "run_id", "executed_on"} <= set(record)
    assert record["trajectory"][0]["step"] == 0
    assert not any(json.loads(path.read_text())["failed"] for path in run_files)
    # Every record names the code that trained it: this process's, the one code.json accepts.
    assert {json.dumps(json.loads(path.read_text())["code"]) for path in run_files} == {json.dumps(code_identity())}
    assert json.loads((output_dir / "code.json").read_text())["identities"][0]["digest"] == code_identity()["digest"]

    # results.csv: the documented columns; one row per run per epoch, plus the epoch-0 row.
    with open(output_dir / "results.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert tuple(rows[0]) == RESULT_COLUMNS
    expected_rows = sum(json.loads(path.read_text())["spec"]["epochs"] + 1 for path in run_files)
    assert len(rows) == expected_rows
    assert {row["arm"] for row in rows} == set(ARMS)
    assert {row["dataset"] for row in rows} == {"fashion-mnist", "mnist"}
    assert {row["model"] for row in rows} == {"lenet", "allconv"}
    assert {int(row["batch_size"]) for row in rows} >= set(settings.batch_sizes)
    trained = [row for row in rows if row["epoch"] != "0"]
    assert all(0.0 <= float(row["test_error"]) <= 1.0 and 0.0 <= float(row["validation_error"]) <= 1.0
               and float(row["data_loss"]) > 0 and float(row["penalty"]) >= 0 for row in trained)
    assert all(float(row["penalty"]) == 0 for row in rows if row["arm"] == "none")

    with open(output_dir / "timing.csv", newline="") as handle:
        timing = list(csv.DictReader(handle))
    assert [(row["model"], row["regularizer"]) for row in timing] == [
        (model, name) for model in ("lenet", "allconv") for name in ("none", "l1", "l2", "normloss")]
    assert float(timing[0]["ratio_to_none"]) == pytest.approx(1.0)
    assert (output_dir / "weight_norms.csv").stat().st_size > 0

    for name in FIGURES:
        content = (output_dir / name).read_bytes()
        assert content.startswith(PNG_SIGNATURE), name
        assert len(content) > 5000, name

    summary = (output_dir / "summary.md").read_text()
    for heading in ("## Design", "## Selection", "## 1. Accuracy", "## 2. Convergence", "## 3. Sensitivity",
                    "## 4. Seconds per training step", "## Per-layer mean unit norms"):
        assert heading in summary
    assert "| Norm Loss |" in summary
    assert "## Failed runs" not in summary
    assert "nan" not in summary.lower()

    # The last line reports the runs of this call; a second invocation trains nothing.
    assert first_output.strip().splitlines()[-1].startswith(f"done: {len(run_files)} runs executed in this call;")
    modified = {path: path.stat().st_mtime_ns for path in run_files}
    assert main(["compare", "--quick", "--workers", "1", "--output-dir", str(output_dir), "--no-progress"]) == 0
    second_output = capsys.readouterr().out
    assert second_output.strip().splitlines()[-1].startswith("done: 0 runs executed in this call;")
    # ... but first re-runs one finished run and finds its record again, bit for bit.
    assert "gives its record again, bit for bit" in second_output
    # Nothing left to plan: the dependent runs are counted at the chosen alphas, all finished.
    assert "measuring speed" not in second_output
    assert {path: path.stat().st_mtime_ns for path in (output_dir / "runs").glob("*.json")} == modified


@pytest.mark.slow
def test_compare_quick_on_a_local_cluster_of_two_workers_matches_one_process(quick_in_process, tmp_path, capsys):
    in_process_dir, _ = quick_in_process
    output_dir = tmp_path / "compare"

    assert main(["compare", "--quick", "--workers", "2", "--output-dir", str(output_dir), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "on a local Dask cluster of 2 worker processes" in printed

    on_cluster = run_records(output_dir)
    in_process = run_records(in_process_dir)
    assert set(on_cluster) == set(in_process)
    assert {record["executed_on"].split(" on host")[0].rsplit(":", 1)[0] for record in on_cluster.values()} == {
        "worker tcp://127.0.0.1"}
    # Two workers, each run on one of them: both took part.
    assert len({record["executed_on"] for record in on_cluster.values()}) == 2
    for name, record in on_cluster.items():
        assert numbers(record) == numbers(in_process[name]), name
    assert printed.strip().splitlines()[-1].startswith(f"done: {len(on_cluster)} runs executed in this call;")


@pytest.mark.slow
def test_the_report_regenerates_from_a_partial_study(study_data, tmp_path, capsys):
    output_dir = tmp_path / "compare"
    assert main(["compare", "--quick", "--workers", "1", "--only", "selection", "--output-dir", str(output_dir),
                 "--no-progress"]) == 0
    summary = (output_dir / "summary.md").read_text()
    # The selection is there; the claims that need confirmation runs are left out, and the design
    # table says what is missing.
    assert "## Selection" in summary and "## 1. Accuracy" not in summary
    assert "| selection | 11 | 11 |" in summary and "| confirmation | 12 | 0 |" in summary
    assert (output_dir / "validation_error_vs_alpha.png").read_bytes().startswith(PNG_SIGNATURE)
    assert not (output_dir / "test_error_confirmation.png").exists()


@pytest.mark.slow
def test_compare_quick_of_the_second_study_runs_every_stage_and_reports_the_preregistered_analyses(study_data,
                                                                                                  tmp_path):
    output_dir = tmp_path / "regimes"
    assert main(["compare", "--study", "regimes", "--quick", "--workers", "1", "--output-dir", str(output_dir),
                 "--no-progress"]) == 0
    records = run_records(output_dir)
    # The second study's arms only: none and the paper's coupled forms.
    assert {(record["spec"]["regularizer"], record["spec"]["coupled"]) for record in records.values()} == {
        ("none", False), ("l2", True), ("normloss", True)}
    # Its batch runs keep the peak learning rate.
    assert {record["spec"]["learning_rate"] for record in records.values()} == {0.05}
    summary = (output_dir / "summary.md").read_text()
    for heading in ("## Positive control", "## S1: validation error against α and effective strength",
                    "## S2: confirmation at the chosen α", "## S3: sensitivity to the batch size"):
        assert heading in summary
    assert "## 1. Accuracy" not in summary and "nan" not in summary.lower()
    # The all-conv network's alphas come from its own selection, and its titles say so.
    assert "all-conv + BN (" in summary and "alphas chosen on LeNet" not in summary
    assert "alphas chosen on its own selection" in summary
    assert (output_dir / "control_curves.png").read_bytes().startswith(PNG_SIGNATURE)
