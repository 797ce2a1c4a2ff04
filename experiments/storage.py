"""Where the study keeps its runs: one JSON file per finished run, written atomically.

    <output>/runs/<run_id>.json    the run's record (see ``experiments/runs.py``)
    <output>/timing.json           the timing experiment's rows

A run whose file exists is finished, whether it trained to the end, diverged or failed
with an error, and is never run again; so a killed command loses only the runs in
progress, and starting it again continues. Delete a run's file to run it again.
"""
import dataclasses
import json
import math
import stat
from pathlib import Path

from framework.persistence import atomic_write

# A run record is a few hundred kilobytes at most (its trajectory); anything far larger is not one.
MAX_RECORD_BYTES = 64 * 2 ** 20


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
    try:
        atomic_write(path, lambda handle: handle.write(content))
    except OSError as error:  # a full disk, a read-only folder: say which file could not be written
        raise OSError(error.errno, f"cannot write {path}: {error.strerror or error}") from None


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


WAY_OUT = "delete it and run the command again to redo that run"
# What a run record holds (see ``experiments/runs.py``): field → the JSON types it may have.
# None stands for null (NaN, infinities, or no value).
NUMBER = (int, float, type(None))
RECORD_TYPES = {"spec": (dict,), "run_id": (str,), "rows": (list,), "diverged": (bool,), "failed": (bool,),
                "trajectory": (list,)}
OPTIONAL_RECORD_TYPES = {"executed_on": (str,), "wall_seconds": NUMBER, "steps_per_epoch": (int, type(None)),
                         "shrinkage_per_step": NUMBER, "error": (str,), "traceback": (str,), "code": (dict,)}
ROW_TYPES = {"epoch": (int,), "data_loss": NUMBER, "penalty": NUMBER, "validation_error": NUMBER,
             "test_error": NUMBER, "last_step_learning_rate": NUMBER, "weight_norm_mean": NUMBER,
             "weight_norm_std": NUMBER, "seconds_per_step": NUMBER, "layer_norm_means": (list,)}
TRAJECTORY_TYPES = {"step": (int,), "weight_norm_mean": NUMBER, "weight_norm_std": NUMBER,
                    "layer_norm_means": (list,)}
CODE_TYPES = {"digest": (str,), "numpy": (str,), "python": (str,)}
# timing.json: a non-empty list of rows with these fields (see ``experiments/timing.py``).
TIMING_TYPES = {"model": (str,), "regularizer": (str,), "alpha": (int, float), "batch_size": (int,),
                "rounds": (int,), "excluded_rounds": (int,), "steps_per_round": (int,),
                "median_seconds_per_step": (int, float), "min_seconds_per_step": (int, float),
                "max_seconds_per_step": (int, float), "ratio_to_none": (int, float),
                "regularizer_seconds_per_step": (int, float), "regularizer_share_of_step": (int, float)}


class RecordError(ValueError):
    """A file of the study that is not what it claims to be; the message names the file."""


def _type_names(types):
    return " or ".join("null" if kind is type(None) else kind.__name__ for kind in types)


def check_fields(value, types, where, required=True):
    """Raise RecordError unless the dict ``value`` has each field of ``types`` (field → allowed
    types) with a value of those types; a bool is no number. ``where`` starts the message."""
    if not isinstance(value, dict):
        raise RecordError(f"{where}: expected an object, found {type(value).__name__}")
    for field, kinds in types.items():
        if field not in value:
            if required:
                raise RecordError(f"{where}: the field {field!r} is missing")
            continue
        entry = value[field]
        if not isinstance(entry, kinds) or (isinstance(entry, bool) and bool not in kinds):
            raise RecordError(f"{where}: {field!r} should be {_type_names(kinds)}, found {type(entry).__name__}")


def _check_numbers(values, where):
    if not all(isinstance(value, NUMBER) and not isinstance(value, bool) for value in values):
        raise RecordError(f"{where}: expected a list of numbers")


def check_record(record, name):
    """Raise RecordError unless ``record`` is a whole run record whose spec, run id and file
    ``name`` (without ``.json``) agree, with one row per epoch (0 to the spec's epochs)."""
    from experiments.grid import RunSpec

    check_fields(record, RECORD_TYPES, "the record")
    check_fields(record, OPTIONAL_RECORD_TYPES, "the record", required=False)
    if "code" in record:
        check_fields(record["code"], CODE_TYPES, "'code'")
    fields = {field.name: field for field in dataclasses.fields(RunSpec)}
    spec = record["spec"]
    unknown = sorted(set(spec) - set(fields))
    if unknown:
        raise RecordError(f"the spec has unknown fields {unknown}")
    for name_of_field, field in fields.items():
        if name_of_field not in spec:
            if field.default is dataclasses.MISSING:
                raise RecordError(f"the spec's field {name_of_field!r} is missing")
            continue
        kinds = SPEC_TYPES[name_of_field]
        value = spec[name_of_field]
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            raise RecordError(f"the spec's {name_of_field!r} should be {_type_names(kinds)}, "
                              f"found {type(value).__name__}")
    run_id = RunSpec(**spec).run_id
    if record["run_id"] != run_id:
        raise RecordError(f"its run_id {record['run_id']!r} is not its spec's ({run_id})")
    if name != run_id:
        raise RecordError(f"holds the record of run {run_id}, not of the run its name says")
    if record["failed"]:
        check_fields(record, {"error": (str,)}, "a failed run's record")
        return
    for index, row in enumerate(record["rows"]):
        check_fields(row, ROW_TYPES, f"row {index}")
        _check_numbers(row["layer_norm_means"], f"row {index}: 'layer_norm_means'")
        if row["epoch"] != index:
            raise RecordError(f"row {index} is of epoch {row['epoch']}")
        for column in ("validation_error", "test_error"):
            if row[column] is not None and not 0 <= row[column] <= 1:
                raise RecordError(f"row {index}: {column!r} {row[column]} is not an error rate")
    if len(record["rows"]) != spec["epochs"] + 1:
        raise RecordError(f"{len(record['rows'])} rows for {spec['epochs']} epochs (expected one more, epoch 0)")
    for index, point in enumerate(record["trajectory"]):
        check_fields(point, TRAJECTORY_TYPES, f"trajectory point {index}")
        _check_numbers(point["layer_norm_means"], f"trajectory point {index}: 'layer_norm_means'")


# RunSpec's fields → the JSON types they may have.
SPEC_TYPES = {"experiment": (str,), "dataset": (str,), "model": (str,), "regularizer": (str,), "alpha": (int, float),
              "batch_size": (int,), "seed": (int,), "initializer": (str,), "epochs": (int,), "train_size": (int,),
              "learning_rate": (int, float), "coupled": (bool,), "schedule": (str,), "eval_size": (int, type(None)),
              "trajectory_every": (int,)}


def read_json(path, most_bytes):
    """The JSON document in the regular file ``path`` of at most ``most_bytes`` bytes, or
    RecordError (a FIFO or device would block or never end; not UTF-8, not JSON)."""
    status = Path(path).stat()
    if not stat.S_ISREG(status.st_mode):
        raise RecordError("not a regular file")
    with open(path, "rb") as handle:
        content = handle.read(most_bytes + 1)
    if len(content) > most_bytes:
        raise RecordError(f"larger than {most_bytes} bytes")
    try:
        return json.loads(content.decode())
    except (UnicodeDecodeError, ValueError) as error:
        raise RecordError(f"not JSON ({error})") from None


def load_records(output_dir):
    """Every run record in the output folder, in the order of their file names.

    A file that is not a whole run record (empty, truncated, another JSON document, a field
    missing or of the wrong type, a record stored under another run's name) is a RecordError
    naming it and the way out, never a traceback from deep in the report.
    """
    return [_read_record(path) for path in sorted(runs_folder(output_dir).glob("*.json"))]


def _read_record(path):
    try:
        record = read_json(path, MAX_RECORD_BYTES)
        check_record(record, path.stem)
    except RecordError as error:
        raise RecordError(f"{path}: not a run record: {error}; {WAY_OUT}") from None
    return record


def load_timing(path):
    """The rows of ``timing.json``, or RecordError naming the file and the way out."""
    way_out = "delete it and run the command again to time the regularizers anew"
    try:
        rows = read_json(path, MAX_RECORD_BYTES)
        if not isinstance(rows, list) or not rows:
            raise RecordError("expected a non-empty list of rows, found "
                              + (type(rows).__name__ if rows else f"an empty {type(rows).__name__}"))
        for index, row in enumerate(rows):
            check_fields(row, TIMING_TYPES, f"row {index}")
    except RecordError as error:
        raise RecordError(f"{path}: not the timing's rows: {error}; {way_out}") from None
    return rows
