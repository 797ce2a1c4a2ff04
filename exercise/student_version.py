"""``normnet exercise make DIR``: write the student version of the project into DIR.

DIR mirrors the project's layout, so a solution file copied to the same path in DIR
fills that part in. What a student writes is stubbed (see ``exercise.markers``); what a
student does not write (data, the command line, the study, these tools) is copied as it is.

The student version holds **no working implementation of a graded part**: its files are
chosen from the files git tracks (``git ls-files``, so a ``conv.py~`` or ``relu_old.py``
beside the solution never ships) by an allow-list, and

- the fast layers are not in it: its ``layers/fast`` is generated and hands out the
  student's own teaching layers under the fast names, so whatever builds from the fast
  layers (the LeNet builder, ``normnet train``, the notebooks) runs the student's code;
- the tests are the exercise tests (``exercise.points``) and the helpers they import, not
  the textbook reference layers nor the project's internal tests;
- the notebooks have their solution blocks stubbed and their outputs cleared.

DIR also gets the setup files (so ``pip install -e DIR`` works), a pytest configuration
that runs the student's parts only, a ``.gitignore`` and STUDENT.md with the instructions.
Left out: the hidden tests of ``tests/hidden``, the benchmarks, docs and TEACHING.md.
"""
import json
import re
import shutil
import string
import subprocess
from pathlib import Path

from exercise.markers import has_solutions, strip_solutions
from exercise.points import PARTS, TOTAL_POINTS

PROJECT = Path(__file__).resolve().parent.parent
# Packages whose solution blocks a student writes; the others are copied unchanged.
STUDENT_PACKAGES = ("framework", "layers", "optimizers", "regularizers")
UNCHANGED_PACKAGES = ("data", "experiments", "exercise")
TOP_LEVEL_FILES = ("pyproject.toml", "README.md", "LICENSE", ".importlinter")
# Never in the student version: working twins of graded layers, and the tests' reference layers.
WITHHELD = ("layers/fast/", "tests/textbook.py", "tests/hidden/")
TEST_HELPERS = ("tests/conftest.py", "tests/helpers.py")
STUDENT_TEMPLATE = Path(__file__).with_name("STUDENT.md")
FAST_STANDIN = '''"""The fast layers, in the student version: your own layers.

The teacher's fast twins of the layers you write are not handed out. Everything that
builds from the fast layers (``framework.models.build_lenet``, ``normnet train``, the
notebooks) builds from the teaching layers in ``layers/`` instead: your code.
"""
from layers import __all__, lazy_attribute  # noqa: F401
from layers import _MODULES


def __getattr__(name):
    return lazy_attribute(globals(), _MODULES, name)


def __dir__():
    return sorted(set(globals()) | set(__all__))
'''
STUDENT_GITIGNORE = """.venv/
venv/
__pycache__/
*.py[cod]
*.egg-info/
.pytest_cache/
.ipynb_checkpoints/
runs/
*.tar.gz
"""


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
    generated = {"STUDENT.md": student_instructions(), "layers/fast/__init__.py": FAST_STANDIN,
                 ".gitignore": STUDENT_GITIGNORE, "setup.cfg": student_setup_cfg(project)}
    for name, text in generated.items():
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        (target / name).write_text(text, encoding="utf-8")
    summary["files"] += len(generated)
    return summary


def tracked_files(project):
    """The files git tracks in ``project``, relative paths; ValueError outside a git checkout."""
    try:
        listing = subprocess.run(["git", "-C", str(project), "ls-files", "-z"], capture_output=True, check=True,
                                 timeout=60).stdout
    except (OSError, subprocess.CalledProcessError, subprocess.TimeoutExpired):
        raise ValueError(f"{project} is not a git checkout; the student version is made from the files git "
                         f"tracks (clone normnet with git)") from None
    return sorted(Path(name) for name in listing.decode("utf-8").split("\0") if name)


def student_files(project=PROJECT):
    """The paths (relative to the project) the student version copies from it: tracked
    files on the allow-list, never one under ``WITHHELD``."""
    exercise_tests = {name for part in PARTS for name in part.tests}
    chosen = []
    for path in tracked_files(project):
        name = path.as_posix()
        if name.startswith(WITHHELD) or not (Path(project) / path).is_file():
            continue
        if name in TOP_LEVEL_FILES or name in exercise_tests or name in TEST_HELPERS \
                or path.parts[0] in STUDENT_PACKAGES + UNCHANGED_PACKAGES and path.suffix in (".py", ".md", ".txt") \
                or path.parts[0] == "notebooks" and len(path.parts) == 2 and path.suffix in (".ipynb", ".py"):
            chosen.append(path)
    return chosen


def _student_files(project):
    """(source path, path relative to the project) of every file the student version copies."""
    for relative in student_files(project):
        yield Path(project) / relative, relative


def student_setup_cfg(project):
    """The project's setup.cfg, with pytest selecting the student's own tests by default."""
    text = (Path(project) / "setup.cfg").read_text(encoding="utf-8")
    return text.replace("addopts = -ra", 'addopts = -ra -m "not fast and not textbook"', 1)


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
    rows = ["| # | part | points | you write | tests | used with | about |", "|---:|---|---:|---|---|---|---:|"]
    for number, part in enumerate(PARTS, start=1):
        rows.append(f"| {number} | {part.name} | {part.points} | {', '.join(f'`{s}`' for s in part.sources)} "
                    f"| {', '.join(f'`{t}`' for t in part.tests)} | {', '.join(part.builds_on) or '—'} "
                    f"| {part.minutes} min |")
    template = string.Template(STUDENT_TEMPLATE.read_text(encoding="utf-8"))
    return template.substitute(parts="\n".join(rows), total=TOTAL_POINTS)
