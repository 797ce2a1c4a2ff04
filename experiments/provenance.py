"""Which code trained a run: a digest of the training code and the library versions.

A study spans several sittings, and the code may change between them (here or on a worker's
machine). Runs of different code must not be mixed in one table, so every record carries the
*identity* of the code that trained it:

    digest   SHA-256 over the path and content of every Python file that decides a run's numbers:
             the packages in TRAINING_CODE and the study's own run definition (grid and runs);
             documentation, tests, notebooks and the report are left out, so editing them keeps
             the study's records valid
    numpy    NumPy's version
    python   Python's version

The identities a study accepts are kept in ``<output>/code.json`` with the digest of each file
(so a refusal can name the files that changed). A new identity joins only when finished runs,
re-run under it, give their records bit for bit (``normnet compare --adopt-code``).
"""
import functools
import hashlib
import platform
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parent.parent
# What determines a run's numbers, relative to the repository: whole packages, and single files.
TRAINING_CODE = ("data", "framework", "layers", "optimizers", "regularizers", "experiments/grid.py",
                 "experiments/runs.py")


def training_files(root=REPOSITORY):
    """The training code's Python files under ``root`` (relative POSIX paths, sorted)."""
    root = Path(root)
    files = []
    for entry in TRAINING_CODE:
        path = root / entry
        files += [path] if path.is_file() else [file for file in path.rglob("*.py") if "__pycache__" not in file.parts]
    return sorted(file.relative_to(root).as_posix() for file in files)


def file_digests(root=REPOSITORY):
    """Relative path → SHA-256 of the file's bytes, for every file of the training code."""
    return {name: hashlib.sha256((Path(root) / name).read_bytes()).hexdigest() for name in training_files(root)}


def combined_digest(digests):
    """One SHA-256 over every (path, file digest) pair: changes when a file is added, removed or edited."""
    lines = "".join(f"{name} {digest}\n" for name, digest in sorted(digests.items()))
    return hashlib.sha256(lines.encode()).hexdigest()


@functools.lru_cache(maxsize=None)
def _loaded_code():
    """(identity, file digests) of the code as this process found it first (see code_identity)."""
    import numpy

    files = file_digests()
    return {"digest": combined_digest(files), "numpy": numpy.__version__,
            "python": platform.python_version()}, files


def code_identity():
    """The identity of the code this process trains with (computed once per process, as it is
    loaded: a file edited later is not the code that runs here)."""
    return dict(_loaded_code()[0])


def loaded_file_digests():
    """The file digests behind :func:`code_identity` (the same moment)."""
    return dict(_loaded_code()[1])


def identity_key(identity):
    """A hashable form of a code identity."""
    return identity["digest"], identity["numpy"], identity["python"]


def describe_identity(identity):
    return f"code {identity['digest'][:12]}, NumPy {identity['numpy']}, Python {identity['python']}"


def changed_files(old_digests, new_digests):
    """The paths added, removed or edited between two ``file_digests`` maps, sorted."""
    return sorted(name for name in set(old_digests) | set(new_digests)
                  if old_digests.get(name) != new_digests.get(name))


CODE_FILE = "code.json"


def accepted_identities(output_dir):
    """The identities of ``<output>/code.json`` (a list of dicts with their ``files``); [] without it."""
    from experiments.storage import MAX_RECORD_BYTES, RecordError, check_fields, read_json

    path = Path(output_dir) / CODE_FILE
    if not path.exists():
        return []
    try:
        content = read_json(path, MAX_RECORD_BYTES)
        check_fields(content, {"identities": (list,)}, "the file")
        for index, identity in enumerate(content["identities"]):
            check_fields(identity, {"digest": (str,), "numpy": (str,), "python": (str,), "files": (dict,),
                                    "accepted": (str,)}, f"identity {index}")
    except RecordError as error:
        raise RecordError(f"{path}: not the study's list of accepted code: {error}; restore it from the "
                          "study's copy (it lists the code its runs were trained with)") from None
    return content["identities"]


def accept_identity(output_dir, identity, reason):
    """Add this process's ``identity`` (with its files' digests) to ``<output>/code.json``."""
    if identity != code_identity():
        raise ValueError("accept_identity: only this process's own code identity can be accepted")
    from experiments.storage import write_json

    identities = accepted_identities(output_dir)
    identities.append({**identity, "files": loaded_file_digests(), "accepted": reason})
    write_json(Path(output_dir) / CODE_FILE, {"identities": identities})


def unaccepted_records(records, identities):
    """The records whose code identity is missing or not among ``identities``."""
    keys = {identity_key(identity) for identity in identities}
    return [record for record in records if "code" not in record or identity_key(record["code"]) not in keys]
