"""The README's front page holds: its two commands are the ones CI runs and the code provides, the
defaults it states are the defaults, and every link in it leads to a file of the repository.

The commands themselves run elsewhere: CI (``.ci/run``) runs the test command in a fresh
environment, tests/test_training.py runs ``normnet train`` on MNIST, and ``.ci/docs`` builds
the documentation site with ``mkdocs build --strict``, which checks the site's links.
"""
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parent.parent
README = REPOSITORY / "README.md"

TRAIN_COMMAND = "python3 -m venv .venv && . .venv/bin/activate && pip install -e . && normnet train"
TEST_COMMAND = ("python3 -m venv .venv && . .venv/bin/activate && pip install -e '.[test]' "
                "&& python -m pytest -q")
LINK = re.compile(r"\]\(([^)\s]+)\)")


def bash_blocks(text):
    return [block.strip() for block in re.findall(r"```bash\n(.*?)```", text, re.DOTALL)]


def test_the_readme_gives_the_train_and_the_test_command_first():
    blocks = bash_blocks(README.read_text(encoding="utf-8"))
    assert blocks[:2] == [TRAIN_COMMAND, TEST_COMMAND]


def test_ci_runs_the_readmes_test_command():
    ci = (REPOSITORY / ".ci" / "run").read_text(encoding="utf-8")
    assert "python3 -m venv .venv" in ci and ". .venv/bin/activate" in ci
    assert re.search(r"pip install (--quiet )?-e '\.\[test\]' && python -m pytest -q", ci), ci


def test_the_train_command_exists_with_the_defaults_the_readme_states():
    setup = (REPOSITORY / "setup.cfg").read_text(encoding="utf-8")
    assert re.search(r"^\s*normnet = framework\.entry:main$", setup, re.MULTILINE)
    from framework.training import TrainConfig

    defaults = TrainConfig()
    stated = {"epochs": 3, "optimizer": "adam", "learning_rate": 1e-3, "lr_decay": 0.7, "regularizer": "l2",
              "alpha": 4e-4, "batch_size": 64, "dtype": "float32", "model": "lenet", "dataset": "mnist"}
    assert {name: getattr(defaults, name) for name in stated} == stated
    readme = " ".join(README.read_text(encoding="utf-8").split())
    assert "3 epochs; Adam 1e-3, ×0.7 per epoch; L2 4e-4; batch 64; float32" in readme


def test_the_console_script_answers():
    normnet = shutil.which("normnet", path=str(Path(sys.executable).parent))
    if normnet is None:
        pytest.skip("normnet is not installed as a console script (pip install -e .)")
    result = subprocess.run([normnet, "train", "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "--output-dir" in result.stdout, result.stderr[-2000:]


def test_every_relative_link_of_the_readme_leads_to_a_file():
    # The documentation site's own links are checked by its strict build (.ci/docs).
    path, document = README, "README.md"
    missing = []
    for target in LINK.findall(path.read_text(encoding="utf-8")):
        target = target.split("#")[0]
        if not target or re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", target):
            continue
        if not (path.parent / target).exists():
            missing.append(target)
    assert not missing, f"{document} links to {missing}"

