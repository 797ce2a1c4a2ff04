"""The code's shape, checked by tools: imports run one way without cycles (import-linter, with
the contracts in ``.importlinter``), pyflakes' rules hold (ruff, configured in pyproject.toml),
nothing cites a document that is not in the repository, and the code names no issue and no
round of work (the history is in git).

The tools come with the test extra (``pip install -e '.[test]'``). Without them the checks
skip with the reason, except in CI (``CI=true``), where a missing tool is a failure.
"""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parent.parent


def _tool(name):
    path = shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))
    if path is None:
        message = f"{name} is not installed (pip install -e '.[test]')"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


def test_imports_follow_the_contracts():
    result = subprocess.run([_tool("lint-imports"), "--no-cache"], cwd=REPOSITORY, capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]


def test_ruff_finds_nothing():
    result = subprocess.run([_tool("ruff"), "check", "--no-cache", "--output-format", "concise", "."],
                            cwd=REPOSITORY, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]


# The project stands alone: it cites the Norm Loss paper by its equation numbers and the
# exercise by its slides' titles, never a document it does not contain. Three ways such a
# citation shows, checked without naming any such document here:
#   - a project document named in capitals with the .md suffix (as the README) that the
#     repository does not hold;
#   - a path into the folder beside the repository other than the verified datasets there
#     (``../shared/data/``, which the tests and CI read);
#   - a source called by a nickname ("seed" before a slide or an equation) instead of its title.
CAPITALIZED_DOCUMENT = re.compile(r"\b([A-Z][A-Z_]*\.md)\b")
BESIDE_THE_REPOSITORY = re.compile(r"\.\./shared/(?!data/)")
NICKNAMED_SOURCE = re.compile(r"\bseeds?\s+(?:slides?|eq)", re.IGNORECASE)
CHECKED_SUFFIXES = (".py", ".md", ".ipynb", ".cfg", ".toml", ".txt")


def test_nothing_cites_a_document_outside_the_repository():
    tracked = subprocess.run(["git", "ls-files"], cwd=REPOSITORY, capture_output=True, text=True)
    if tracked.returncode != 0:
        pytest.skip("not a git checkout")
    names = tracked.stdout.split()
    documents_here = {Path(name).name for name in names}
    offenders = []
    for name in names:
        if Path(name).suffix not in CHECKED_SUFFIXES:
            continue
        text = (REPOSITORY / name).read_text(encoding="utf-8", errors="replace")
        for number, line in enumerate(text.splitlines(), 1):
            missing = [document for document in CAPITALIZED_DOCUMENT.findall(line) if document not in documents_here]
            if missing or BESIDE_THE_REPOSITORY.search(line) or NICKNAMED_SOURCE.search(line):
                offenders.append(f"{name}:{number}: {line.strip()[:120]}")
    assert not offenders, "\n".join(offenders[:40])


# History lives in git and in notes, not in the code: a comment or docstring says what the code
# does and why, and names no issue by its number and no round of work it came from. Checked in
# every tracked Python file (its strings too, which is where docstrings are).
HISTORY = re.compile(
    r"\bissues?\s*#\s*\d+|\bissues?\s+\d+"            # an issue by its number
    r"|\bthe issue's\b|\(items?\s+\d+"                  # an issue, an issue's items
    r"|(?<![\w&\"'])#\d{1,5}\b"                        # a tracker's #number (not a colour)
    r"|\b(?:second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|earlier|previous)\s+round\b"
    r"|\bround\s+(?:\d+|one|two|three|four|five)\b",   # a round of work
    re.IGNORECASE)


def test_the_code_names_no_issue_and_no_round_of_work():
    tracked = subprocess.run(["git", "ls-files", "*.py"], cwd=REPOSITORY, capture_output=True, text=True)
    if tracked.returncode != 0:
        pytest.skip("not a git checkout")
    offenders = []
    for name in tracked.stdout.split():
        path = REPOSITORY / name
        if not path.exists():
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            if HISTORY.search(line):
                offenders.append(f"{name}:{number}: {line.strip()[:120]}")
    assert not offenders, ("say what the code does and why; the history is in git:\n"
                           + "\n".join(offenders[:40]))
