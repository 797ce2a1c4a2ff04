"""``normnet exercise make DIR``: write the student version of the project into DIR.

DIR mirrors the project's layout, so a solution file copied to the same path in DIR
fills that part in. What a student writes is stubbed (see ``exercise.markers``); what
a student does not write (the fast layers, data, the command line, the study, these
tools) is copied as it is. DIR gets the exercise tests (the very files of the project's
test suite that ``exercise.points`` names, plus the helpers they import), the notebooks
with their solution blocks stubbed and their outputs cleared, the setup files (so
``pip install -e DIR`` works) and a STUDENT.md with the instructions.

Left out: the project's internal tests (fast-layer internals, persistence, data, ...),
the hidden tests of ``tests/hidden``, the benchmarks, docs and TEACHING.md.
"""
import json
import re
import shutil
import string
from pathlib import Path

from exercise.markers import has_solutions, strip_solutions
from exercise.points import PARTS, TOTAL_POINTS

PROJECT = Path(__file__).resolve().parent.parent
# Packages whose solution blocks a student writes; every other package is copied unchanged.
STUDENT_PACKAGES = ("framework", "layers", "optimizers", "regularizers")
UNCHANGED_PACKAGES = ("data", "experiments", "exercise")
TOP_LEVEL_FILES = ("setup.cfg", "pyproject.toml", "README.md", "LICENSE", ".importlinter")
SKIPPED_NAMES = ("__pycache__", ".ipynb_checkpoints", ".pytest_cache")
STUDENT_TEMPLATE = Path(__file__).with_name("STUDENT.md")


def make_student_version(target, force=False, project=PROJECT):
    """Write the student version of ``project`` into ``target``; return what was written.

    Refuses (ValueError, one line) a ``target`` that is not empty unless ``force`` (which
    overwrites the files of the student version and leaves any other file alone), and
    always the project itself or a folder that contains it.
    """
    project, target = Path(project).resolve(), Path(target).resolve()
    if target == project or project.is_relative_to(target):
        raise ValueError(f"{target} holds the solution itself; choose a folder outside {project}")
    if target.exists() and not target.is_dir():
        raise ValueError(f"{target} is a file, not a folder")
    if target.is_dir() and any(target.iterdir()) and not force:
        raise ValueError(f"{target} is not empty; add --force to write the student version into it anyway")

    summary = {"files": 0, "stubs": 0, "notebooks": 0}
    for source, relative in _student_files(project):
        destination = target / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        if source.suffix == ".py" and relative.parts[0] in STUDENT_PACKAGES:
            text = source.read_text(encoding="utf-8")
            if has_solutions(text):
                stripped = strip_solutions(text, str(relative))
                summary["stubs"] += stripped.count("raise NotImplementedError(") - text.count("raise NotImplementedError(")
                text = stripped
            destination.write_text(text, encoding="utf-8")
        elif source.suffix == ".ipynb":
            destination.write_text(strip_notebook(source.read_text(encoding="utf-8"), str(relative)),
                                   encoding="utf-8")
            summary["notebooks"] += 1
        else:
            shutil.copyfile(source, destination)
        summary["files"] += 1
    (target / "STUDENT.md").write_text(student_instructions(), encoding="utf-8")
    summary["files"] += 1
    return summary


def _student_files(project):
    """(source path, path relative to the project) of every file the student version holds."""
    for name in TOP_LEVEL_FILES:
        if (project / name).is_file():
            yield project / name, Path(name)
    for package in STUDENT_PACKAGES + UNCHANGED_PACKAGES:
        yield from _files_below(project, project / package)
    tests = project / "tests"
    exercise_tests = {Path(name) for part in PARTS for name in part.tests}
    for path in sorted(tests.glob("*.py")):
        relative = path.relative_to(project)
        # the exercise tests, and the helpers and conftest they need (test files of the
        # project's internals stay behind)
        if relative in exercise_tests or not path.name.startswith("test_"):
            yield path, relative
    notebooks = project / "notebooks"
    for path in sorted(notebooks.glob("*.ipynb")) + sorted(notebooks.glob("*.py")):
        yield path, path.relative_to(project)


def _files_below(project, folder):
    if not folder.is_dir():
        return
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not any(part in SKIPPED_NAMES or part.endswith(".egg-info") for part in path.parts):
            if path.suffix not in (".pyc", ".pyo"):
                yield path, path.relative_to(project)


def strip_notebook(text, name):
    """A notebook (JSON text) for students: solution blocks stubbed, cells tagged ``solution``
    left out, every output and execution count cleared."""
    notebook = json.loads(text)
    cells = []
    for number, cell in enumerate(notebook["cells"], start=1):
        metadata = cell.setdefault("metadata", {})
        if "solution" in metadata.get("tags", []):
            continue
        if cell["cell_type"] == "code":
            source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            if has_solutions(source):
                source = strip_solutions(source, f"{name}, cell {number}", _cell_message(source))
                cell["source"] = source.splitlines(keepends=True)
            cell["outputs"] = []
            cell["execution_count"] = None
            metadata.pop("execution", None)
        cells.append(cell)
    notebook["cells"] = cells
    return json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"


def _cell_message(source):
    """The stub's message for a block outside any function: the cell's "# Exercise N.M" title."""
    title = re.search(r"^#\s*(Exercise\s+[\w.]+)", source, flags=re.MULTILINE)
    name = title.group(1) if title else "Exercise"
    return f"{name}: your code here (see the text above)"


def student_instructions():
    """STUDENT.md: the template with the table of parts filled in."""
    rows = ["| part | points | you write | graded by |", "|---|---:|---|---|"]
    for part in PARTS:
        rows.append(f"| {part.name} | {part.points} | {', '.join(f'`{s}`' for s in part.sources)} "
                    f"| {', '.join(f'`{t}`' for t in part.tests)} |")
    template = string.Template(STUDENT_TEMPLATE.read_text(encoding="utf-8"))
    return template.substitute(parts="\n".join(rows), total=TOTAL_POINTS)
