"""Execute every teaching notebook in notebooks/ top to bottom; a cell that raises fails the test.

The notebooks are run as a student would run them: kernel python3, working directory
notebooks/, real MNIST from NORMNET_DATA (CI sets it; locally it falls back to the
verified copy in ../shared/data/mnist). Nothing is written back: the executed copy
stays in memory, so the committed notebooks (with their outputs) never change here.
"""
import os
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

REPOSITORY = Path(__file__).resolve().parent.parent
NOTEBOOK_FOLDER = REPOSITORY / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_FOLDER.glob("*.ipynb"))
CELL_TIMEOUT_SECONDS = 300


def test_there_are_notebooks():
    assert NOTEBOOKS, f"no notebooks found in {NOTEBOOK_FOLDER}"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.name for path in NOTEBOOKS])
def test_notebook_runs_without_errors(path, monkeypatch):
    shared_mnist = REPOSITORY.parent / "shared" / "data" / "mnist"
    if not os.environ.get("NORMNET_DATA") and shared_mnist.is_dir():
        monkeypatch.setenv("NORMNET_DATA", str(shared_mnist))
    monkeypatch.setenv("MPLBACKEND", "Agg")  # the notebooks select the inline backend themselves
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
