"""``normnet exercise``: the command line of the exercise tools (registered under the
entry-point group ``normnet.commands``)."""
import tempfile
from pathlib import Path

from exercise import sandbox
from exercise.grading import (DEFAULT_BUDGET_SECONDS, DEFAULT_TIMEOUT_SECONDS, HIDDEN_TESTS, format_table, grade,
                              grade_class, looks_like_a_tree, score, submissions_in, write_csv)
from exercise.points import PARTS, find_part
from exercise.student_version import make_student_version
from exercise.submission import is_archive, pack, unpack
from framework.cli import integer_at_least, number_in


def add_parser(subparsers):
    parser = subparsers.add_parser("exercise", help="make the student version; grade student trees",
                                   description="Exercise mode: write the student version of normnet, "
                                               "and grade student trees part by part.")
    commands = parser.add_subparsers(dest="exercise_command", required=True)

    make = commands.add_parser("make", help="write the student version into DIR",
                               description="Write the student version into DIR: every solution block "
                                           "becomes raise NotImplementedError, with the exercise tests, "
                                           "the notebooks (outputs cleared) and STUDENT.md.")
    make.add_argument("directory", type=Path, metavar="DIR")
    make.add_argument("--force", action="store_true", help="write into DIR even if it is not empty")
    make.set_defaults(handler=_make)

    grade_parser = commands.add_parser(
        "grade", help="grade a student tree, or a folder of submissions",
        description="Run the exercise tests against the code in DIR, one process per part, and print "
                    "part, tests passed, points; the last line is 'score: X/Y'. If DIR is a folder of "
                    "submissions (student trees), grade each and write a CSV of scores.")
    grade_parser.add_argument("directory", type=Path, nargs="?", default=Path("."), metavar="DIR",
                              help="a student tree or a folder of them (default: the current folder)")
    grade_parser.add_argument("--part", action="append", metavar="NAME", dest="parts",
                              help="grade only this part (repeatable); default: all of them")
    grade_parser.add_argument("--timeout", type=number_in(0, True), default=DEFAULT_TIMEOUT_SECONDS,
                              help="seconds each part may run (default %(default)s)")
    grade_parser.add_argument("--jobs", type=integer_at_least(1), default=None,
                              help="parts graded at the same time (default: one per core, at most four)")
    grade_parser.add_argument("--hidden", type=Path, default=HIDDEN_TESTS, metavar="FOLDER",
                              help="hidden tests, test_<part key>_*.py (default: tests/hidden of this project, "
                                   "if present)")
    grade_parser.add_argument("--budget", type=number_in(0, True), default=DEFAULT_BUDGET_SECONDS,
                              help="seconds in all for one submission (default %(default)s)")
    grade_parser.add_argument("--no-sandbox", action="store_true",
                              help="do not use bubblewrap even where it is installed")
    grade_parser.add_argument("--csv", type=Path, default=None, metavar="FILE",
                              help="write the scores as CSV (default for a folder of submissions: scores.csv; "
                                   "a folder resumes after the rows already in it)")
    grade_parser.set_defaults(handler=_grade)

    pack = commands.add_parser("pack", help="write the archive to hand in",
                               description="Write one archive of exactly the files you edit (the parts' "
                                           "sources and the notebooks) and print what went in.")
    pack.add_argument("directory", type=Path, nargs="?", default=Path("."), metavar="DIR",
                      help="your student tree (default: the current folder)")
    pack.add_argument("--output", type=Path, default=Path("submission.tar.gz"), metavar="FILE",
                      help="the archive to write (default %(default)s; never replaced)")
    pack.set_defaults(handler=_pack)


def _make(arguments):
    summary = make_student_version(arguments.directory, force=arguments.force)
    print(f"student version written to {arguments.directory}: {summary['files']} files, "
          f"{summary['stubs']} stubs to implement, {summary['notebooks']} notebooks; see its STUDENT.md")
    return 0


def _pack(arguments):
    if not looks_like_a_tree(arguments.directory):
        raise ValueError(f"{arguments.directory} is not a student tree (it has no layers/ folder)")
    packed, missing = pack(arguments.directory, arguments.output)
    for name, size in packed:
        print(f"  {name} ({size} bytes)")
    if missing:
        print(f"not there, so not packed: {', '.join(missing)}")
    print(f"{len(packed)} files written to {arguments.output}; hand in that file")
    return 0


def _grade(arguments):
    parts = [find_part(name) for name in arguments.parts] if arguments.parts else list(PARTS)
    folder = arguments.directory
    if is_archive(folder) and folder.is_file():
        with tempfile.TemporaryDirectory(prefix="normnet-handin-") as unpacked:
            left_out = unpack(folder, unpacked, graded_only=True)
            if left_out:
                print(f"left out of {folder}: {'; '.join(left_out)}")
            arguments.directory = Path(unpacked)
            return _grade(arguments)
    if not folder.is_dir():
        raise ValueError(f"{folder} is not a folder or a hand-in archive (.tar.gz)")
    use_sandbox = not arguments.no_sandbox
    options = dict(parts=parts, timeout=arguments.timeout, hidden=arguments.hidden, jobs=arguments.jobs,
                   budget=arguments.budget, use_sandbox=use_sandbox)
    print(sandbox.describe(use_sandbox), flush=True)
    if looks_like_a_tree(folder):
        results = grade(folder, **options)
        print(format_table(results), flush=True)
        if arguments.csv is not None:
            write_csv(arguments.csv, {folder.resolve().name: results})
        return 0
    if not submissions_in(folder):
        raise ValueError(f"{folder} is neither a student tree (no layers/ folder) nor a folder of them")
    csv_path = arguments.csv or Path("scores.csv")
    options.pop("parts")
    graded = grade_class(folder, csv_path, parts, report=lambda text: print(text, flush=True), **options)
    for name, results in graded.items():
        earned, possible = score(results)
        print(f"{name}: {earned}/{possible}")
    print(f"scores of {len(graded)} submissions written to {csv_path}")
    return 0
