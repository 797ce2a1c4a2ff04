"""benchmarks/bench_products.py, the grid behind the fast Conv's products in pieces, still runs
and prints all of its grids (one repetition each: a smoke test; timings are never asserted)."""
import subprocess
import sys
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[2]


def test_the_grid_of_products_in_pieces_runs():
    result = subprocess.run([sys.executable, "benchmarks/bench_products.py", "--repetitions", "1", "--threads", "1"],
                            capture_output=True, text=True, cwd=REPOSITORY, timeout=300)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert sum(line.startswith("forward-style products") for line in lines) == 3  # pieces of 128, 64, 32
    assert any(line.startswith("sums ") for line in lines)
    ratios = [line.split() for line in lines if line.split() and line.split()[0].isdigit()]
    assert len(ratios) == 3 * 8 + 6 and all(len(row) == 5 for row in ratios)
    assert all(float(ratio) > 0 for row in ratios for ratio in row[1:])
