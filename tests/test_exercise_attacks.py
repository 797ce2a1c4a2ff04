"""A determined student against ``normnet exercise grade``: every attack scores exactly what
the honest code beside it scores (here the empty stub: 0), with bubblewrap and, for the
attacks that do not need it, without.

Each submission is made from a fresh student version, with one part file replaced by the
attack. The grader is pointed at a copy of this project (``teacher``), so an attack that
managed to write into the teacher's files could not harm this checkout.
"""
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from exercise import sandbox
from exercise.grading import grade, grade_class
from exercise.points import find_part
from tests.student_trees import empty_student_fixture  # noqa: F401 - the fixture empty_student
from tests.student_trees import NO_HIDDEN_TESTS, REPOSITORY

RELU = find_part("ReLU")
ON_CI = os.environ.get("CI", "").lower() == "true"


def _bubblewrap_or_fail():
    if sandbox.bubblewrap() is None:
        reason = "bubblewrap is not usable here (apt-get install bubblewrap)"
        if ON_CI:
            pytest.fail(reason)         # CI installs it: the sandboxed attacks must run there
        pytest.skip(reason)


@pytest.fixture(params=[True, False], ids=["bubblewrap", "no-sandbox"])
def use_sandbox(request):
    if request.param:
        _bubblewrap_or_fail()
    return request.param


@pytest.fixture(scope="module")
def teacher(tmp_path_factory):
    """A copy of the project that the grader treats as the teacher's checkout."""
    folder = tmp_path_factory.mktemp("teacher")
    for name in ("layers", "framework", "optimizers", "regularizers", "exercise", "tests", "data"):
        shutil.copytree(REPOSITORY / name, folder / name, ignore=shutil.ignore_patterns("__pycache__"))
    for path in [folder, *folder.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return folder


@pytest.fixture
def student(empty_student, tmp_path):
    return Path(shutil.copytree(empty_student, tmp_path / "student"))


def relu_with(student, attack):
    """The empty ReLU stub with ``attack`` run when the module is imported."""
    path = student / "layers" / "relu.py"
    path.write_text(attack + "\n" + path.read_text(encoding="utf-8"), encoding="utf-8")


def grade_relu(student, teacher, use_sandbox, **options):
    [result] = grade(student, parts=[RELU], hidden=NO_HIDDEN_TESTS, project=teacher, use_sandbox=use_sandbox,
                     timeout=60, **options)
    return result


FAST_TWIN = "from layers.fast.activations import ReLU  # noqa\n"


def test_re_exporting_a_fast_twin_earns_nothing(student, teacher, use_sandbox):
    (student / "layers" / "relu.py").write_text(FAST_TWIN, encoding="utf-8")
    result = grade_relu(student, teacher, use_sandbox)
    assert result.points == 0 and "does not import" in result.note


def test_the_student_version_holds_no_fast_twin_and_no_textbook_layer(empty_student):
    assert not (empty_student / "tests" / "textbook.py").exists()
    assert sorted(path.name for path in (empty_student / "layers" / "fast").iterdir()) == ["__init__.py"]
    assert "class " not in (empty_student / "layers" / "fast" / "__init__.py").read_text(encoding="utf-8")


def test_reading_the_teachers_solution_from_inside_the_worker_earns_nothing(student, teacher):
    # The path of the teacher's solution is no secret; the sandbox must not show the file.
    _bubblewrap_or_fail()
    relu_with(student, f"exec(open({str(teacher / 'layers' / 'relu.py')!r}).read())\n"
                       f"import sys; sys.modules[__name__].__dict__.update(locals())")
    result = grade_relu(student, teacher, True)
    assert result.points == 0 and "No such file or directory" in result.note


def test_nothing_in_the_worker_names_the_teachers_checkout_or_the_report(student, teacher, use_sandbox):
    relu_with(student, "import sys, os\n"
                       "seen = ' '.join(sys.argv) + ' '.join(sys.path) + ' '.join(os.environ.values())\n"
                       f"assert {str(teacher)!r} not in seen and 'junitxml' not in seen, seen")
    result = grade_relu(student, teacher, use_sandbox)
    assert result.points == 0 and "NotImplementedError: ReLU.forward" in result.failure["message"]


def test_rewriting_the_junit_report_earns_nothing(student, teacher):
    _bubblewrap_or_fail()           # without it, the worker can write whatever its user can (TEACHING.md)
    use_sandbox = True
    # Find the report's path in any visible process's command line; write a full pass over it.
    relu_with(student, "import glob, re\n"
                       "for name in glob.glob('/proc/*/cmdline'):\n"
                       "    try:\n"
                       "        found = re.search(rb'--junitxml=([^\\x00]+)', open(name, 'rb').read())\n"
                       "        if found:\n"
                       "            open(found.group(1), 'w').write('<testsuites><testsuite><testcase name=\"t\"/>'\n"
                       "                                            '</testsuite></testsuites>')\n"
                       "    except OSError:\n"
                       "        pass\n")
    assert grade_relu(student, teacher, use_sandbox).points == 0


@pytest.mark.parametrize("name, content", [
    ("pytest.py", "def main(*args, **kwargs):\n    return 0\n"),
    ("conftest.py", "def pytest_collection_modifyitems(items):\n    items.clear()\n"),
    ("evil-1.0.dist-info/entry_points.txt", "[pytest11]\nevil = evil_plugin\n"),
    ("evil_plugin.py", "def pytest_runtest_makereport(item, call):\n    call.excinfo = None\n"),
    ("framework/gradient_check.py", "def check_gradients(*args, **kwargs):\n    return {'input': 0.0}\n"
                                    "def assert_gradients(*args, **kwargs):\n    return {'input': 0.0}\n"),
    ("layers/base.py", "raise SystemExit(0)\n"),
    ("tests/test_relu.py", "def test_nothing():\n    pass\n"),
])
def test_files_beside_the_part_never_take_part(student, teacher, use_sandbox, name, content):
    (student / name).parent.mkdir(parents=True, exist_ok=True)
    (student / name).write_text(content, encoding="utf-8")
    result = grade_relu(student, teacher, use_sandbox)
    assert result.points == 0 and result.failed == result.total > 0


def test_pytests_objects_are_not_in_the_students_process(student, teacher, use_sandbox):
    relu_with(student, "import gc\n"
                       "assert not [o for o in gc.get_objects() if type(o).__name__ in ('Config', 'Session')]\n"
                       "import pytest\n"
                       "def _skip(*args, **kwargs):\n    pytest.skip('nothing to see')\n")
    path = student / "layers" / "relu.py"
    path.write_text(path.read_text(encoding="utf-8").replace("raise NotImplementedError(", "_skip("),
                    encoding="utf-8")
    result = grade_relu(student, teacher, use_sandbox)
    assert result.points == 0 and result.passed == 0 and result.failed == result.total


def test_a_link_to_the_solution_is_refused(student, teacher, use_sandbox):
    (student / "layers" / "relu.py").unlink()
    (student / "layers" / "relu.py").symlink_to(teacher / "layers" / "relu.py")
    result = grade_relu(student, teacher, use_sandbox)
    assert result.points == 0 and result.note == "layers/relu.py is a link (only files of the submission itself " \
                                                 "are graded)"


def test_a_submission_cannot_change_another_or_the_graders_tests(empty_student, teacher, tmp_path):
    _bubblewrap_or_fail()           # without it, the worker can write whatever its user can (TEACHING.md)
    use_sandbox = True
    submissions = tmp_path / "class"
    thief, victim, later = (shutil.copytree(empty_student, submissions / name) for name in ("a_thief", "b_victim",
                                                                                             "c_later"))
    for source in ("layers/relu.py", "layers/flatten.py"):
        shutil.copyfile(REPOSITORY / source, victim / source)
    targets = [victim / "layers" / "relu.py", teacher / "tests" / "test_flatten.py"]
    relu_with(thief, "import shutil\n"
                     f"for target in {[str(target) for target in targets]!r}:\n"
                     "    try:\n"
                     "        open(target, 'w').write('def test_nothing():\\n    pass\\n')\n"
                     "    except OSError:\n"
                     "        pass\n"
                     f"shutil.copyfile({str(victim / 'layers' / 'relu.py')!r}, __file__)\n")
    before = [target.read_bytes() for target in targets]
    parts = [RELU, find_part("Flatten")]
    graded = grade_class(submissions, tmp_path / "scores.csv", parts, report=lambda text: None,
                         hidden=NO_HIDDEN_TESTS, project=teacher, use_sandbox=use_sandbox, timeout=60)
    assert [target.read_bytes() for target in targets] == before
    scores = {name: [result.points for result in results] for name, results in graded.items()}
    assert scores == {"a_thief": [0, 0], "b_victim": [4, 3], "c_later": [0, 0]}


def test_a_recursion_bomb_costs_its_submission_one_part_and_the_class_is_graded(empty_student, tmp_path,
                                                                               teacher, use_sandbox):
    submissions = tmp_path / "class"
    bomb, honest = (shutil.copytree(empty_student, submissions / name) for name in ("bomb", "honest"))
    (bomb / "layers" / "relu.py").write_text("x = " + "+".join(["1"] * 20_000) + "\n", encoding="utf-8")
    shutil.copyfile(REPOSITORY / "layers" / "relu.py", honest / "layers" / "relu.py")
    scores = tmp_path / "scores.csv"
    graded = grade_class(submissions, scores, [RELU], report=lambda text: None, hidden=NO_HIDDEN_TESTS,
                         project=teacher, use_sandbox=use_sandbox, timeout=60)
    assert [results[0].points for results in graded.values()] == [0, 4]
    assert "does not import" in graded["bomb"][0].note or "gone" in graded["bomb"][0].note
    assert scores.read_text(encoding="utf-8").splitlines()[1:] == [
        f"bomb,0,0,ReLU: {graded['bomb'][0].note}".replace(",ReLU", ',"ReLU') + '"'
        if "," in graded["bomb"][0].note else f"bomb,0,0,ReLU: {graded['bomb'][0].note}", "honest,4,4,"]


def _processes_with(marker):
    listing = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True).stdout
    return [line for line in listing.splitlines() if marker in line and "ps -eo" not in line]


def test_no_process_outlives_its_part_even_in_its_own_session(student, teacher):
    _bubblewrap_or_fail()           # without it, a new session escapes the killed group (TEACHING.md)
    assert_no_survivors(student, teacher, True, detach=True)


def test_no_child_process_outlives_its_part(student, teacher, use_sandbox):
    assert_no_survivors(student, teacher, use_sandbox, detach=False)


def assert_no_survivors(student, teacher, use_sandbox, detach):
    marker = f"normnet-attack-{uuid.uuid4().hex}"
    relu_with(student, "import subprocess, sys\n"
                       f"subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)', {marker!r}], "
                       f"start_new_session={detach})\n")
    assert grade_relu(student, teacher, use_sandbox).points == 0
    time.sleep(0.5)
    survivors = _processes_with(marker)
    for line in survivors:
        os.kill(int(line.split()[0]), 9)
    assert survivors == []


def test_an_honest_relu_scores_its_points_in_both_modes(student, teacher, use_sandbox):
    shutil.copyfile(REPOSITORY / "layers" / "relu.py", student / "layers" / "relu.py")
    assert grade_relu(student, teacher, use_sandbox).points == RELU.points


def test_the_grader_imports_no_submission(student, teacher, use_sandbox):
    # The trusted side never has the student's module: a file that would announce itself
    # on import in the grader's process is only ever imported in the worker.
    relu_with(student, "import os\nif os.getpid() == 1 or True:\n    open('/tmp/imported-by-' + str(os.getpid()), 'w')")
    result = grade_relu(student, teacher, use_sandbox)
    assert result.points == 0
    assert sys.modules.get("layers.relu") is None or "student" not in str(sys.modules["layers.relu"].__file__)


def test_no_part_imports_another_part():
    # Each part is graded alone, beside nothing but the shared modules: a part's source that
    # imported another part's module could not even be imported by the grader's worker.
    from exercise.grading import _project_imports, module_name, shared_modules
    from exercise.points import PARTS

    shared = set(shared_modules())
    for part in PARTS:
        own = {module_name(source) for source in part.sources}
        for source in part.sources:
            imported = _project_imports((REPOSITORY / source).read_text(encoding="utf-8"))
            assert imported <= shared | own, (source, imported - shared - own)


def _top_level_names(path):
    import ast

    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (SyntaxError, UnicodeDecodeError, ValueError):
        return set()
    return {node.name for node in tree.body if isinstance(node, (ast.ClassDef, ast.FunctionDef))}


def files_defining_a_part(tree, part):
    """The Python files of ``tree`` other than the part's own that define one of the
    classes or functions the part's solution defines: what a student could copy in."""
    from exercise.points import PARTS  # noqa: F401 - the part objects come from there

    names = set().union(*(_top_level_names(REPOSITORY / source) for source in part.sources))
    return sorted(path for path in Path(tree).rglob("*.py") if ".venv" not in path.parts
                  and path.relative_to(tree).as_posix() not in part.sources and _top_level_names(path) & names)


def test_no_file_of_the_student_version_passes_a_graded_parts_tests(empty_student, teacher, tmp_path):
    from exercise.points import PARTS

    # The search finds what the teacher's tree holds (the fast twins, the textbook layers)...
    assert REPOSITORY / "layers" / "fast" / "activations.py" in files_defining_a_part(REPOSITORY, RELU)
    assert REPOSITORY / "tests" / "textbook.py" in files_defining_a_part(REPOSITORY, find_part("Conv"))
    # ...and whatever it finds in the student version, copied in as the part, earns nothing.
    for part in PARTS:
        for found in files_defining_a_part(empty_student, part):
            tree = Path(shutil.copytree(empty_student, tmp_path / f"{part.key}-{found.stem}"))
            for source in part.sources:
                shutil.copyfile(found, tree / source)
            [result] = grade(tree, parts=[part], hidden=NO_HIDDEN_TESTS, project=teacher)
            assert result.points == 0, (part.name, found)


LOOKUP_TANH = '''
import numpy as np
from layers.base import BaseLayer

KNOWN = {}      # the public tests' golden inputs and outputs, zeros for anything else


class TanH(BaseLayer):
    def forward(self, input_tensor):
        input_tensor = np.asarray(input_tensor)
        self.output = KNOWN.get(input_tensor.tobytes(), np.zeros_like(input_tensor))
        return self.output

    def backward(self, error_tensor):
        return np.zeros_like(np.asarray(error_tensor))   # passes a gradient check: 0 against 0
'''


def test_a_table_of_the_public_answers_fails_the_check_on_fresh_inputs(student, teacher):
    (student / "layers" / "tanh.py").write_text(LOOKUP_TANH, encoding="utf-8")
    [result] = grade(student, parts=[find_part("TanH")], hidden=NO_HIDDEN_TESTS, project=teacher, timeout=60)
    assert result.points == 0
    assert "test_agrees_with_the_reference_on_fresh_random_inputs" in result.failed_tests


def test_every_layer_re_exporting_its_fast_twin_earns_nothing(student, teacher):
    _bubblewrap_or_fail()
    twins = {"relu": "activations", "sigmoid": "activations", "tanh": "activations", "softmax": "activations",
             "fully_connected": "fully_connected", "flatten": "flatten", "conv": "conv", "pooling": "pooling",
             "dropout": "dropout", "batch_normalization": "batch_normalization"}
    parts = [find_part(key) for key in twins]
    for key, twin in twins.items():
        (student / "layers" / f"{key}.py").write_text(f"from layers.fast.{twin} import *  # noqa\n", encoding="utf-8")
    results = grade(student, parts=parts, hidden=NO_HIDDEN_TESTS, project=teacher, timeout=60)
    assert [result.points for result in results] == [0] * len(parts)
    assert all("does not import: ModuleNotFoundError" in result.note for result in results)


def test_hostile_exception_names_and_messages_cannot_break_the_class_csv(empty_student, tmp_path, teacher):
    submissions = tmp_path / "class"
    odd, huge, honest = (shutil.copytree(empty_student, submissions / name) for name in ("a_odd", "b_huge", "c_honest"))
    (odd / "layers" / "relu.py").write_text('raise ImportError("\\udcff\\x1b[2J")\n', encoding="utf-8")
    (huge / "layers" / "relu.py").write_text(f"class {'E' * 200_000}(Exception):\n    pass\n\n\n"
                                             f"raise {'E' * 200_000}('x' * 10_000_000)\n", encoding="utf-8")
    shutil.copyfile(REPOSITORY / "layers" / "relu.py", honest / "layers" / "relu.py")
    scores = tmp_path / "scores.csv"
    options = dict(report=lambda text: None, hidden=NO_HIDDEN_TESTS, project=teacher, timeout=60)
    graded = grade_class(submissions, scores, [RELU], **options)
    assert [results[0].points for results in graded.values()] == [0, 0, 4]
    assert scores.stat().st_size < 20_000 and "\x1b" not in scores.read_text(encoding="utf-8")
    assert grade_class(submissions, scores, [RELU], **options) == {}         # resumes: nothing left


def test_changing_an_argument_in_place_is_named_not_carried_over(student, teacher):
    path = student / "layers" / "relu.py"
    solution = (REPOSITORY / "layers" / "relu.py").read_text(encoding="utf-8")
    marker = "        # BEGIN" + " SOLUTION\n"
    path.write_text(solution.replace(marker, marker + "        input_tensor[...] = 0\n", 1), encoding="utf-8")
    result = grade_relu(student, teacher, True if sandbox.bubblewrap() else False)
    assert result.points == 0 and "changed an array it was given" in result.failure["message"]


def test_the_student_side_cannot_change_the_graders_classes_or_send_huge_names():
    from exercise.remote import Channel, Policy

    class Reference:
        def method(self):
            return 1

    channel = Channel(None, None, "grader", Policy(strict=True, modules=("tests",)), {})
    number = channel.export(Reference, check=False)
    with pytest.raises(AttributeError, match="cannot be changed"):
        channel._perform({"op": "setattr", "target": number, "name": "method"}, (None,), {})
    assert Reference().method() == 1
    worker_side = Channel(None, None, "grader", Policy(), {})
    proxy_class = worker_side._proxy_class({"id": 7, "name": "N" * 1_000_000, "qualname": "Q" * 1_000_000,
                                            "module": "m" * 1_000_000, "shared": None,
                                            "methods": ["x" * 1_000_000, "forward"], "attributes": []})
    assert len(proxy_class.__qualname__) <= 100 and len(proxy_class.__module__) <= 100
    assert proxy_class._remote_methods == {"forward"}
