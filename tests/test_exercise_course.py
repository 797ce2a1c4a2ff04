"""The course as a student lives it: the parts in STUDENT.md's order, each earning its points
as soon as it is written (nothing waits for a later part), and handing in with
``normnet exercise pack``."""
import shutil
import tarfile
from pathlib import Path

import pytest

from exercise.grading import grade, grade_class
from exercise.points import PARTS, find_part
from exercise.student_version import student_instructions
from framework.cli import main
from tests.student_trees import empty_student_fixture  # noqa: F401 - the fixture empty_student
from tests.student_trees import NO_HIDDEN_TESTS, REPOSITORY, fill_in


def test_student_md_lists_the_parts_in_the_graders_order():
    text = student_instructions()
    positions = [text.index(f"| {part.name} |") for part in PARTS]
    assert positions == sorted(positions)
    assert "normnet data fetch" in text and "NORMNET_DATA" in text and "--part" in text
    assert "normnet exercise pack" in text


def test_a_student_working_in_order_earns_each_part_the_moment_it_is_written(empty_student, tmp_path):
    tree = Path(shutil.copytree(empty_student, tmp_path / "student"))
    for number, part in enumerate(PARTS):
        fill_in(tree, part)
        [done] = grade(tree, parts=[part], hidden=NO_HIDDEN_TESTS)
        # Only the parts before it are written; it earns its points all the same.
        assert done.points == part.points, (part.name, done.note, done.failure)
        assert done.passed == done.total > 0
    later = PARTS[-1]
    assert grade(tree, parts=[later], hidden=NO_HIDDEN_TESTS)[0].points == later.points


def test_pack_hands_in_exactly_the_files_a_student_edits_and_grade_takes_it(empty_student, tmp_path, capsys):
    tree = Path(shutil.copytree(empty_student, tmp_path / "student"))
    fill_in(tree, find_part("ReLU"))
    (tree / ".venv").mkdir()
    (tree / ".venv" / "big").write_bytes(b"\0" * 1000)
    (tree / "layers" / "relu_old.py").write_text("old\n", encoding="utf-8")
    archive = tmp_path / "hand-in.tar.gz"
    assert main(["exercise", "pack", str(tree), "--output", str(archive)]) == 0
    output = capsys.readouterr().out
    with tarfile.open(archive) as opened:
        names = opened.getnames()
    expected = [source for part in PARTS for source in part.sources] + \
        sorted(f"notebooks/{path.name}" for path in (tree / "notebooks").glob("*.ipynb"))
    assert names == expected
    assert "layers/relu.py" in output and f"written to {archive}" in output
    # never replaced
    assert main(["exercise", "pack", str(tree), "--output", str(archive)]) == 2
    assert "already exists" in capsys.readouterr().err
    # graded as the tree it came from, alone or in a class folder
    assert main(["exercise", "grade", str(archive), "--part", "ReLU", "--hidden", str(NO_HIDDEN_TESTS)]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == "score: 4/4"
    submissions = tmp_path / "class"
    submissions.mkdir()
    shutil.copyfile(archive, submissions / "ada.tar.gz")
    graded = grade_class(submissions, tmp_path / "scores.csv", [find_part("ReLU")], report=lambda text: None,
                         hidden=NO_HIDDEN_TESTS)
    assert {name: results[0].points for name, results in graded.items()} == {"ada": 4}


def test_an_archive_brings_nothing_but_the_handed_in_files(tmp_path, empty_student, capsys):
    import io

    archive = tmp_path / "evil.tar.gz"
    with tarfile.open(archive, "w:gz") as opened:
        for name, data in (("layers/relu.py", (REPOSITORY / "layers" / "relu.py").read_bytes()),
                           ("pytest.py", b"raise SystemExit(0)\n"), ("../escape.py", b"x = 1\n")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            opened.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("layers/tanh.py")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        opened.addfile(link)
    assert main(["exercise", "grade", str(archive), "--part", "ReLU", "--part", "TanH",
                 "--hidden", str(NO_HIDDEN_TESTS)]) == 0
    output = capsys.readouterr().out
    assert "pytest.py (not a file a student edits)" in output and "../escape.py" in output
    assert "layers/tanh.py (not a regular file)" in output
    assert output.strip().splitlines()[-1] == "score: 4/7"
    assert not (tmp_path.parent / "escape.py").exists()


def _archive_of(path, members):
    import io

    with tarfile.open(path, "w:gz") as opened:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            opened.addfile(info, io.BytesIO(data))


@pytest.mark.parametrize("members, why", [
    ([(f"x{number}", b"") for number in range(300)], "more than 200 members"),
    ([("layers/relu.py", b"\0" * (70 << 20))], "more than 64 MiB"),            # a bomb: 70 MiB of zeros
    ([("n" * (80 << 20), b"")], "more than 64 MiB"),                           # a name of 80 MB
])
def test_an_archive_cannot_take_the_graders_memory_or_disk(tmp_path, members, why, capsys):
    archive = tmp_path / "bomb.tar.gz"
    _archive_of(archive, members)
    assert archive.stat().st_size < (1 << 20)
    assert main(["exercise", "grade", str(archive), "--part", "ReLU", "--hidden", str(NO_HIDDEN_TESTS)]) == 2
    error = capsys.readouterr().err
    assert why in error and error.count("\n") == 1


def test_pack_takes_no_file_through_a_link(empty_student, tmp_path, capsys):
    tree = Path(shutil.copytree(empty_student, tmp_path / "student"))
    outside = tmp_path / "elsewhere"
    shutil.copytree(REPOSITORY / "optimizers", outside)
    shutil.rmtree(tree / "optimizers")
    (tree / "optimizers").symlink_to(outside)
    assert main(["exercise", "pack", str(tree), "--output", str(tmp_path / "hand-in.tar.gz")]) == 0
    assert "not there, so not packed: optimizers/sgd.py" in capsys.readouterr().out
    with tarfile.open(tmp_path / "hand-in.tar.gz") as opened:
        assert not [name for name in opened.getnames() if name.startswith("optimizers/")]


def test_an_installed_copy_of_the_project_is_hidden_in_the_sandbox(tmp_path, monkeypatch):
    from exercise import sandbox

    site_packages = tmp_path / "site-packages"
    (site_packages / "layers").mkdir(parents=True)
    monkeypatch.setattr(sandbox.site, "getsitepackages", lambda: [str(site_packages)])
    assert str(site_packages / "layers") in sandbox.installed_copies()
