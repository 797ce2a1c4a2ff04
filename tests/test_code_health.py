"""The code's shape, checked by tools: imports run one way without cycles (import-linter, with
the contracts in ``.importlinter``), pyflakes' rules hold (ruff, configured in pyproject.toml),
and nothing cites a document that is not in the repository.

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


# Documents the project was built from, which are not part of it: code, notebooks and docs cite
# the Norm Loss paper by its equation numbers and the exercise by its slides' titles instead.
OUTSIDE_DOCUMENTS = re.compile(r"SPEC\.md|STYLE\.md|PERF_NOTES|seed slides|seed eq|seeds/|the brief\b",
                               re.IGNORECASE)


def test_nothing_cites_a_document_outside_the_repository():
    tracked = subprocess.run(["git", "ls-files"], cwd=REPOSITORY, capture_output=True, text=True)
    if tracked.returncode != 0:
        pytest.skip("not a git checkout")
    offenders = []
    for name in tracked.stdout.split():
        if Path(name).suffix not in (".py", ".md", ".ipynb", ".cfg", ".toml", ".txt") or name == Path(__file__).name:
            continue
        if name.endswith("test_code_health.py"):
            continue
        text = (REPOSITORY / name).read_text(encoding="utf-8", errors="replace")
        for number, line in enumerate(text.splitlines(), 1):
            if OUTSIDE_DOCUMENTS.search(line):
                offenders.append(f"{name}:{number}: {line.strip()[:120]}")
    assert not offenders, "\n".join(offenders[:40])
