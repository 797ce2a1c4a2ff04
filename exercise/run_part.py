"""Run one part's tests against a student tree: the grader starts this file in a fresh,
isolated interpreter (``python -I``), one process per part.

    python -I run_part.py CONFIG_JSON PYTEST_ARGUMENTS...

CONFIG_JSON holds ``tree`` (the student tree), ``tests`` (the folder of the grader's own
tests), ``part`` (the part being graded) and ``sources`` (every part's source files, by
path relative to the tree).

Before pytest starts, the import path is arranged so that the student's code, and only
the student's code, answers ``import layers`` (and framework, optimizers, ...): the tree
goes first, and the editable install of the project (its path entry or its import finder)
is taken out, so a file the student deleted is an error rather than the solution. The
``tests`` package is pinned to the grader's tests, so a submission's edited helpers change
nothing.

A test that stops at an unimplemented solution block (NotImplementedError raised in
another part's source file) is marked, in the JUnit report, as waiting for that part.
"""
import json
import os
import sys
import types


def _arrange_imports(tree, tests, project):
    here = os.path.dirname(os.path.abspath(__file__))
    keep = []
    for entry in sys.path:
        resolved = os.path.abspath(entry or os.curdir)
        if resolved == here or (resolved == project and project != tree):
            continue
        keep.append(entry)
    sys.path[:] = [tree] + keep
    sys.meta_path[:] = [finder for finder in sys.meta_path
                        if not getattr(finder, "__module__", "").startswith("__editable__")]
    pinned = types.ModuleType("tests")
    pinned.__path__ = [tests]
    sys.modules["tests"] = pinned


class WaitsForOtherParts:
    """pytest plugin: a NotImplementedError raised in another part's source marks the test
    as waiting for that part (a JUnit property ``waits_for``)."""

    def __init__(self, tree, part, sources):
        self.owners = {os.path.normcase(os.path.abspath(os.path.join(tree, path))): owner
                       for path, owner in sources.items() if owner != part}

    def pytest_runtest_makereport(self, item, call):
        if call.excinfo is None or not call.excinfo.errisinstance(NotImplementedError):
            return
        raised_in = os.path.normcase(os.path.abspath(str(call.excinfo.traceback[-1].path)))
        owner = self.owners.get(raised_in)
        if owner is not None and ("waits_for", owner) not in item.user_properties:
            item.user_properties.append(("waits_for", owner))


def main(arguments):
    config = json.loads(arguments[0])
    tree = os.path.abspath(config["tree"])
    sys.dont_write_bytecode = True          # leave no caches in the student's tree
    _arrange_imports(tree, config["tests"], config["project"])
    os.chdir(tree)
    import pytest

    return pytest.main(arguments[1:], plugins=[WaitsForOtherParts(tree, config["part"], config["sources"])])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
