"""What a notebook needs, and its exercises' verdicts, each in one line.

A notebook's first code cell prints :func:`parts_status` for the exercise parts it uses
(``exercise.points``): which are done and which are still a stub, with each part's tests.
A cell that uses a part calls :func:`require` first, so a stub stops it with one line
naming the part and its tests, not with a ``NotImplementedError`` deep inside a layer.

A check cell compares before it reveals: :func:`require_answers` stops it when the
exercise's variables are not defined yet (its cell still raises), :func:`attempt` when the
exercise's function still raises ``NotImplementedError``, and :func:`check` (or
:func:`check_shape`, :func:`check_below`) names the variable that is wrong (its shape, or how
many entries differ) without showing the expected values, or says it is correct. Every stop is
an exception whose notebook output is its one line, without a traceback.

A part is still a stub while one of its sources holds a stub line, the
``raise NotImplementedError("...: implement it ...")`` that ``normnet exercise make``
writes in place of a solution; the sources are read in the project this module lies in
(the student's copy, in the student version).
"""
import contextlib
from pathlib import Path

import numpy as np

from exercise.points import find_part

PROJECT = Path(__file__).resolve().parent.parent
STUB_LINE = 'raise NotImplementedError("'
STUB_MESSAGE = ": implement it"


class NotebookStop(Exception):
    """Stops a notebook cell with one line: IPython shows ``_render_traceback_``, not a traceback."""

    def _render_traceback_(self):
        return [f"{type(self).__name__}: {self}"]


class PartStillAStub(NotebookStop):
    """The cell needs a part whose source is still a stub."""


class ExerciseNotDone(NotebookStop):
    """The check's exercise has not been done yet."""


class WrongAnswer(NotebookStop, AssertionError):
    """The check compared the answer and found it wrong."""


def is_stub(part, root=PROJECT):
    """Whether a source of ``part`` (an ``exercise.points.Part``) in ``root`` is missing or still
    holds a stub line."""
    for source in part.sources:
        path = Path(root) / source
        if not path.is_file():
            return True
        if any(STUB_LINE in line and STUB_MESSAGE in line for line in path.read_text(encoding="utf-8").splitlines()):
            return True
    return False


def parts_status(*names, root=PROJECT):
    """The table (text) of the parts called ``names``: part, "done" or "still a stub", test files."""
    parts = [find_part(name) for name in names]
    stubs = [part for part in parts if is_stub(part, root)]
    rows = [("part", "status", "tests")] + [(part.name, "still a stub" if part in stubs else "done",
                                             " ".join(part.tests)) for part in parts]
    widths = [max(len(row[column]) for row in rows) for column in range(2)]
    lines = ["This notebook uses these parts of the exercise:"]
    lines += [f"  {name:{widths[0]}}  {status:{widths[1]}}  {tests}" for name, status, tests in rows]
    if stubs:
        tests = " ".join(test for part in stubs for test in part.tests)
        lines.append(f"Still a stub: {_and(part.name for part in stubs)}. A cell that needs one stops with a line "
                     f"saying so; write them until python -m pytest {tests} passes.")
    return "\n".join(lines)


def require(*names, root=PROJECT):
    """Raise PartStillAStub (one line naming the parts and their tests) if a part is still a stub."""
    stubs = [part for part in map(find_part, names) if is_stub(part, root)]
    if stubs:
        tests = " ".join(test for part in stubs for test in part.tests)
        state, pronoun = ("still a stub", "it") if len(stubs) == 1 else ("still stubs", "them")
        raise PartStillAStub(f"this cell needs {_and(part.name for part in stubs)}, {state}: write {pronoun} "
                             f"until python -m pytest {tests} passes, then run this cell again")


def _and(names):
    names = list(names)
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def require_answers(namespace, exercise, *names):
    """Raise ExerciseNotDone naming ``exercise`` unless every variable in ``names`` is in ``namespace``."""
    missing = [name for name in names if name not in namespace]
    if missing:
        raise ExerciseNotDone(f"{exercise} is not done yet: {', '.join(missing)} not defined; write the exercise "
                              f"cell above and run it, then this cell")


@contextlib.contextmanager
def attempt(exercise):
    """Run an exercise's code: a NotImplementedError (the stub it still holds) stops the cell with
    ExerciseNotDone, an AssertionError (the gradient checker's wrong shape) with WrongAnswer."""
    try:
        yield
    except NotImplementedError as error:
        raise ExerciseNotDone(f"{exercise} is not done yet: {error}") from None
    except AssertionError as error:
        if isinstance(error, WrongAnswer):
            raise
        raise WrongAnswer(f"{exercise}: {error}") from None


def check(exercise, name, yours, expected, hint="", rtol=1e-7, atol=1e-12):
    """Compare the answer ``yours`` (called ``name``) with ``expected``: WrongAnswer naming what
    differs, without the expected values, or print that it is correct."""
    if isinstance(expected, str):
        if not (isinstance(yours, str) and yours == expected):
            raise WrongAnswer(f"{exercise}: {name} = {yours!r} is not right. {hint}".strip())
    else:
        expected = np.asarray(expected, dtype=np.float64)
        try:
            yours = np.asarray(yours, dtype=np.float64)
        except (TypeError, ValueError):
            raise WrongAnswer(f"{exercise}: {name} = {yours!r} is not a number or an array of numbers") from None
        check_shape(exercise, name, yours, expected.shape)
        wrong = ~np.isclose(yours, expected, rtol=rtol, atol=atol)
        if wrong.any() and yours.ndim == 0:
            raise WrongAnswer(f"{exercise}: {name} is wrong (yours is {float(yours):.6g}). {hint}".strip())
        if wrong.any():
            first = tuple(int(i) for i in np.argwhere(wrong)[0])
            raise WrongAnswer(f"{exercise}: {name} is wrong ({wrong.sum()} of {wrong.size} entries differ, the first "
                              f"at {first}, where yours is {yours[first]:.6g}). {hint}".strip())
    print(f"{exercise}: {name} is correct.")


def check_shape(exercise, name, yours, shape):
    """WrongAnswer naming ``name`` and both shapes unless ``yours`` has ``shape``."""
    if np.shape(yours) != tuple(shape):
        raise WrongAnswer(f"{exercise}: {name} has shape {np.shape(yours)}, expected {tuple(shape)}")


def check_below(exercise, name, value, tolerance, hint=""):
    """WrongAnswer unless ``value`` (a relative difference called ``name``) is below ``tolerance``."""
    if not value < tolerance:
        raise WrongAnswer(f"{exercise}: {name} is {value:.1e}, not below {tolerance:.0e}. {hint}".strip())
    print(f"{exercise}: correct ({name} is {value:.1e}, below {tolerance:.0e}).")
