"""``normnet exercise grade``: each part graded on its own (every other part the reference),
all or nothing per part, feedback that names the failing test with its message and a command
that reproduces it, a crash, syntax error or endless loop costing only that part, hidden
tests whose messages stay hidden, and a CSV over a folder of submissions that resumes.

Grading runs the part's tests in fresh interpreters, so these tests take seconds each; the
full-marks check of every part of the project runs in CI (``.ci/run``), here a few parts.
"""
import csv
import shutil
from pathlib import Path

import pytest

from exercise.grading import format_table, grade
from exercise.points import PARTS, TOTAL_POINTS, find_part
from framework.cli import main
from tests.student_trees import empty_student_fixture  # noqa: F401 - the fixture empty_student
from tests.student_trees import NO_HIDDEN_TESTS, REPOSITORY, fill_in

SMALL_PARTS = [find_part(name) for name in ("TanH", "Sigmoid", "Flatten")]
SHORT_TIMEOUT = 10       # seconds; a healthy part's tests take one or two


@pytest.fixture(scope="module")
def empty_grades(empty_student):
    return grade(empty_student, hidden=NO_HIDDEN_TESTS)


@pytest.fixture
def student(empty_student, tmp_path):
    """A fresh copy of the empty student tree that a test may change."""
    return Path(shutil.copytree(empty_student, tmp_path / "student"))


def points_by_part(results):
    return {result.part.name: result.points for result in results}


def test_the_empty_student_version_scores_zero(empty_grades):
    assert [result.points for result in empty_grades] == [0] * len(PARTS)
    assert all(result.total and result.failed for result in empty_grades)     # every part's tests ran
    lines = format_table(empty_grades).splitlines()
    assert lines[-1] == f"score: 0/{TOTAL_POINTS}"
    assert [line.split()[0] for line in lines[1:1 + len(PARTS)]] == [part.name for part in PARTS]


def test_the_command_prints_the_table_feedback_and_the_score_without_a_traceback(empty_student, capsys):
    assert main(["exercise", "grade", str(empty_student), "--part", "Flatten", "--part", "network",
                 "--hidden", str(NO_HIDDEN_TESTS)]) == 0
    output = capsys.readouterr()
    lines = output.out.strip().splitlines()
    assert lines[1].split() == ["part", "points", "passed", "failed", "not", "run", "note"]
    assert lines[2].split()[:2] == ["Flatten", "0/3"]
    assert lines[3].split()[:2] == ["NeuralNetwork", "0/8"]
    text = output.out
    assert "Flatten: test_known_values[teaching] failed" in text
    assert "NotImplementedError: Flatten.forward: implement it (see the docstring) [layers/flatten.py, line" in text
    assert "reproduce: python -m pytest tests/test_flatten.py::test_known_values" in text
    assert "next: Flatten (layers/flatten.py; tests/test_flatten.py)" in text
    assert lines[-1] == "score: 0/11"
    assert "Traceback" not in output.out + output.err


def test_each_part_earns_its_points_on_its_own(student):
    # FullyConnected's update test uses Sgd and the network's tests use layers, the loss,
    # optimizers and initializers: while a part is graded, all of those are the reference.
    fill_in(student, find_part("FullyConnected"), find_part("NeuralNetwork"))
    results = grade(student, hidden=NO_HIDDEN_TESTS)
    expected = {part.name: part.points if part.name in ("FullyConnected", "NeuralNetwork") else 0 for part in PARTS}
    assert points_by_part(results) == expected


def test_feedback_names_the_test_and_what_differed(student):
    fill_in(student, find_part("FullyConnected"))
    path = student / "layers" / "fully_connected.py"
    text = path.read_text(encoding="utf-8")
    assert "error_tensor.T @ input_tensor" in text
    path.write_text(text.replace("error_tensor.T @ input_tensor", "input_tensor.T @ error_tensor"), encoding="utf-8")
    [result] = grade(student, parts=[find_part("FullyConnected")], hidden=NO_HIDDEN_TESTS)
    assert result.points == 0
    assert result.failure["command"].startswith("python -m pytest tests/test_fully_connected.py::test_")
    table = format_table([result])
    assert "FullyConnected: gradient_weights has shape (7, 4), expected (4, 7)" in table or \
        "gradient_weights has shape" in table or "shape" in table, table


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
    solution = (REPOSITORY / source).read_text(encoding="utf-8")
    marker = "        # BEGIN" + " SOLUTION\n"
    path.write_text(solution.replace(marker, marker + breakage, 1), encoding="utf-8")


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
    assert notes[1].startswith("layers/sigmoid.py does not import: SyntaxError: ")
    assert "the worker process has gone" in results[2].failure["message"]
    assert not any("\n" in note for note in notes)
    assert all(result.passed == result.total > 0 and not result.note for result in results[3:])


def test_the_grader_runs_its_own_tests_not_the_submissions(student):
    # A submission that rewrites its tests to pass gains nothing.
    (student / "tests" / "test_flatten.py").write_text("def test_nothing():\n    pass\n", encoding="utf-8")
    (student / "tests" / "helpers.py").write_text("raise SystemExit('edited helpers')\n", encoding="utf-8")
    [result] = grade(student, parts=[find_part("Flatten")], hidden=NO_HIDDEN_TESTS)
    assert result.points == 0 and "NotImplementedError: Flatten.forward" in result.failure["message"]


def test_hidden_tests_run_against_the_students_code_and_their_messages_stay_hidden(student, tmp_path,
                                                                                   empty_grades):
    fill_in(student, find_part("Flatten"), find_part("Sigmoid"))
    hidden = tmp_path / "hidden"
    hidden.mkdir()
    (hidden / "test_flatten_extra.py").write_text(
        "import numpy as np\nfrom layers import Flatten\n\n\n"
        "def test_a_hidden_shape():\n"
        "    assert Flatten().forward(np.zeros((2, 3, 4))).shape == (2, 12)\n", encoding="utf-8")
    (hidden / "test_sigmoid_extra.py").write_text("def test_a_hidden_requirement():\n    assert 1 + 1 == 3, 'secret'\n",
                                                  encoding="utf-8")
    flatten, sigmoid = grade(student, parts=[find_part("Flatten"), find_part("Sigmoid")], hidden=hidden)
    public = {result.part.name: result.total for result in empty_grades}
    assert flatten.total == public["Flatten"] + 1 and flatten.passed == flatten.total, flatten.note
    assert flatten.points == 3
    assert sigmoid.total == public["Sigmoid"] + 1 and sigmoid.passed == public["Sigmoid"]
    assert sigmoid.points == 0 and sigmoid.failure["test"] == "a hidden test"
    assert "secret" not in format_table([sigmoid])


def test_a_folder_of_submissions_gives_a_csv_of_scores_and_resumes(empty_student, tmp_path, capsys):
    submissions = tmp_path / "submissions"
    shutil.copytree(empty_student, submissions / "ada")
    shutil.copytree(empty_student, submissions / "=bob")
    fill_in(submissions / "=bob", find_part("Flatten"))
    (submissions / "notes").mkdir()                      # not a student tree: ignored
    scores = tmp_path / "scores.csv"
    arguments = ["exercise", "grade", str(submissions), "--csv", str(scores), "--part", "Flatten",
                 "--part", "tanh", "--hidden", str(NO_HIDDEN_TESTS)]
    assert main(arguments) == 0
    output = capsys.readouterr().out
    assert "ada: 0/6" in output and "=bob: 3/6" in output and f"written to {scores}" in output
    with open(scores, newline="", encoding="utf-8") as file:
        rows = list(csv.reader(file))
    assert rows[0] == ["submission", "Flatten", "TanH", "total", "note"]
    assert [row[:4] for row in rows[1:]] == [["'=bob", "3", "0", "3"], ["ada", "0", "0", "0"]]  # no formula
    assert rows[2][4].startswith("Flatten: ") and " tests failed; first test_" in rows[2][4]
    # A second run resumes: nothing left to grade, the file unchanged.
    before = scores.read_bytes()
    shutil.copytree(empty_student, submissions / "cy")
    assert main(arguments) == 0
    assert "=bob: already in" in capsys.readouterr().out
    assert scores.read_bytes().startswith(before) and scores.read_text(encoding="utf-8").count("\ncy,") == 1


def test_bad_arguments_are_one_line_errors(tmp_path, capsys):
    assert main(["exercise", "grade", str(tmp_path)]) == 2
    assert "neither a student tree" in capsys.readouterr().err
    assert main(["exercise", "grade", str(REPOSITORY), "--part", "Attention"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "no part called 'Attention'" in error


def test_the_graders_check_against_the_reference_covers_every_part():
    from exercise.agreement import CASES

    assert {part.key for part in PARTS} == set(CASES)
