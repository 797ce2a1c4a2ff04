"""``normnet exercise grade``: each part in its own process against the student's code, all or
nothing per part, a crash, syntax error or endless loop costing only that part, hidden tests,
and a CSV over a folder of submissions.

Grading runs the part's tests in fresh interpreters, so these tests take seconds each; the
full-marks check of every part of the project runs in CI (``.ci/run``), here a few parts.
"""
import csv
import shutil
from pathlib import Path

import pytest

from exercise.grading import format_table, grade
from exercise.points import PARTS, TOTAL_POINTS, find_part
from exercise.student_version import make_student_version
from framework.cli import main

REPOSITORY = Path(__file__).resolve().parent.parent
NO_HIDDEN_TESTS = REPOSITORY / "tests" / "no-such-folder"
SMALL_PARTS = [find_part(name) for name in ("TanH", "Sigmoid", "Flatten")]
SHORT_TIMEOUT = 10       # seconds; a healthy part's tests take one or two


@pytest.fixture(scope="module")
def empty_student(tmp_path_factory):
    folder = tmp_path_factory.mktemp("student")
    make_student_version(folder)
    return folder


@pytest.fixture(scope="module")
def empty_grades(empty_student):
    return grade(empty_student, hidden=NO_HIDDEN_TESTS)


@pytest.fixture
def student(empty_student, tmp_path):
    """A fresh copy of the empty student tree that a test may change."""
    return Path(shutil.copytree(empty_student, tmp_path / "student"))


def fill_in(tree, *parts):
    """Copy the project's solution of ``parts`` into the student tree."""
    for part in parts:
        for source in part.sources:
            shutil.copyfile(REPOSITORY / source, tree / source)


def points_by_part(results):
    return {result.part.name: result.points for result in results}


def test_the_empty_student_version_scores_zero(empty_grades):
    assert [result.points for result in empty_grades] == [0] * len(PARTS)
    assert all(result.total for result in empty_grades)        # every part's tests ran
    lines = format_table(empty_grades).splitlines()
    assert lines[-1] == f"score: 0/{TOTAL_POINTS}" and len(lines) == 1 + len(PARTS) + 1


def test_the_command_prints_the_table_and_the_score_without_a_traceback(empty_student, capsys):
    assert main(["exercise", "grade", str(empty_student), "--part", "Flatten", "--part", "network",
                 "--hidden", str(NO_HIDDEN_TESTS)]) == 0
    output = capsys.readouterr()
    lines = output.out.strip().splitlines()
    assert lines[0].split() == ["part", "tests", "points", "note"]
    assert lines[1].split()[0] == "Flatten" and lines[1].split()[2] == "0/3"
    assert "NotImplementedError: Flatten.forward: implement it" in lines[1]
    assert lines[2].startswith("NeuralNetwork") and "graded once" in lines[2]
    assert lines[-1] == "score: 0/11"
    assert "Traceback" not in output.out + output.err


def test_copying_the_fully_connected_solution_scores_its_points_and_nothing_else(student):
    fill_in(student, find_part("FullyConnected"))
    results = grade(student, hidden=NO_HIDDEN_TESTS)
    assert points_by_part(results) == {part.name: part.points if part.name == "FullyConnected" else 0
                                       for part in PARTS}
    fully_connected = results[0]
    assert fully_connected.passed > 0 and not fully_connected.failed


def test_a_test_that_needs_an_unwritten_part_waits_for_it(student):
    # Regularizers' tests also run the shrinkage through the optimizers, which are stubs here.
    fill_in(student, find_part("Regularizers"))
    [result] = grade(student, parts=[find_part("Regularizers")], hidden=NO_HIDDEN_TESTS)
    assert result.points == find_part("Regularizers").points
    assert result.waiting > 0 and "Optimizers" in result.waiting_for
    assert result.passed + result.waiting == result.total
    assert result.note.startswith(f"{result.waiting} waiting for ")


def test_a_part_that_needs_unwritten_parts_earns_nothing_yet(student):
    fill_in(student, find_part("NeuralNetwork"))
    [result] = grade(student, parts=[find_part("NeuralNetwork")], hidden=NO_HIDDEN_TESTS)
    assert result.points == 0 and "graded once" in result.note


def test_the_solution_earns_full_marks(capsys):
    parts = SMALL_PARTS + [find_part("Optimizers"), find_part("Initializers")]
    results = grade(REPOSITORY, parts=parts, hidden=NO_HIDDEN_TESTS)
    assert [result.points for result in results] == [part.points for part in parts]
    assert all(result.passed == result.total > 0 for result in results)
    assert format_table(results).splitlines()[-1] == f"score: {sum(part.points for part in parts)}/" \
                                                      f"{sum(part.points for part in parts)}"


def break_solution(tree, source, breakage):
    """Put ``breakage`` at the start of the first solution block of ``source`` (its forward's)."""
    path = tree / source
    marker = "        # BEGIN" + " SOLUTION\n"
    path.write_text(path.read_text(encoding="utf-8").replace(marker, marker + breakage, 1), encoding="utf-8")


def test_an_endless_loop_a_syntax_error_or_a_crash_costs_only_that_parts_points(student):
    parts = [find_part(name) for name in ("TanH", "Sigmoid", "ReLU", "Flatten", "SoftMax")]
    fill_in(student, *parts)
    break_solution(student, "layers/tanh.py", "        while True:\n            pass\n")
    break_solution(student, "layers/sigmoid.py", "        return (\n")
    break_solution(student, "layers/relu.py", "        import os\n        os._exit(3)\n")

    results = grade(student, parts=parts, timeout=SHORT_TIMEOUT, hidden=NO_HIDDEN_TESTS)
    assert points_by_part(results) == {"TanH": 0, "Sigmoid": 0, "ReLU": 0, "Flatten": 3, "SoftMax": 6}
    notes = [result.note for result in results]
    assert notes[0] == f"timed out after {SHORT_TIMEOUT} s (an endless loop?)"
    assert notes[1].startswith("syntax error in layers/sigmoid.py, line ")
    assert notes[2].startswith("the tests crashed (exit code 3)")
    assert not any("\n" in note for note in notes)
    assert all(result.passed == result.total > 0 and not result.note for result in results[3:])


def test_the_grader_runs_its_own_tests_not_the_submissions(student):
    # A submission that rewrites its tests to pass gains nothing.
    (student / "tests" / "test_flatten.py").write_text("def test_nothing():\n    pass\n", encoding="utf-8")
    (student / "tests" / "helpers.py").write_text("raise SystemExit('edited helpers')\n", encoding="utf-8")
    [result] = grade(student, parts=[find_part("Flatten")], hidden=NO_HIDDEN_TESTS)
    assert result.points == 0 and "NotImplementedError: Flatten.forward" in result.note


def test_hidden_tests_are_picked_up_and_run_against_the_students_code(student, tmp_path, empty_grades):
    fill_in(student, find_part("Flatten"), find_part("Sigmoid"))
    hidden = tmp_path / "hidden"
    hidden.mkdir()
    (hidden / "test_flatten_where.py").write_text(
        "from pathlib import Path\n"
        "import framework, layers, layers.flatten, optimizers\n\n\n"
        "def test_the_code_is_the_students():\n"
        "    here = Path.cwd().resolve()\n"
        "    for module in (layers, layers.flatten, framework, optimizers):\n"
        "        assert Path(module.__file__).resolve().is_relative_to(here), module.__file__\n", encoding="utf-8")
    (hidden / "test_sigmoid_extra.py").write_text("def test_a_hidden_requirement():\n    assert 1 + 1 == 3\n",
                                                  encoding="utf-8")
    flatten, sigmoid = grade(student, parts=[find_part("Flatten"), find_part("Sigmoid")], hidden=hidden)
    public = {result.part.name: result.total for result in empty_grades}
    assert flatten.total == public["Flatten"] + 1 and flatten.passed == flatten.total, flatten.note
    assert flatten.points == 3
    assert sigmoid.total == public["Sigmoid"] + 1 and sigmoid.passed == public["Sigmoid"]
    assert sigmoid.points == 0 and sigmoid.note.startswith("test_a_hidden_requirement: assert")


def test_a_folder_of_submissions_gives_a_csv_of_scores(empty_student, tmp_path, capsys):
    submissions = tmp_path / "submissions"
    shutil.copytree(empty_student, submissions / "ada")
    shutil.copytree(empty_student, submissions / "bob")
    fill_in(submissions / "bob", find_part("Flatten"))
    (submissions / "notes").mkdir()                      # not a student tree: ignored
    scores = tmp_path / "scores.csv"
    assert main(["exercise", "grade", str(submissions), "--csv", str(scores), "--part", "Flatten",
                 "--part", "tanh", "--hidden", str(NO_HIDDEN_TESTS)]) == 0
    output = capsys.readouterr().out
    assert "ada: 0/6" in output and "bob: 3/6" in output and f"written to {scores}" in output
    with open(scores, newline="", encoding="utf-8") as file:
        rows = list(csv.reader(file))
    assert rows == [["submission", "Flatten", "TanH", "total"], ["ada", "0", "0", "0"], ["bob", "3", "0", "3"]]


def test_bad_arguments_are_one_line_errors(tmp_path, capsys):
    assert main(["exercise", "grade", str(tmp_path)]) == 2
    assert "neither a student tree" in capsys.readouterr().err
    assert main(["exercise", "grade", str(REPOSITORY), "--part", "Attention"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "no part called 'Attention'" in error

