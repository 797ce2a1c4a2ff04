"""exercise.progress: the notebooks' table of parts, their one-line stops and their checks."""
import numpy as np
import pytest

from exercise.points import PARTS, find_part
from exercise.progress import (ExerciseNotDone, PartStillAStub, WrongAnswer, attempt, check, check_below, check_shape,
                               is_stub, parts_status, require, require_answers)

STUB = '        raise NotImplementedError("TanH.forward: implement it (see the docstring)")\n'


@pytest.fixture
def project(tmp_path):
    """A project whose TanH is a stub and whose ReLU is done (it raises NotImplementedError, but not a stub's)."""
    (tmp_path / "layers").mkdir()
    (tmp_path / "layers" / "tanh.py").write_text(f"class TanH:\n    def forward(self, x):\n{STUB}", encoding="utf-8")
    (tmp_path / "layers" / "relu.py").write_text(
        'class ReLU:\n    def forward(self, x):\n        raise NotImplementedError("no testing phase")\n', encoding="utf-8")
    return tmp_path


def test_a_part_is_a_stub_while_a_source_holds_the_stub_line_or_is_missing(project):
    assert is_stub(find_part("TanH"), project)
    assert not is_stub(find_part("ReLU"), project)
    assert is_stub(find_part("Sigmoid"), project)             # layers/sigmoid.py is not there


def test_the_table_gives_every_part_its_status_and_tests_and_names_the_stubs(project):
    table = parts_status("ReLU", "TanH", root=project).splitlines()
    assert table[1].split() == ["part", "status", "tests"]
    assert table[2].split() == ["ReLU", "done", "tests/test_relu.py"]
    assert table[3].split() == ["TanH", "still", "a", "stub", "tests/test_tanh.py"]
    assert table[4].startswith("Still a stub: TanH.") and "python -m pytest tests/test_tanh.py" in table[4]
    assert len(table) == 5
    assert "Still a stub" not in parts_status("ReLU", root=project)


def test_require_stops_with_one_line_naming_the_part_and_its_tests(project):
    require("ReLU", root=project)                              # done: nothing happens
    with pytest.raises(PartStillAStub) as raised:
        require("ReLU", "tanh", root=project)                  # a part's key works as its name
    message = str(raised.value)
    assert message == ("this cell needs TanH, still a stub: write it until python -m pytest tests/test_tanh.py "
                       "passes, then run this cell again")
    assert raised.value._render_traceback_() == [f"PartStillAStub: {message}"]   # what the notebook shows
    with pytest.raises(PartStillAStub, match="needs TanH and Sigmoid, still stubs: write them until python -m pytest "
                                             "tests/test_tanh.py tests/test_sigmoid.py passes"):
        require("TanH", "Sigmoid", root=project)
    with pytest.raises(ValueError, match="no part called 'Tanh2'"):
        require("Tanh2", root=project)


def test_every_part_is_done_in_the_solution_and_a_stub_in_the_student_version(tmp_path):
    from exercise.student_version import make_student_version

    assert not [part.name for part in PARTS if is_stub(part)]
    make_student_version(tmp_path / "student")
    assert [part.name for part in PARTS if not is_stub(part, tmp_path / "student")] == []
    assert (tmp_path / "student" / "exercise" / "progress.py").is_file()   # the notebooks import it there


def test_a_check_whose_exercise_is_not_done_says_so_in_one_line():
    namespace = {"dz2": 1.0}
    require_answers(namespace, "Exercise 1.2", "dz2")
    with pytest.raises(ExerciseNotDone, match=r"^Exercise 1.2 is not done yet: dW2, db2 not defined"):
        require_answers(namespace, "Exercise 1.2", "dz2", "dW2", "db2")

    def stub():
        raise NotImplementedError("conv_input_gradient: implement it (see the docstring)")

    with pytest.raises(ExerciseNotDone) as raised, attempt("Exercise 2.3"):
        stub()
    assert raised.value._render_traceback_() == [
        "ExerciseNotDone: Exercise 2.3 is not done yet: conv_input_gradient: implement it (see the docstring)"]
    with pytest.raises(WrongAnswer, match=r"^Exercise 2.3: ExerciseConv: backward's result has shape \(6, 8\)"), \
            attempt("Exercise 2.3"):
        raise AssertionError("ExerciseConv: backward's result has shape (6, 8), expected (6, 7)")


def test_check_says_correct_and_names_what_is_wrong_without_the_expected_values(capsys):
    expected = np.array([[1.0, 2.0, 3.0], [0.0, 1.0, 0.0]])
    check("Exercise 1.1", "predicted_gradient_weights", expected.tolist(), expected)
    assert capsys.readouterr().out == "Exercise 1.1: predicted_gradient_weights is correct.\n"

    with pytest.raises(WrongAnswer, match=r"^Exercise 1.1: predicted_gradient_weights has shape \(3, 2\), "
                                          r"expected \(2, 3\)$"):
        check("Exercise 1.1", "predicted_gradient_weights", expected.T, expected)
    wrong = expected.copy()
    wrong[1, 1] = 7.5
    with pytest.raises(WrongAnswer) as raised:
        check("Exercise 1.1", "predicted_gradient_weights", wrong, expected, "Row o adds up E[b, o] times x[b].")
    assert str(raised.value) == ("Exercise 1.1: predicted_gradient_weights is wrong (1 of 6 entries differ, the first "
                                 "at (1, 1), where yours is 7.5). Row o adds up E[b, o] times x[b].")
    with pytest.raises(WrongAnswer, match=r"^Exercise 3.2: predicted_norm is wrong \(yours is 0.4\)\.$"):
        check("Exercise 3.2", "predicted_norm", 0.4, 0.6)
    with pytest.raises(WrongAnswer, match="predicted_norm = 'big' is not a number or an array of numbers"):
        check("Exercise 3.2", "predicted_norm", "big", 0.6)
    with pytest.raises(WrongAnswer, match=r"^Exercise 5.3: answer = 'yes' is not right\. Try a window by hand\.$"):
        check("Exercise 5.3", "answer", "yes", "no", "Try a window by hand.")
    with pytest.raises(WrongAnswer, match=r"^Exercise 3.3: answer = 4 is not right\.$"):
        check("Exercise 3.3", "answer", 4, "Norm Loss")
    check("Exercise 5.3", "answer", "no", "no")
    assert capsys.readouterr().out == "Exercise 5.3: answer is correct.\n"


def test_check_shape_and_check_below(capsys):
    check_shape("Exercise 5.2", "confusion", np.zeros((10, 10)), (10, 10))
    with pytest.raises(WrongAnswer, match=r"^Exercise 5.2: confusion has shape \(10, 9\), expected \(10, 10\)$"):
        check_shape("Exercise 5.2", "confusion", np.zeros((10, 9)), (10, 10))
    check_below("Exercise 2.3", "the gradient check", 3e-10, 1e-7)
    assert capsys.readouterr().out == "Exercise 2.3: correct (the gradient check is 3.0e-10, below 1e-07).\n"
    for value in (0.2, float("nan")):
        with pytest.raises(WrongAnswer, match=r"^Exercise 2.3: the gradient check is (2.0e-01|nan), not below 1e-07\. "
                                              r"Drop the padding\.$"):
            check_below("Exercise 2.3", "the gradient check", value, 1e-7, "Drop the padding.")
