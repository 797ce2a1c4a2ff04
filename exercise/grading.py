"""``normnet exercise grade``: score a student tree, part by part, with the points table.

A submission is untrusted code, and the verdict never comes from a process that runs it.
For each part:

1. **A grading tree of one part.** A fresh folder holds the framework's shared modules
   (``shared_modules``: base classes and helpers no part writes, copied from the reference)
   and, from the submission, only that part's ``sources`` (regular files, no links). Nothing
   else of the submission takes part: not its tests, conftests, ``pytest.py``, plugins,
   edited helpers or extra modules.
2. **A worker runs the student's code** of that tree (``exercise/worker.py``), in bubblewrap
   where the machine has it (``exercise.sandbox``), else as a limited process.
3. **The grader's own tests run in a trusted process** (``exercise/run_part.py``) on the
   reference project, with the part's modules replaced by proxies of the worker's
   (``exercise.remote``): every other part is the reference, so a part's points depend on
   its own files only and nothing waits; every assertion and gradient check runs on the
   trusted side, on values the worker returned. The JUnit report is written to a folder of
   the grader's and read here.

A part earns its points when every one of its tests ran and passed (all or nothing, see
``exercise.points``): a failing, erroring or skipped test, a syntax error, a crash, a
time-out or a memory error earns 0 and is described in the part's note. The process group
of every part is killed when the part ends. Tests of the fast layers and of the textbook
reference are deselected: they grade nothing a student wrote.

In a folder of submissions each is graded alone; a failure of the grader's own work on one
(an unreadable file, anything unexpected) becomes that submission's note, rows are
appended to the CSV as submissions finish, and a later run resumes after the last row.
"""
import ast
import csv
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ElementTree
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from exercise import sandbox
from exercise.points import PARTS
from exercise.sources import read_student_source
from exercise.submission import ARCHIVE_SUFFIXES, is_archive, unpack

PROJECT = Path(__file__).resolve().parent.parent
HIDDEN_TESTS = PROJECT / "tests" / "hidden"
RUNNER = Path(__file__).with_name("run_part.py")
AGREEMENT_TESTS = "exercise/agreement.py"
WORKER_FILES = (Path(__file__).with_name("worker.py"), Path(__file__).with_name("remote.py"))
DEFAULT_TIMEOUT_SECONDS = 120
DEFAULT_BUDGET_SECONDS = 900
MAX_REPORT_BYTES = 32 << 20
SELECTION = "not fast and not textbook"
# What the trusted side lets the worker reach: objects of these packages' classes (the
# reference layers a test hands a student's network, the tests' own helpers).
SHARED_WITH_WORKER = ("layers", "framework", "optimizers", "regularizers", "tests", "conftest", "exercise.agreement")
PROJECT_PACKAGES = ("layers", "framework", "optimizers", "regularizers")


@dataclass
class PartResult:
    """The grade of one part.

    ``passed``, ``failed`` and ``not_run`` (skipped, or stopped before the end) of
    ``total`` tests (``total`` None: the tests could not run); ``failure`` describes the
    first failing test (``test``, ``message``, ``command``); ``note`` says in one line
    what went wrong, if anything.
    """
    part: object
    passed: int = 0
    failed: int = 0
    not_run: int = 0
    total: object = None
    note: str = ""
    failure: dict = field(default_factory=dict)
    failed_tests: list = field(default_factory=list)

    @property
    def points(self):
        """All of the part's points if every test ran and passed, else 0."""
        complete = self.total is not None and self.total > 0 and self.passed == self.total
        return self.part.points if complete and not self.note else 0

    def fail(self, note):
        self.note = note
        return self


def looks_like_a_tree(folder):
    return (Path(folder) / "layers").is_dir()


# -- the pieces of a grading tree -----------------------------------------------------------

def module_name(source):
    """``layers/relu.py`` → ``layers.relu``."""
    return source[:-len(".py")].replace("/", ".")


def shared_modules(project=PROJECT):
    """The project modules the parts' sources import (and what those import) that no part
    writes: the base classes and helpers every grading tree holds, from the reference."""
    return list(_shared_modules(str(Path(project).resolve())))


@lru_cache(maxsize=None)
def _shared_modules(project):
    # Cached, and first computed before any grading thread starts: CPython's parser is not
    # safe to run in several threads at once (a SystemError from its recursion bookkeeping).
    sources = {module_name(source) for part in PARTS for source in part.sources}
    found, pending = set(), [source.replace("/", os.sep) for part in PARTS for source in part.sources]
    while pending:
        path = Path(project) / pending.pop()
        for name in _project_imports(path.read_text(encoding="utf-8")):
            if name not in sources and name not in found:
                found.add(name)
                pending.append(name.replace(".", os.sep) + ".py")
    return tuple(sorted(found))


def _project_imports(text):
    names = set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return {name for name in names if name.split(".")[0] in PROJECT_PACKAGES and "." in name}


def build_part_tree(folder, submission, part, project=PROJECT):
    """Fill ``folder`` with the grading tree of ``part``: the shared modules, empty package
    files, and the part's sources from ``submission``."""
    folder = Path(folder)
    for name in shared_modules(project):
        relative = name.replace(".", "/") + ".py"
        _write(folder / relative, (Path(project) / relative).read_bytes())
    for source in part.sources:
        _write(folder / source, read_student_source(submission, source))
    for package in {path.parent for path in folder.rglob("*.py")}:
        if package != folder and not (package / "__init__.py").exists():
            _write(package / "__init__.py", b"")
    for path in [folder, *folder.rglob("*")]:       # readable by the worker's user, writable by nobody
        path.chmod(0o755 if path.is_dir() else 0o644)


def _write(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


# -- grading -------------------------------------------------------------------------------

def grade(tree, parts=PARTS, timeout=DEFAULT_TIMEOUT_SECONDS, hidden=HIDDEN_TESTS, jobs=None, project=PROJECT,
          use_sandbox=True, budget=DEFAULT_BUDGET_SECONDS):
    """Grade every part of ``parts`` in the student tree ``tree``; a list of PartResult.

    ``jobs`` parts run at the same time (default: one per core, at most four); ``budget``
    seconds in all for the submission, after which the parts not started earn nothing.
    """
    tree = Path(tree).resolve()
    if not looks_like_a_tree(tree):
        raise ValueError(f"{tree} is not a normnet tree (it has no layers/ folder)")
    jobs = jobs or min(4, os.cpu_count() or 1)
    deadline = time.monotonic() + budget
    shared_modules(project)                     # parsed here, once, not in the threads below

    def grade_one(part):
        if time.monotonic() > deadline:
            return PartResult(part).fail(f"not graded: the submission's time budget of {budget:g} s was spent")
        try:
            return _grade_part(tree, part, timeout, Path(hidden), Path(project), use_sandbox)
        except Exception as error:              # noqa: BLE001 - the grader's own failure is this part's note
            return PartResult(part).fail(f"the grader could not grade this part: {type(error).__name__}: {error}")

    with ThreadPoolExecutor(jobs) as pool:      # threads only wait for the processes
        return list(pool.map(grade_one, parts))


def _grade_part(tree, part, timeout, hidden, project, use_sandbox):
    result = PartResult(part)
    test_files = [project / name for name in part.tests if (project / name).is_file()]
    hidden_files = sorted(hidden.glob(f"test_{part.key}_*.py")) if hidden.is_dir() else []
    if not test_files + hidden_files:
        return result.fail("no tests found for this part")
    with tempfile.TemporaryDirectory(prefix="normnet-grade-") as scratch:
        scratch = Path(scratch)
        os.chmod(scratch, 0o755)                # the worker's user reads the tree; the rest stays private
        part_tree, grading, private = scratch / "part", scratch / "grading", scratch / "private"
        private.mkdir(mode=0o700)
        try:
            build_part_tree(part_tree, tree, part, project)
        except ValueError as error:
            return result.fail(str(error))
        grading.mkdir()
        for file in WORKER_FILES:
            shutil.copyfile(file, grading / file.name)
        for path in (grading, *grading.iterdir()):
            path.chmod(0o755 if path.is_dir() else 0o644)
        modules = [module_name(source) for source in part.sources]
        worker_config = json.dumps({"tree": str(part_tree), "modules": modules, "shared": shared_modules(project)})
        limits = dict(sandbox.DEFAULT_LIMITS, cpu_seconds=int(timeout) + 1, drop_root=not (use_sandbox and
                      sandbox.bubblewrap()) and sandbox.can_drop_root())
        report, verdict = private / "report.xml", private / "verdict.json"
        config = {"project": str(project), "modules": modules, "shared": shared_modules(project),
                  "files": {module_name(source): source for source in part.sources},
                  "worker": sandbox.worker_command(part_tree, grading, worker_config, use_sandbox),
                  "worker_log": str(private / "worker.txt"), "verdict": str(verdict), "limits": limits,
                  "exported": list(SHARED_WITH_WORKER), "worker_environment": sandbox.plain_environment()}
        hidden_copy = private / "hidden"
        if hidden_files:                        # the runner reads them from the grader's private folder
            hidden_copy.mkdir()
            for file in hidden_files:
                shutil.copyfile(file, hidden_copy / file.name)
        command = [sys.executable, "-I", str(RUNNER), json.dumps(config),
                   *map(str, test_files), str(project / AGREEMENT_TESTS), *(str(hidden_copy / file.name) for file in hidden_files),
                   "-m", SELECTION, "-p", "no:cacheprovider", "-q", "-o", "addopts=", "--tb=short",
                   f"--rootdir={project}", f"--junitxml={report}"]
        # Compiled files only from a folder of this part's own: never a .pyc planted beside the tests.
        # The trusted runner keeps the teacher's environment (where MNIST is, the cache), minus
        # Python's own variables; the worker gets a bare one (see exercise.sandbox).
        environment = {name: value for name, value in os.environ.items() if not name.startswith("PYTHON")}
        environment.update(sandbox.thread_environment(), MPLBACKEND="Agg", PYTHONDONTWRITEBYTECODE="1",
                           NORMNET_GRADING_PART=part.key,
                           PYTHONPYCACHEPREFIX=str(private / "pycache"))
        output = private / "runner.txt"
        with open(output, "wb") as log:
            process = subprocess.Popen(command, cwd=project, env=environment, stdout=log, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL, start_new_session=True,
                                       preexec_fn=sandbox.limit_trusted_runner)
            try:
                process.wait(timeout)
                timed_out = False
            except subprocess.TimeoutExpired:
                timed_out = True
            finally:
                _kill_group(process)
        if timed_out:
            return result.fail(f"timed out after {timeout:g} s (an endless loop?)")
        if verdict.is_file():
            return result.fail(_one_line(json.loads(verdict.read_text(encoding="utf-8"))["note"]))
        if not report.is_file():
            text = _tail(output)
            return result.fail(f"the tests could not run (exit code {process.returncode}): {_last_line(text)}")
        _read_report(report, result, project)
        _add_worker_end(result, private / "worker.txt")
    return result


def _kill_group(process):
    """Kill the part's whole process group (the runner, the worker, anything they started)."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    process.wait()


def _read_report(report, result, project):
    """Count passed, failed and unrun tests of a JUnit report into ``result``."""
    if report.stat().st_size > MAX_REPORT_BYTES:
        result.fail(f"the test report is over {MAX_REPORT_BYTES >> 20} MiB (the student's messages are too long)")
        return
    try:
        root = ElementTree.parse(report).getroot()
    except ElementTree.ParseError as error:
        result.fail(f"unreadable test report ({error})")
        return
    passed = failed = not_run = 0
    for case in root.iter("testcase"):
        problems = [child for child in case if child.tag in ("failure", "error")]
        if problems:
            failed += 1
            described = _describe_failure(case, problems[0], project, result.part.tests, result.part.name)
            result.failed_tests.append(described["test"])       # "a hidden test" for a hidden one
            if not result.failure:
                result.failure = described
        elif case.find("skipped") is not None:
            not_run += 1
        else:
            passed += 1
    result.passed, result.failed, result.not_run = passed, failed, not_run
    result.total = passed + failed + not_run
    if failed:
        result.note = f"{failed} of {result.total} tests failed; first {result.failure['test']}"
    elif not_run:
        result.note = f"{not_run} of {result.total} tests did not run (skipped)"
    elif passed == 0:
        result.note = "no tests ran"


def _describe_failure(case, problem, project, public_tests, part_name):
    """The failing test's name, its whole message and a command that reproduces it."""
    name = case.get("name") or "?"
    modules = (case.get("classname") or "").split(".")
    test_file = next(("/".join(modules[:end]) + ".py" for end in range(len(modules), 0, -1)
                      if Path(project, *modules[:end]).with_suffix(".py").is_file()), "")
    if test_file == AGREEMENT_TESTS:
        public_tests, command = (test_file,), f"normnet exercise grade . --part {part_name}"
    else:
        command = f"python -m pytest {test_file}::{name.split('[')[0]}"
    if test_file not in public_tests:           # a hidden test: nothing of it reaches the feedback
        return {"test": "a hidden test", "message": "(hidden tests are not shown)", "command": ""}
    message = (problem.get("message") or "").strip()
    details = [line[4:] if line.startswith("E   ") else line[1:] for line in (problem.text or "").splitlines()
               if line.startswith("E ")]
    if details:
        message = "\n".join(details)
    return {"test": name, "message": _clean(message) or problem.tag, "command": command}


def _add_worker_end(result, log):
    """If the worker died (killed for memory, crashed), say so: it explains every failure after."""
    if result.failed and log.is_file():
        last = _last_line(_tail(log))
        if "MemoryError" in last or "Killed" in last:
            result.note += f" (the student's code ran out of memory: {last})"


def _tail(path, size=8000):
    """The last ``size`` bytes of a log, as text."""
    with open(path, "rb") as file:
        file.seek(max(0, os.fstat(file.fileno()).st_size - size))
        return file.read().decode("utf-8", errors="replace")


def _last_line(text):
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return _one_line(lines[-1]) if lines else ""


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\x80-\x9f\u202a-\u202e\u2066-\u2069]")


def _clean(text, limit=20_000):
    """``text`` without control characters (a student's message cannot move the cursor),
    encodable as UTF-8 whatever it held, and at most ``limit`` characters."""
    text = _CONTROL.sub("?", str(text).encode("utf-8", "backslashreplace").decode("utf-8"))
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _one_line(text, limit=300):
    return _clean(" ".join(str(text).split()), limit)


# -- reporting ----------------------------------------------------------------------------

def score(results):
    return sum(result.points for result in results), sum(result.part.points for result in results)


def format_table(results):
    """The grade table in the order of the points table; feedback on the first failing test
    of each part (name, message, a command that reproduces it); the next part to work on;
    last, ``score: X/Y``."""
    width = max(len("part"), *(len(result.part.name) for result in results))
    lines = [f"{'part':{width}s}  {'points':>7s}  {'passed':>6s}  {'failed':>6s}  {'not run':>7s}  note"]
    for result in results:
        counts = ["-", "-", "-"] if result.total is None else [result.passed, result.failed, result.not_run]
        note = _one_line(result.note) if not result.points else ""
        lines.append(f"{result.part.name:{width}s}  {result.points:>3d}/{result.part.points:<3d}  {counts[0]:>6}  "
                     f"{counts[1]:>6}  {counts[2]:>7}  {note}".rstrip())
    for result in results:
        if result.failure:
            lines += ["", f"{result.part.name}: {result.failure['test']} failed"]
            lines += ["    " + line for line in result.failure["message"].splitlines()[:40]]
            if result.failure["command"]:
                lines.append(f"    reproduce: {result.failure['command']}")
    unfinished = [result for result in results if not result.points]
    if unfinished:
        nxt = unfinished[0].part
        lines += ["", f"next: {nxt.name} ({', '.join(nxt.sources)}; {', '.join(nxt.tests)})"]
    earned, possible = score(results)
    lines.append(f"score: {earned}/{possible}")
    return "\n".join(lines)


def submissions_in(folder):
    """The submissions directly inside ``folder``, by name: student trees and hand-in
    archives (``normnet exercise pack``)."""
    return sorted(path for path in Path(folder).iterdir() if not path.is_symlink() and (
        path.is_dir() and looks_like_a_tree(path) or path.is_file() and is_archive(path)))


def _submission_name(path):
    name = path.name
    for suffix in ARCHIVE_SUFFIXES:
        name = name[:-len(suffix)] if name.endswith(suffix) else name
    return _clean(name, 200)


def _grade_submission(path, parts, options):
    """Grade a student tree or a hand-in archive (unpacked into a fresh folder first)."""
    if not (path.is_file() and is_archive(path)):
        return grade(path, parts=parts, **options)
    with tempfile.TemporaryDirectory(prefix="normnet-handin-") as unpacked:
        unpack(path, unpacked, graded_only=True)
        return grade(unpacked, parts=parts, **options)


def safe_cell(value, limit=2000):
    """A CSV cell no spreadsheet reads as a formula, without control characters, bounded."""
    text = _clean(value, limit)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "'", "\t", "\r") else text


def csv_header(parts):
    return ["submission"] + [part.name for part in parts] + ["total", "note"]


def csv_row(name, results):
    notes = "; ".join(f"{result.part.name}: {_one_line(result.note)}" for result in results if result.note)
    return [safe_cell(name)] + [result.points for result in results] + [score(results)[0], safe_cell(notes)]


def graded_names(path, parts):
    """The submissions already in the CSV at ``path`` (to resume); ValueError if its columns
    are not those of ``parts``."""
    if not Path(path).is_file():
        return set()
    csv.field_size_limit(1 << 24)
    with open(path, newline="", encoding="utf-8", errors="backslashreplace") as file:
        rows = list(csv.reader(file))
    if not rows:
        return set()
    if rows[0] != csv_header(parts):
        raise ValueError(f"{path} holds other columns than this grading's; choose another --csv file")
    return {row[0] for row in rows[1:] if row}          # as written: compare with safe_cell(name)


def append_csv(path, name, results):
    """Append one submission's row (and the header first, to a new file)."""
    parts = [result.part for result in results]
    new = not Path(path).is_file() or Path(path).stat().st_size == 0
    with open(path, "a", newline="", encoding="utf-8", errors="backslashreplace") as file:
        writer = csv.writer(file)
        if new:
            writer.writerow(csv_header(parts))
        writer.writerow(csv_row(name, results))
        file.flush()
        os.fsync(file.fileno())


def write_csv(path, graded):
    """One row per submission (``graded``: name → results), one column per part, the total, a note."""
    if Path(path).exists():
        Path(path).unlink()
    for name, results in graded.items():
        append_csv(path, name, results)


def grade_class(folder, csv_path, parts=PARTS, report=print, **options):
    """Grade every submission in ``folder`` not yet in ``csv_path``, appending a row each;
    returns {name: results} of those graded now. One submission's failure is its own note."""
    before = project_digest(options.get("project", PROJECT))
    done = graded_names(csv_path, parts)
    graded = {}
    for submission in submissions_in(folder):
        name = _submission_name(submission)
        if safe_cell(name) in done:
            report(f"== {name}: already in {csv_path}")
            continue
        report(f"== {name}")
        try:
            results = _grade_submission(submission, parts, options)
        except Exception as error:              # noqa: BLE001 - one submission's problem is its note
            results = [PartResult(part).fail(f"the grader could not grade this submission: "
                                             f"{type(error).__name__}: {_one_line(error)}") for part in parts]
        if project_digest(options.get("project", PROJECT)) != before:
            raise ValueError(f"the grader's own tests or reference changed while {name} was graded (by the "
                             f"submission, or by someone editing this checkout); its row is not written and "
                             f"the run stops: restore the files and run again to resume after the last row")
        append_csv(csv_path, name, results)
        graded[name] = results
        report(format_table(results) + "\n")
    return graded


def project_digest(project=PROJECT):
    """A digest of the grader's tests and reference code: they must not change while grading."""
    digest = hashlib.sha256()
    for folder in ("tests", "exercise", *PROJECT_PACKAGES):
        for path in sorted(Path(project, folder).rglob("*.py")):
            digest.update(str(path.relative_to(project)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()
