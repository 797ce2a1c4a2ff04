"""Feedback a student can act on: for the honest mistakes of ``tests/mutants.py`` that the
course sees most, the grader's report names the part, the failing test, what differed
(values or shapes expected and obtained, or the error and where in the student's file it was
raised) and a command that reproduces it."""
import shutil
from pathlib import Path

import pytest

from exercise.grading import format_table, grade
from exercise.points import find_part
from tests.mutants import MUTANTS
from tests.student_trees import empty_student_fixture  # noqa: F401 - the fixture empty_student
from tests.student_trees import NO_HIDDEN_TESTS, fill_in

# mutant → words the failing test's message must hold (what differed)
MISTAKES = {
    "fully_connected_transposed_weights_gradient": ("(7, 4)", "(4, 7)"),
    "relu_backward_without_mask": ("Mismatched elements",),
    "fully_connected_no_update_parameters": ("Mismatched elements",),
    "cross_entropy_eps_in_the_division": ("Mismatched elements",),
    "relu_mask_includes_zero": ("Mismatched elements",),
    "batch_normalization_mean_over_the_wrong_axis": (),
}
BY_NAME = {mutant.name: mutant for mutant in MUTANTS}


@pytest.mark.parametrize("name", sorted(MISTAKES))
def test_the_report_names_the_part_the_test_and_what_differed(empty_student, tmp_path, name):
    mutant = BY_NAME[name]
    part = find_part(mutant.part)
    tree = Path(shutil.copytree(empty_student, tmp_path / "student"))
    fill_in(tree, part)
    path = tree / mutant.source
    path.write_text(mutant.apply(path.read_text(encoding="utf-8")), encoding="utf-8")

    [result] = grade(tree, parts=[part], hidden=NO_HIDDEN_TESTS)
    assert result.points == 0
    report = format_table([result])
    failure = result.failure
    assert f"{part.name}: {failure['test']} failed" in report
    assert failure["command"] and f"reproduce: {failure['command']}" in report
    assert failure["command"].startswith(("python -m pytest tests/", "normnet exercise grade . --part"))
    message = failure["message"]
    assert len(message) > 40 and "\n" in message or "[" in message, message
    for words in MISTAKES[name]:
        assert words in message, (words, message)
