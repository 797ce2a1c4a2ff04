"""``normnet exercise grade``: score a student tree, part by part, with the points table.

Each part runs in its own process (``exercise/run_part.py`` under ``python -I``), with the
student tree as working directory and first on the import path, so the tests exercise
the student's code and never the installed normnet. The tests are the grader's own: the
exercise tests of the project this package belongs to, plus its hidden tests
(``tests/hidden/test_<key>_*.py``) when that folder is there; a student grading their own
tree therefore runs the tests of that tree, a teacher runs the teacher's.

A part earns its points when every one of its tests passes (all or nothing, see
``exercise.points``). A syntax error, a crash or an endless loop (each part has a time
limit; the whole process group is killed) costs that part's points and is reported in
one line. Tests of the fast layers and of the textbook reference are deselected: they
grade nothing a student wrote.
"""
import csv
import json
import os
import signal
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ElementTree
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from exercise.points import PARTS

PROJECT = Path(__file__).resolve().parent.parent
HIDDEN_TESTS = PROJECT / "tests" / "hidden"
RUNNER = Path(__file__).with_name("run_part.py")
DEFAULT_TIMEOUT_SECONDS = 120
SELECTION = "not fast and not textbook"
NOTE_WIDTH = 110


@dataclass
class PartResult:
    """The grade of one part.

    ``passed`` of ``total`` tests passed (``total`` None: the tests could not run);
    ``waiting`` of them wait for the parts ``waiting_for``; ``failed`` is set by a failing
    test, a syntax error, a crash or a time-out, which ``note`` describes in one line.
    """
    part: object
    passed: int = 0
    total: object = None
    waiting: int = 0
    waiting_for: list = field(default_factory=list)
    failed: bool = False
    note: str = ""

    @property
    def points(self):
        """All of the part's points if no test failed and at least one passed, else 0."""
        return self.part.points if not self.failed and self.passed > 0 else 0

    def fail(self, note):
        self.failed, self.note = True, note
        return self


def looks_like_a_tree(folder):
    return (Path(folder) / "layers").is_dir()


def grade(tree, parts=PARTS, timeout=DEFAULT_TIMEOUT_SECONDS, hidden=HIDDEN_TESTS, jobs=None, project=PROJECT):
    """Grade every part of ``parts`` in the student tree ``tree``; a list of PartResult.

    ``jobs`` parts run at the same time (default: one per core, at most four); each part
    is a process of its own either way, so they cannot disturb one another.
    """
    tree = Path(tree).resolve()
    if not looks_like_a_tree(tree):
        raise ValueError(f"{tree} is not a normnet tree (it has no layers/ folder)")
    sources = {source: part.name for part in PARTS for source in part.sources}
    jobs = jobs or min(4, os.cpu_count() or 1)

    def grade_part(part):
        return _grade_part(tree, part, timeout, Path(hidden), Path(project), sources)

    with ThreadPoolExecutor(jobs) as pool:      # threads only wait for the processes
        return list(pool.map(grade_part, parts))


def _grade_part(tree, part, timeout, hidden, project, sources):
    result = PartResult(part)
    for source in part.sources:
        problem = _source_problem(tree / source, source)
        if problem:
            return result.fail(problem)
    test_files = [project / name for name in part.tests if (project / name).is_file()]
    if hidden.is_dir():
        test_files += sorted(hidden.glob(f"test_{part.key}_*.py"))
    if not test_files:
        return result.fail("no tests found for this part")

    config = {"tree": str(tree), "tests": str(project / "tests"), "project": str(project),
              "part": part.name, "sources": sources}
    environment = dict(os.environ, PYTHONPATH=str(tree), PYTHONDONTWRITEBYTECODE="1", MPLBACKEND="Agg")
    with tempfile.TemporaryDirectory(prefix="normnet-grade-") as scratch:
        report, log = Path(scratch) / "report.xml", Path(scratch) / "output.txt"
        command = [sys.executable, "-I", str(RUNNER), json.dumps(config), *map(str, test_files),
                   "-m", SELECTION, "-p", "no:cacheprovider", "-q", f"--junitxml={report}"]
        with open(log, "wb") as output:
            process = subprocess.Popen(command, cwd=tree, env=environment, stdout=output,
                                       stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                       start_new_session=True)
            try:
                exit_code = process.wait(timeout)
            except subprocess.TimeoutExpired:
                _kill_group(process)
                return result.fail(f"timed out after {timeout:g} s (an endless loop?)")
        if not report.is_file():
            last_line = _last_line(log.read_text(encoding="utf-8", errors="replace"))
            return result.fail(f"the tests crashed (exit code {exit_code})" + (f": {last_line}" if last_line else ""))
        _read_report(report, result)
    return result


def _source_problem(path, name):
    if not path.is_file():
        return f"{name} is missing"
    try:
        compile(path.read_bytes(), name, "exec", dont_inherit=True)
    except SyntaxError as error:
        return f"syntax error in {name}, line {error.lineno}: {error.msg}"
    except ValueError as error:                     # e.g. null bytes in the file
        return f"{name} cannot be read as Python: {error}"
    return None


def _kill_group(process):
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (AttributeError, ProcessLookupError, PermissionError):   # not POSIX, or already gone
        process.kill()
    process.wait()


def _read_report(report, result):
    """Count passed, failed and waiting tests of a JUnit report into ``result``."""
    try:
        root = ElementTree.parse(report).getroot()
    except ElementTree.ParseError as error:
        result.fail(f"unreadable test report ({error})")
        return
    passed = failed = waiting = 0
    waiting_for, first_failure = [], None
    for case in root.iter("testcase"):
        problems = [child for child in case if child.tag in ("failure", "error")]
        if not problems:
            if case.find("skipped") is None:
                passed += 1
            continue
        waits = [item.get("value") for item in case.iter("property") if item.get("name") == "waits_for"]
        if waits:
            waiting += 1
            waiting_for += [name for name in waits if name not in waiting_for]
            continue
        failed += 1
        if first_failure is None:
            first_failure = f"{case.get('name')}: {_problem_text(problems[0])}"
    result.passed, result.total, result.waiting = passed, passed + failed + waiting, waiting
    result.waiting_for = waiting_for
    needed = [name for name in waiting_for if name in result.part.needs]
    if first_failure:
        result.fail((f"{failed} failed, first " if failed > 1 else "") + first_failure)
    elif needed:
        result.fail(f"{waiting} waiting for {', '.join(waiting_for)}; graded once {', '.join(needed)} "
                    f"{'is' if len(needed) == 1 else 'are'} done")
    elif waiting:
        result.note = f"{waiting} waiting for {', '.join(waiting_for)}"
    elif passed == 0:
        result.fail("no tests ran")


def _problem_text(problem):
    """One line saying why a test failed: the exception line, not the traceback."""
    message = (problem.get("message") or "").strip()
    if message and message not in ("collection failure", "failed on setup with"):
        return message.splitlines()[0]
    for line in reversed((problem.text or "").splitlines()):
        if line.startswith("E   "):
            return line[4:].strip()
    return message.splitlines()[0] if message else problem.tag


def _last_line(text):
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


# -- reporting ----------------------------------------------------------------------------

def score(results):
    return sum(result.points for result in results), sum(result.part.points for result in results)


def format_table(results):
    """The grade table: part, tests passed/total, points, and a one-line note; then ``score: X/Y``."""
    width = max(len("part"), *(len(result.part.name) for result in results))
    lines = [f"{'part':{width}s}  {'tests':>7s}  {'points':>7s}  note"]
    for result in results:
        tests = "-" if result.total is None else f"{result.passed}/{result.total}"
        points = f"{result.points}/{result.part.points}"
        note = result.note if len(result.note) <= NOTE_WIDTH else result.note[:NOTE_WIDTH - 1] + "…"
        lines.append(f"{result.part.name:{width}s}  {tests:>7s}  {points:>7s}  {note}".rstrip())
    earned, possible = score(results)
    lines.append(f"score: {earned}/{possible}")
    return "\n".join(lines)


def submissions_in(folder):
    """The student trees directly inside ``folder`` (a folder of submissions), by name."""
    return sorted(path for path in Path(folder).iterdir() if path.is_dir() and looks_like_a_tree(path))


def write_csv(path, graded):
    """One row per submission (``graded``: name → results), one column per part, and the total."""
    parts = [result.part for result in next(iter(graded.values()))] if graded else list(PARTS)
    with open(path, "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["submission"] + [part.name for part in parts] + ["total"])
        for name, results in graded.items():
            writer.writerow([name] + [result.points for result in results] + [score(results)[0]])
