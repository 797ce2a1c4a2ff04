"""Where the study keeps its runs: one JSON file per finished run, written atomically.

    <output>/runs/<run_id>.json    the run's record (see ``experiments/runs.py``)
    <output>/timing.json           the timing experiment's rows

A run whose file exists is finished, whether it trained to the end, diverged or failed
with an error, and is never run again; so a killed command loses only the runs in
progress, and starting it again continues. Delete a run's file to run it again.
"""
import json
import math
from pathlib import Path

from framework.persistence import atomic_write


def json_bytes(value):
    """``value`` as indented JSON; NaN and infinities (not JSON) become null."""
    def clean(item):
        if isinstance(item, float) and not math.isfinite(item):
            return None
        if isinstance(item, dict):
            return {key: clean(entry) for key, entry in item.items()}
        if isinstance(item, (list, tuple)):
            return [clean(entry) for entry in item]
        return item
    return json.dumps(clean(value), indent=1).encode()


def write_json(path, value):
    """Write ``value`` to ``path`` as JSON, atomically (readers see the old file or the whole new one)."""
    content = json_bytes(value)
    atomic_write(path, lambda handle: handle.write(content))


def runs_folder(output_dir):
    return Path(output_dir) / "runs"


def run_path(output_dir, run_id):
    return runs_folder(output_dir) / f"{run_id}.json"


def store_record(output_dir, record):
    """Keep a finished run's record as ``runs/<run_id>.json``."""
    write_json(run_path(output_dir, record["run_id"]), record)


def finished_run_ids(output_dir):
    """The run ids that have a record in the output folder."""
    return {path.stem for path in runs_folder(output_dir).glob("*.json")}


# The fields every run record has (see ``experiments/runs.py``); a file without them is not one.
RECORD_FIELDS = ("spec", "run_id", "rows")


def load_records(output_dir):
    """Every run record in the output folder, in the order of their file names.

    A file that is not a run record (empty, truncated by hand, another JSON document) is a
    ValueError naming it and the way out, never a traceback from deep in the report.
    """
    return [_read_record(path) for path in sorted(runs_folder(output_dir).glob("*.json"))]


def _read_record(path):
    way_out = "delete it and run the command again to redo that run"
    try:
        record = json.loads(path.read_text())
    except (UnicodeDecodeError, ValueError) as error:
        raise ValueError(f"{path}: not a run record ({error}); {way_out}") from None
    if not isinstance(record, dict) or any(field not in record for field in RECORD_FIELDS):
        found = sorted(record) if isinstance(record, dict) else type(record).__name__
        raise ValueError(f"{path}: not a run record (expected the fields {', '.join(RECORD_FIELDS)}, "
                         f"found {found}); {way_out}") from None
    return record
