"""``normnet compare --quick`` end to end: the files it writes, and that a rerun resumes.

Slow (trains real, tiny LeNet and all-conv runs on Fashion-MNIST and MNIST): under 2 minutes.
"""
import csv
import json

import pytest

from framework.cli import main
from framework.compare import Settings, main_specs
from framework.compare_report import FIGURES, RESULT_COLUMNS

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _data_available():
    from data import load_dataset

    try:
        load_dataset("mnist")
        load_dataset("fashion-mnist")
    except Exception:  # noqa: BLE001 - any reason the datasets cannot be had means: skip
        return False
    return True


@pytest.mark.slow
def test_compare_quick_writes_every_output_and_resumes(tmp_path, capsys):
    if not _data_available():
        pytest.skip("MNIST or Fashion-MNIST is not available on this machine")
    output_dir = tmp_path / "compare"

    assert main(["compare", "--quick", "--output-dir", str(output_dir), "--no-progress"]) == 0
    first_output = capsys.readouterr().out

    # One JSON per finished run, each holding its spec, per-epoch rows and a norm trajectory.
    run_files = sorted((output_dir / "runs").glob("*.json"))
    settings = Settings.quick()
    assert len(run_files) >= len(set(main_specs(settings)))
    record = json.loads(run_files[0].read_text())
    assert {"spec", "rows", "trajectory", "run_id"} <= set(record)
    assert record["trajectory"][0]["step"] == 0

    # results.csv: the documented columns; one row per run per epoch, plus the epoch-0 row.
    with open(output_dir / "results.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert tuple(rows[0]) == RESULT_COLUMNS
    expected_rows = sum(json.loads(path.read_text())["spec"]["epochs"] + 1 for path in run_files)
    assert len(rows) == expected_rows
    assert {row["regularizer"] for row in rows} == {"none", "l1", "l2", "normloss"}
    assert {row["dataset"] for row in rows} == {"fashion-mnist", "mnist"}
    assert {row["model"] for row in rows} == {"lenet", "allconv"}
    assert {row["initializer"] for row in rows} == {"he", "small"}
    assert {int(row["batch_size"]) for row in rows} >= set(settings.batch_sizes)
    trained = [row for row in rows if row["epoch"] != "0"]
    assert all(0.0 <= float(row["test_error"]) <= 1.0 for row in trained)

    with open(output_dir / "timing.csv", newline="") as handle:
        timing = list(csv.DictReader(handle))
    assert [row["regularizer"] for row in timing] == ["none", "l1", "l2", "normloss"]
    assert float(timing[0]["ratio_to_none"]) == pytest.approx(1.0)
    assert (output_dir / "weight_norms.csv").stat().st_size > 0

    for name in FIGURES:
        content = (output_dir / name).read_bytes()
        assert content.startswith(PNG_SIGNATURE), name
        assert len(content) > 5000, name

    summary = (output_dir / "summary.md").read_text()
    for heading in ("## 1. Best test error", "## 2. Convergence", "## 3. Sensitivity", "against batch size",
                    "## 4. Seconds per training step", "## Weight norms"):
        assert heading in summary
    assert "| Norm Loss |" in summary
    assert "nan" not in summary.lower()

    # A second invocation finds every run done and trains nothing.
    modified = {path: path.stat().st_mtime_ns for path in run_files}
    assert main(["compare", "--quick", "--output-dir", str(output_dir), "--no-progress"]) == 0
    second_output = capsys.readouterr().out
    assert "0 runs executed" in second_output
    assert "runs executed" in first_output and "0 runs executed" not in first_output
    assert {path: path.stat().st_mtime_ns for path in (output_dir / "runs").glob("*.json")} == modified
