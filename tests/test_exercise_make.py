"""``normnet exercise make``: solution markers become named stubs; the student tree mirrors
the project, keeps what students do not write, and holds the exercise tests and notebooks."""
import ast
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from exercise.markers import MarkerError, strip_solutions
from exercise.points import PARTS, TOTAL_POINTS
from exercise.student_version import STUDENT_PACKAGES, make_student_version, strip_notebook
from framework.cli import main
from tests.student_trees import empty_student_fixture  # noqa: F401 - the fixture empty_student
from tests.student_trees import REPOSITORY, fill_in
BEGIN, END = "# BEGIN" + " SOLUTION", "# END" + " SOLUTION"     # split: this file is no solution


# -- the markers ------------------------------------------------------------------------------

SOURCE = f'''
import numpy as np


class Layer:
    def forward(self, input_tensor):
        """y = 2x."""
        self.input_tensor = input_tensor
        {BEGIN}
        output = 2 * input_tensor
        return output
        {END}

    def backward(self, error_tensor):
        def double(tensor):
            {BEGIN}
            return 2 * tensor
            {END}
        return double(error_tensor)


{BEGIN}
ANSWER = 42
{END}
'''


def test_each_block_becomes_a_stub_named_after_its_function():
    stripped = strip_solutions(SOURCE, "layer.py", outside_functions="Exercise 1: your code here")
    assert BEGIN not in stripped and END not in stripped
    assert "2 * input_tensor" not in stripped and "ANSWER" not in stripped
    lines = stripped.splitlines()
    # at the indentation of the block, naming the innermost function around it
    assert '        raise NotImplementedError("Layer.forward: implement it (see the docstring)")' in lines
    assert '            raise NotImplementedError("Layer.backward.double: implement it (see the docstring)")' in lines
    assert 'raise NotImplementedError("Exercise 1: your code here")' in lines
    # docstrings, signatures and the code around a block stay
    assert '        """y = 2x."""' in lines and "        self.input_tensor = input_tensor" in lines
    assert "        return double(error_tensor)" in lines
    compile(stripped, "layer.py", "exec")


def test_the_stub_raises_when_called():
    namespace = {}
    module_level_block = SOURCE[SOURCE.rindex(BEGIN):]
    exec(compile(strip_solutions(SOURCE.replace(module_level_block, ""), "layer.py"), "layer.py", "exec"), namespace)
    with pytest.raises(NotImplementedError, match="Layer.forward: implement it"):
        namespace["Layer"]().forward(1.0)


def test_a_file_without_markers_is_unchanged():
    assert strip_solutions("x = 1\n", "plain.py") == "x = 1\n"


@pytest.mark.parametrize("source, complaint", [
    (f"def f():\n    {BEGIN}\n    return 1\n", "without an"),
    (f"def f():\n    return 1\n    {END}\n", "without a"),
    (f"def f():\n    {BEGIN}\n    {BEGIN}\n    return 1\n    {END}\n    {END}\n", "do not nest"),
    (f"def f():\n    {BEGIN}\n    return 1\n{END}\n", "indented differently"),
    (f"def f():\n    return (1 +\n    {BEGIN}\n    2)\n    {END}\n", "does not compile"),
])
def test_bad_markers_are_reported_with_the_file_and_line(source, complaint):
    with pytest.raises(MarkerError, match=f"broken.py.*{complaint}"):
        strip_solutions(source, "broken.py")


def test_notebook_cells_are_stubbed_and_cleared_and_solution_cells_dropped():
    notebook = {"cells": [
        {"cell_type": "code", "metadata": {"tags": ["exercise"]}, "execution_count": 3,
         "outputs": [{"output_type": "stream", "name": "stdout", "text": ["42\n"]}],
         "source": ["%matplotlib inline\n", "# Exercise 4.2: the backward pass\n", f"{BEGIN}\n", "answer = 42\n",
                    f"{END}\n", "print(answer)\n"]},
        {"cell_type": "markdown", "metadata": {"tags": ["solution"]}, "source": ["The answer is 42."]},
        {"cell_type": "markdown", "metadata": {}, "source": ["Next."]},
    ], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    stripped = json.loads(strip_notebook(json.dumps(notebook), "notebook.ipynb"))
    assert [cell["cell_type"] for cell in stripped["cells"]] == ["code", "markdown"]
    code = stripped["cells"][0]
    assert code["outputs"] == [] and code["execution_count"] is None
    assert "".join(code["source"]) == ('%matplotlib inline\n# Exercise 4.2: the backward pass\n'
                                       'raise NotImplementedError("Exercise 4.2: your code here (see the text above)")\n'
                                       'print(answer)\n')


# -- the student tree -----------------------------------------------------------------------

def _python_files(folder, packages):
    return sorted(path for package in packages for path in (folder / package).rglob("*.py"))


def test_no_solution_is_left_in_the_student_code(empty_student):
    files = _python_files(empty_student, STUDENT_PACKAGES)
    assert files
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert BEGIN not in text and END not in text, path
        compile(text, str(path), "exec")


def test_every_solution_block_of_the_project_became_one_named_stub(empty_student):
    stubbed = 0
    for path in _python_files(REPOSITORY, STUDENT_PACKAGES):
        blocks = sum(line.strip() == BEGIN for line in path.read_text(encoding="utf-8").splitlines())
        if blocks:
            student_file = (empty_student / path.relative_to(REPOSITORY)).read_text(encoding="utf-8")
            assert student_file.count("implement it (see the docstring)") == blocks, path
            stubbed += blocks
    assert stubbed >= 40         # layers, loss, optimizers, regularizers, initializers, network
    assert 'raise NotImplementedError("Sgd._descent_step: implement it (see the docstring)")' in \
        (empty_student / "optimizers" / "sgd.py").read_text(encoding="utf-8")


def test_every_part_has_solution_blocks_and_every_block_belongs_to_a_part():
    sources = {source for part in PARTS for source in part.sources}
    with_blocks = {str(path.relative_to(REPOSITORY)) for path in _python_files(REPOSITORY, STUDENT_PACKAGES)
                   if BEGIN in path.read_text(encoding="utf-8")}
    assert with_blocks == sources


def test_docstrings_and_signatures_stay(empty_student):
    for relative in ("layers/fully_connected.py", "framework/neural_network.py", "regularizers/norm_loss.py"):
        solution, stub = (ast.parse((root / relative).read_text(encoding="utf-8")) for root in (REPOSITORY, empty_student))
        assert _signatures(stub) == _signatures(solution), relative


def _signatures(tree):
    """(name, arguments, docstring) of every class and function, in order."""
    return [(node.name, None if isinstance(node, ast.ClassDef) else ast.dump(node.args), ast.get_docstring(node))
            for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.ClassDef))]


def test_what_students_do_not_write_is_copied_unchanged(empty_student):
    unchanged = [path for package in ("data", "exercise") for path in (REPOSITORY / package).rglob("*.py")
                 if "__pycache__" not in path.parts]
    assert unchanged
    for path in unchanged:
        assert (empty_student / path.relative_to(REPOSITORY)).read_bytes() == path.read_bytes(), path
    for name in ("pyproject.toml", "framework/cli.py"):
        assert (empty_student / name).read_bytes() == (REPOSITORY / name).read_bytes()


def test_the_fast_layers_are_the_students_own_and_pytest_selects_the_students_tests(empty_student):
    # No working twin of a graded layer ships: layers.fast hands out the teaching layers.
    assert [path.name for path in (empty_student / "layers" / "fast").iterdir()] == ["__init__.py"]
    setup = (empty_student / "setup.cfg").read_text(encoding="utf-8")
    assert 'addopts = -ra -m "not fast and not textbook"' in setup
    assert ".venv/" in (empty_student / ".gitignore").read_text(encoding="utf-8")


def test_files_git_does_not_track_never_ship(tmp_path):
    # A backup beside the solution (conv.py~, relu_old.py) is not in git's list: it stays out.
    project = tmp_path / "project"
    subprocess.run(["git", "clone", "-q", str(REPOSITORY), str(project)], check=True)
    for name in ("layers/conv.py~", "layers/relu_old.py", "layers/relu.py.orig"):
        shutil.copyfile(REPOSITORY / "layers" / "relu.py", project / name)
    target = tmp_path / "student"
    make_student_version(target, project=project)
    shipped = {path.name for path in (target / "layers").iterdir()}
    assert not shipped & {"conv.py~", "relu_old.py", "relu.py.orig"}
    assert "relu.py" in shipped


def test_the_tests_are_the_exercise_tests_and_their_helpers(empty_student):
    copied = {path.name for path in (empty_student / "tests").iterdir() if path.is_file()}
    exercise_tests = {Path(name).name for part in PARTS for name in part.tests if (REPOSITORY / name).is_file()}
    assert exercise_tests <= copied
    assert {"conftest.py", "helpers.py"} <= copied
    assert not (empty_student / "tests" / "hidden").exists() and not (empty_student / "tests" / "fast").exists()
    assert all(not name.startswith("test_") or name in exercise_tests for name in copied), copied - exercise_tests
    for name in exercise_tests:         # the same files, not edited copies
        assert (empty_student / "tests" / name).read_bytes() == (REPOSITORY / "tests" / name).read_bytes()


def test_the_notebooks_come_without_outputs_or_solutions(empty_student):
    notebooks = sorted((empty_student / "notebooks").glob("*.ipynb"))
    assert [path.name for path in notebooks] == sorted(path.name for path in (REPOSITORY / "notebooks").glob("*.ipynb"))
    for path in notebooks:
        notebook = json.loads(path.read_text(encoding="utf-8"))
        for cell in notebook["cells"]:
            source = "".join(cell["source"])
            assert BEGIN not in source and "solution" not in cell["metadata"].get("tags", [])
            if cell["cell_type"] == "code":
                assert cell["outputs"] == [] and cell["execution_count"] is None
    helpers = sorted(path.name for path in (REPOSITORY / "notebooks").glob("*.py"))
    assert sorted(path.name for path in (empty_student / "notebooks").glob("*.py")) == helpers


def test_student_instructions_list_every_part_and_the_total(empty_student):
    text = (empty_student / "STUDENT.md").read_text(encoding="utf-8")
    assert f"({TOTAL_POINTS} points in all)" in text
    for part in PARTS:
        assert f"| {part.name} | {part.points} |" in text
    assert "$" not in text.replace("$ ", "")        # every template field was filled in


def test_the_student_tree_imports_its_own_code(empty_student):
    probe = ("import sys; sys.path.insert(0, sys.argv[1]); import layers, framework, optimizers, regularizers; "
             "from layers import Conv; import layers.conv; print(layers.__file__); print(layers.conv.__file__)")
    output = subprocess.run([sys.executable, "-c", probe, str(empty_student)], check=True, capture_output=True,
                            text=True, cwd=empty_student).stdout.split()
    assert all(Path(path).resolve().is_relative_to(empty_student.resolve()) for path in output), output


# -- refusals -----------------------------------------------------------------------------

def test_a_folder_that_is_not_empty_is_refused_without_force(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("mine")
    assert main(["exercise", "make", str(tmp_path)]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "not empty" in error and "--force" in error and "Traceback" not in error
    assert sorted(path.name for path in tmp_path.iterdir()) == ["notes.txt"]

    assert main(["exercise", "make", str(tmp_path), "--force"]) == 0
    assert (tmp_path / "STUDENT.md").is_file() and (tmp_path / "notes.txt").read_text() == "mine"


def test_the_project_itself_is_refused(capsys):
    assert main(["exercise", "make", str(REPOSITORY), "--force"]) == 2
    assert "holds the solution itself" in capsys.readouterr().err


def test_the_lenet_builder_of_the_student_version_uses_the_students_layers(empty_student, tmp_path):
    filled = Path(shutil.copytree(empty_student, tmp_path / "filled"))
    fill_in(filled, *PARTS)          # a student who is done
    script = ("import sys; sys.path.insert(0, sys.argv[1]); from framework.models import build_lenet\n"
              "network = build_lenet()\n"
              "print(sorted({type(layer).__module__ for layer in network.layers}))")
    listing = subprocess.run([sys.executable, "-I", "-c", script, str(filled)], capture_output=True, text=True,
                             check=True).stdout
    modules = eval(listing)             # noqa: S307 - our own print of a list of strings
    assert modules and all(module.startswith("layers.") and not module.startswith("layers.fast") for module in modules)
