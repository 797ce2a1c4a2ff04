"""Execute every teaching notebook in notebooks/ top to bottom; a cell that raises fails the test.

The notebooks are run as a student would run them: kernel python3, working directory
notebooks/ (where their figures module lies), real MNIST from NORMNET_DATA (CI sets it;
locally it falls back to the verified copy in ../shared/data/mnist). Nothing is written
back: the executed copy stays in memory, so the committed notebooks (with their outputs)
never change here. Every exercise cell's solution sits between the solution markers, so
running the notebooks also runs every solution against the check that follows it.
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


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.name for path in NOTEBOOKS])
def test_notebook_runs_without_errors(path, monkeypatch):
    shared_mnist = REPOSITORY.parent / "shared" / "data" / "mnist"
    if not os.environ.get("NORMNET_DATA") and shared_mnist.is_dir():
        monkeypatch.setenv("NORMNET_DATA", str(shared_mnist))
    monkeypatch.setenv("MPLBACKEND", "Agg")  # the notebooks select the inline backend themselves
    # One BLAS thread, as in conftest.py: threaded BLAS on a busy machine slows small products many times.
    for variable in THREAD_VARIABLES:
        monkeypatch.setenv(variable, "1")
    # Run against the code of this checkout, whatever version of normnet is installed.
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(REPOSITORY), os.environ.get("PYTHONPATH")])))
    files_before = _notebook_folder_files()

    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(notebook, timeout=CELL_TIMEOUT_SECONDS, kernel_name="python3",
                                     resources={"metadata": {"path": str(NOTEBOOK_FOLDER)}})
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as error:
        pytest.fail(f"{path.name}: a cell raised an error:\n{error}")

    new_files = sorted(str(file.relative_to(REPOSITORY)) for file in _notebook_folder_files() - files_before)
    assert not new_files, f"{path.name} wrote files into notebooks/: {new_files}"


def _notebook_folder_files():
    """Files under notebooks/ (where the notebooks run), caches excluded."""
    return {file for file in NOTEBOOK_FOLDER.rglob("*")
            if file.is_file() and ".ipynb_checkpoints" not in file.parts and "__pycache__" not in file.parts}
