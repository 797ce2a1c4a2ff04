"""framework.memory.keep_freed_memory: new arrays stop costing a page fault per 4 KiB.

The setting changes the whole process, so each case runs in a fresh Python.
"""
import os
import platform
import subprocess
import sys

import pytest

REPOSITORY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Three 3.2 MB arrays made and dropped together, as a training step's layers do: glibc gives
# the freed top of its heap back to the system, and the next arrays fault in fresh pages.
SCRIPT = """
import resource, sys
import numpy as np
from framework.memory import keep_freed_memory
applied = keep_freed_memory() if sys.argv[1] == "kept" else None
faults = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_minflt
def cycle():
    a = np.ones(800_000, np.float32); b = np.ones(800_000, np.float32); c = np.ones(800_000, np.float32)
    del c, b, a
for _ in range(3):
    cycle()
before = faults()
for _ in range(20):
    cycle()
print(applied, (faults() - before) / 20)
"""


def run(mode):
    """(what keep_freed_memory returned, page faults per cycle) in a fresh Python without MALLOC_* settings."""
    environment = {name: value for name, value in os.environ.items() if not name.startswith("MALLOC_")}
    result = subprocess.run([sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True, cwd=REPOSITORY,
                            env={**environment, "PYTHONPATH": REPOSITORY}, check=True)
    applied, faults = result.stdout.split()
    return applied, float(faults)


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
                    reason="the setting is glibc's (Linux)")
def test_kept_freed_memory_stops_the_page_faults_of_new_arrays():
    _, default_faults = run("default")
    applied, kept_faults = run("kept")
    assert default_faults > 500  # 3 x 3.2 MB of fresh pages is about 2300 faults per cycle
    assert applied == "True" and kept_faults < 10


def test_a_users_own_malloc_setting_is_left_alone(monkeypatch):
    from framework.memory import keep_freed_memory

    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "131072")
    assert keep_freed_memory() is False
