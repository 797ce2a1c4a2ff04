"""A damaged run file of the study is one clear line naming it, never a traceback."""
import subprocess
import sys

import pytest

from experiments.storage import load_records, runs_folder


@pytest.mark.parametrize("content, expected", [
    ("", "Expecting value"),
    ("{", "Expecting"),
    ("{}", "the field 'spec' is missing"),
    ("[1, 2]", "expected an object, found list"),
    ('{"spec": {}, "run_id": "x"}', "the field 'rows' is missing"),
])
def test_a_damaged_run_file_is_named_with_the_way_out(tmp_path, content, expected):
    folder = runs_folder(tmp_path)
    folder.mkdir(parents=True)
    (folder / "broken_run.json").write_text(content)
    with pytest.raises(ValueError) as error:
        load_records(tmp_path)
    message = str(error.value)
    assert "broken_run.json: not a run record" in message and expected in message
    assert "delete it" in message


def test_normnet_compare_over_a_damaged_run_file_prints_one_line(tmp_path):
    folder = runs_folder(tmp_path)
    folder.mkdir(parents=True)
    (folder / "broken_run.json").write_text("{}")
    # The command reads the finished records before it runs or reports anything.
    result = subprocess.run([sys.executable, "-c", "import sys\n"
                             "from framework.cli import main\n"
                             "sys.exit(main(['compare', '--quick', '--output-dir', sys.argv[1], '--workers', '1']))",
                             str(tmp_path)], capture_output=True, text=True, timeout=600)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "broken_run.json: not a run record" in result.stderr
