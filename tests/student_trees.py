"""What the tests of the exercise tooling share about student trees: the fixture
``empty_student`` (a test module that imports ``empty_student_fixture`` has it), the solution
copied in part by part, and grading without the teacher's hidden tests."""
import shutil
from pathlib import Path

import pytest

from exercise.student_version import make_student_version

REPOSITORY = Path(__file__).resolve().parent.parent
# Graded with this as the teacher's folder of hidden tests, a part runs only its shipped tests.
NO_HIDDEN_TESTS = REPOSITORY / "tests" / "no-such-folder"


def fill_in(tree, *parts):
    """Copy the project's solution of ``parts`` (exercise.points.Part) into the student tree."""
    for part in parts:
        for source in part.sources:
            shutil.copyfile(REPOSITORY / source, Path(tree) / source)


@pytest.fixture(scope="module", name="empty_student")
def empty_student_fixture(tmp_path_factory):
    """A fresh, empty student version (``normnet exercise make``: every part a stub), made once
    per test module that imports this fixture; a test that changes it works on a copy."""
    folder = tmp_path_factory.mktemp("student")
    make_student_version(folder)
    return folder
