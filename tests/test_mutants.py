"""Mutation tests: every mutant of ``tests/mutants.py`` earns its part 0 points.

Each mutant is graded the way a student's submission is (``exercise.grading.grade``, the
part's own tests, the student's code in the worker): a fresh student version, the part's
solution files copied in from the repository, the one mutated file written over its copy.
A mutant that earns points is a mistake the part's tests let through; the fix is a new
test in the part's test file. The original text of every mutant must occur in today's
solution exactly once, so a refactor of the solution cannot silently disarm a mutant.

The positive control: the same harness, on a rewrite of the solution that changes nothing
(``EQUIVALENT``), earns the part's points (a broken harness would otherwise "kill" every
mutant).
"""
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from exercise.grading import grade
from exercise.points import find_part
from exercise.student_version import make_student_version
from tests.mutants import MUTANTS, Mutant
from tests.student_trees import NO_HIDDEN_TESTS, REPOSITORY, fill_in

EQUIVALENT = Mutant("relu_equivalent_rewrite", "ReLU", "layers/relu.py",
                    "return np.maximum(input_tensor, 0)", "return np.maximum(0, input_tensor)",
                    "not a mistake: the same maximum with its arguments swapped")
# Mutants graded at the same time: grading mostly waits for interpreters to start and for
# the worker's answers, so a few at once take little more wall time than one.
AT_ONCE = 4


def cost(part_name):
    """A part's grading time, roughly: the size of its test files. The costly parts (Conv)
    start first, so that the last mutants to finish are short ones."""
    return sum((REPOSITORY / name).stat().st_size for name in find_part(part_name).tests)


def graded(tree, mutant):
    """The PartResult of ``mutant``'s part in the student version ``tree``: the part's
    solution files copied in, ``mutant`` applied to its own."""
    part = find_part(mutant.part)
    fill_in(tree, part)
    text = (REPOSITORY / mutant.source).read_text(encoding="utf-8")
    (tree / mutant.source).write_text(mutant.apply(text), encoding="utf-8")
    [result] = grade(tree, parts=[part], hidden=NO_HIDDEN_TESTS, jobs=1)
    return result


@pytest.fixture(scope="module")
def grades(tmp_path_factory):
    """{mutant name: PartResult}, every mutant and ``EQUIVALENT`` graded once, each in a copy
    of one fresh student version (grading reads only the graded part's sources)."""
    folder = tmp_path_factory.mktemp("mutants")
    make_student_version(folder / "student")
    jobs = sorted((EQUIVALENT, *MUTANTS), key=lambda mutant: -cost(mutant.part))

    def run(mutant):
        name = mutant.name
        tree = Path(shutil.copytree(folder / "student", folder / name))
        try:
            return name, graded(tree, mutant)
        except ValueError as error:             # its original text is gone: its own test says so
            return name, error
        finally:
            shutil.rmtree(tree)

    with ThreadPoolExecutor(AT_ONCE) as pool:
        return dict(pool.map(run, jobs))


def test_mutants_have_unique_names_and_name_a_source_of_their_part():
    assert len({mutant.name for mutant in MUTANTS}) == len(MUTANTS)
    for mutant in MUTANTS:
        assert mutant.source in find_part(mutant.part).sources, mutant.name
        assert mutant.original != mutant.replacement, mutant.name


@pytest.mark.parametrize("mutant", (EQUIVALENT, *MUTANTS), ids=lambda mutant: mutant.name)
def test_the_original_text_occurs_once_in_the_solution(mutant):
    text = (REPOSITORY / mutant.source).read_text(encoding="utf-8")
    assert text.count(mutant.original) == 1, (f"{mutant.name}: {mutant.original!r} occurs "
                                              f"{text.count(mutant.original)} times in {mutant.source}")


def test_an_equivalent_rewrite_earns_the_points(grades):
    result = grades[EQUIVALENT.name]
    assert not isinstance(result, Exception), result
    assert result.points == result.part.points, result.note


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda mutant: mutant.name)
def test_the_parts_tests_kill_the_mutant(grades, mutant):
    result = grades[mutant.name]
    if isinstance(result, Exception):
        pytest.fail(str(result))
    assert result.points == 0, (f"mutant {mutant.name} ({mutant.mistake}) survives: {mutant.part} earns "
                                f"{result.points} points; add a test to {', '.join(result.part.tests)}")
    assert result.failed, f"mutant {mutant.name}: 0 points, but no test failed ({result.note})"
