"""Execute every teaching notebook in notebooks/ top to bottom, three ways.

1. From the repository (the solution): no cell raises, the first cell's table shows every part
   the notebook uses as done, and every exercise's check says it is correct. Every exercise
   cell's solution sits between the solution markers, so this runs every solution against the
   check that follows it.
2. From a fresh, empty student version (``normnet exercise make``): the first cell's table shows
   every part as still a stub, and the only errors are the stubs' NotImplementedError inside
   exercise cells and exercise.progress's one-line stops (a part still a stub, an exercise not
   done yet): no NameError, no traceback from inside a layer.
3. The student version's notebooks (exercises stubbed) on the solution's parts: every check says
   in one line that its exercise is not done yet, and nothing else fails.

The notebooks are run as a student would run them: kernel python3, working directory notebooks/
(where their figures module lies), real MNIST from NORMNET_DATA (CI sets it; locally it falls
back to the verified copy in ../shared/data/mnist). Nothing is written back: the executed copy
stays in memory, so the committed notebooks never change here.
"""
import json
import os
import re
from pathlib import Path

import pytest

from framework.threads import THREAD_VARIABLES

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

REPOSITORY = Path(__file__).resolve().parent.parent
NOTEBOOK_FOLDER = REPOSITORY / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_FOLDER.glob("*.ipynb"))
CELL_TIMEOUT_SECONDS = 300
# When only the checks' stops are looked at, the notebooks that train do it on a few batches
# (the settings in their first code cell, overridden by a cell right after it).
QUICK_SETTINGS = {"03_regularization_and_norm_loss.ipynb": "TRAIN_SIZE, ITERATIONS = 1000, 20",
                  "05_lenet_on_mnist.ipynb": "TRAIN_SIZE, EPOCHS, EVALUATION_SIZE = 1920, 1, 200"}


def test_there_are_notebooks():
    assert NOTEBOOKS, f"no notebooks found in {NOTEBOOK_FOLDER}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.name for path in NOTEBOOKS])
def test_every_notebook_has_exercises_that_the_student_version_stubs(path):
    from exercise.student_version import strip_notebook

    begin = "# BEGIN" + " SOLUTION"
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    exercises = [cell for cell in cells if "exercise" in cell["metadata"].get("tags", [])]
    with_solutions = [cell for cell in cells if begin in "".join(cell["source"])]
    assert len(exercises) >= 3 and exercises == with_solutions      # tagged exactly where a solution sits
    titles = re.findall(r"\*\*Exercise (\d\.\d) \(", "".join("".join(cell["source"]) for cell in cells
                                                       if cell["cell_type"] == "markdown"))
    assert titles == [f"{path.name[1]}.{number}" for number in range(1, len(titles) + 1)]   # numbered in order
    assert len(titles) == len(exercises)

    student = json.loads(strip_notebook(path.read_text(encoding="utf-8"), path.name))["cells"]
    stubs = ["".join(cell["source"]) for cell in student if "exercise" in cell["metadata"].get("tags", [])]
    for title, stub in zip(titles, stubs):
        assert begin not in stub and re.search(rf'raise NotImplementedError\("(Exercise {title}|[\w.]+): ', stub)
    assert all(not cell.get("outputs") for cell in student)


@pytest.fixture(scope="module")
def student_version(tmp_path_factory):
    """A fresh, empty student version (``normnet exercise make``): every part a stub."""
    from exercise.student_version import make_student_version

    target = tmp_path_factory.mktemp("student") / "student"
    make_student_version(target)
    return target


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.name for path in NOTEBOOKS])
def test_notebook_runs_from_the_solution_and_every_check_says_correct(path, monkeypatch):
    files_before = _notebook_folder_files()
    notebook = _execute(nbformat.read(path, as_version=4), REPOSITORY, monkeypatch, allow_errors=False)

    new_files = sorted(str(file.relative_to(REPOSITORY)) for file in _notebook_folder_files() - files_before)
    assert not new_files, f"{path.name} wrote files into notebooks/: {new_files}"
    status = _parts_table(notebook)
    assert status and set(status.values()) == {"done"}, status
    lines = _printed_lines(notebook)
    for title in _exercise_titles(notebook):
        said = [line for line in lines if line.startswith(f"Exercise {title}: ")]
        assert said and all("correct" in line for line in said), f"{path.name}: exercise {title}'s check said {said}"
    assert not [line for line in lines if "not done yet" in line or "still a stub" in line]


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.name for path in NOTEBOOKS])
def test_notebook_runs_from_the_empty_student_version_and_stops_only_at_stubs(path, student_version, monkeypatch):
    notebook = _execute(nbformat.read(student_version / "notebooks" / path.name, as_version=4), student_version,
                        monkeypatch, allow_errors=True)

    status = _parts_table(notebook)
    assert status and set(status.values()) == {"still a stub"}, status     # the first cell names the missing parts
    errors = _errors(notebook)
    assert any(error[2] == "PartStillAStub" for error in errors)
    unexpected = [error for error in errors if not _stops_at_a_stub(*error)]
    assert not unexpected, f"{path.name}: errors other than the stubs' stops:\n" + _listed(unexpected)


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.name for path in NOTEBOOKS])
def test_every_check_says_in_one_line_when_its_exercise_is_not_done(path, monkeypatch):
    """The student version's notebooks (exercises stubbed) on the solution's parts: each check stops
    with one line naming its exercise; no NameError from a variable the exercise did not define."""
    from exercise.student_version import strip_notebook

    notebook = nbformat.reads(strip_notebook(path.read_text(encoding="utf-8"), path.name), as_version=4)
    if path.name in QUICK_SETTINGS:
        first = next(number for number, cell in enumerate(notebook.cells) if cell.cell_type == "code")
        notebook.cells.insert(first + 1, nbformat.v4.new_code_cell(QUICK_SETTINGS[path.name]))
    notebook = _execute(notebook, REPOSITORY, monkeypatch, allow_errors=True)

    errors = _errors(notebook)
    unexpected = [error for error in errors if not _stops_at_a_stub(*error) or error[2] == "PartStillAStub"]
    assert not unexpected, f"{path.name}: errors other than the exercises' stubs:\n" + _listed(unexpected)
    not_done = {re.match(r"Exercise (\d\.\d) is not done yet: ", message).group(1)
                for _, _, ename, message, _ in errors if ename == "ExerciseNotDone"}
    assert not_done == set(_exercise_titles(notebook))


def test_only_the_stubs_own_errors_and_the_one_line_stops_pass(monkeypatch):
    """The runs above can fail: on a hand-made notebook, a NameError, a layer's stub raising outside
    an exercise cell or inside one, and a look-alike stop with a traceback are told apart from the
    errors they allow."""
    cells = [("from exercise.progress import PartStillAStub, require_answers", []),
             ('raise NotImplementedError("Exercise 9.1: your code here (see the text above)")', ["exercise"]),
             ('require_answers(globals(), "Exercise 9.1", "answer")', []),
             ('raise PartStillAStub("this cell needs TanH, still a stub")', []),
             ("answer + 1", []),
             ('raise NotImplementedError("TanH.forward: implement it (see the docstring)")', []),
             ('raise NotImplementedError("TanH.forward: implement it (see the docstring)")', ["exercise"]),
             ('class PartStillAStub(Exception):\n    pass\nraise PartStillAStub("a look-alike")', [])]
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source, metadata={"tags": tags})
                                               for source, tags in cells])
    errors = _errors(_execute(notebook, REPOSITORY, monkeypatch, allow_errors=True))
    assert [(error[0], error[2], _stops_at_a_stub(*error)) for error in errors] == [
        (1, "NotImplementedError", True), (2, "ExerciseNotDone", True), (3, "PartStillAStub", True),
        (4, "NameError", False), (5, "NotImplementedError", False), (6, "NotImplementedError", False),
        (7, "PartStillAStub", False)]


def _execute(notebook, project, monkeypatch, allow_errors):
    """``notebook`` executed as a student runs it: kernel python3, working directory ``project``/notebooks
    (where its figures module lies), the code of ``project`` (the solution or a student version),
    real MNIST. Nothing is written back."""
    shared_mnist = REPOSITORY.parent / "shared" / "data" / "mnist"
    if not os.environ.get("NORMNET_DATA") and shared_mnist.is_dir():
        monkeypatch.setenv("NORMNET_DATA", str(shared_mnist))
    monkeypatch.setenv("MPLBACKEND", "Agg")  # the notebooks select the inline backend themselves
    # One BLAS thread, as in conftest.py: threaded BLAS on a busy machine slows small products many times.
    for variable in THREAD_VARIABLES:
        monkeypatch.setenv(variable, "1")
    # Run against the code of ``project``, whatever version of normnet is installed.
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(project), os.environ.get("PYTHONPATH")])))
    client = nbclient.NotebookClient(notebook, timeout=CELL_TIMEOUT_SECONDS, kernel_name="python3",
                                     allow_errors=allow_errors,
                                     resources={"metadata": {"path": str(Path(project) / "notebooks")}})
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as error:
        pytest.fail(f"a cell raised an error:\n{error}")
    return notebook


def _exercise_titles(notebook):
    """The exercises' numbers ("1.1", ...) in the notebook's text."""
    text = "".join(cell.source for cell in notebook.cells if cell.cell_type == "markdown")
    return re.findall(r"\*\*Exercise (\d\.\d) \(", text)


def _printed_lines(notebook):
    return [line for cell in notebook.cells for output in cell.get("outputs", []) if output.output_type == "stream"
            for line in output.text.splitlines()]


def _parts_table(notebook):
    """{part: status} from the table the first code cell prints (exercise.progress.parts_status)."""
    first = next(cell for cell in notebook.cells if cell.cell_type == "code")
    text = "".join(output.text for output in first.outputs if output.output_type == "stream")
    rows = re.findall(r"^  (\w+) +(done|still a stub) +tests/", text, flags=re.MULTILINE)
    assert "This notebook uses these parts of the exercise:" in text and rows, text
    return dict(rows)


def _errors(notebook):
    """(cell number, tags, exception name, message, traceback) of every error output."""
    return [(number, cell.metadata.get("tags", []), output.ename, output.evalue, output.traceback)
            for number, cell in enumerate(notebook.cells) for output in cell.get("outputs", [])
            if output.output_type == "error"]


def _listed(errors):
    return "\n".join(f"cell {number} {tags}: {ename}: {message}" for number, tags, ename, message, _ in errors)


def _stops_at_a_stub(number, tags, ename, message, traceback):
    """An exercise cell's own stub (its NotImplementedError "Exercise N.M: ..."), or one of
    exercise.progress's stops, shown as one line without a traceback."""
    if ename == "NotImplementedError":
        return "exercise" in tags and message.startswith("Exercise ")
    return ename in ("PartStillAStub", "ExerciseNotDone") and traceback == [f"{ename}: {message}"]


def _notebook_folder_files():
    """Files under notebooks/ (where the notebooks run), caches excluded."""
    return {file for file in NOTEBOOK_FOLDER.rglob("*")
            if file.is_file() and ".ipynb_checkpoints" not in file.parts and "__pycache__" not in file.parts}
