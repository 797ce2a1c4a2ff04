"""Where the fast Conv's products in pieces pay: whole products against stacks of pieces.

    python benchmarks/bench_products.py [--threads N] [--repetitions 60]

The fast Conv multiplies its kernels by its columns (few rows, many columns) and, for ∂L/∂W,
a few short rows by a long sum (``layers/fast/conv.py``: ``_product``,
``_product_with_transposed``). NumPy's OpenBLAS runs some of these shapes far below its
speed elsewhere, and the same product cut into a stack of narrow pieces (one ``np.matmul``
over a 3-D view, no copies) runs faster; with other kernels or threads the pieces lose.
This prints, for a grid of shapes, the time of the whole product over that of the pieces
(above 1: the pieces are faster), for pieces of 128, 64 and 32 columns: the measurement behind
PIECE_ROWS, SMALL_PRODUCT, PIECE_WIDTHS, PIECE_INNER, PIECE_COLUMNS, SUM_PIECE_SIZES and
SUM_PIECE_LENGTH, and behind ``_pieces_pay``. Median of ``--repetitions`` calls, float32. A
measurement, not a test.
"""
import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from threads import add_threads_option, process_lines, restart_with_threads  # noqa: E402

COLUMNS = 8192  # length of the sums
TILE_BYTES = 2 << 20  # the fast Conv's tiles (Conv.TILE_BYTES): its forward-style products have this many
MOST_COLUMNS = 16384  # bytes of float32 columns, so inner x columns x 4 of them, at most this many columns
FORWARD_INNER = (9, 25, 75, 144, 288, 400, 576, 800)
PIECE_WIDTHS = (128, 64, 32)
FORWARD_ROWS = (6, 16, 32, 64)
SUM_ROWS = (9, 25, 27, 75, 144, 288)
SUM_KERNELS = (6, 16, 32, 64)


def median_ms(function, repetitions):
    function()
    times = []
    for _ in range(repetitions):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return 1000 * float(np.median(times))


def pieces_of(matrix, width):
    """(rows, n) -> the 3-D view (n / width, rows, width): a stack of column pieces."""
    return matrix.reshape(matrix.shape[0], -1, width).transpose(1, 0, 2)


def tile_columns(inner):
    """The columns of a tile of the fast Conv with this inner dimension (a multiple of 128)."""
    return min(MOST_COLUMNS, TILE_BYTES // (4 * inner)) // 128 * 128


def forward_ratio(rows, inner, width, repetitions, rng):
    columns = tile_columns(inner)
    left = rng.standard_normal((rows, inner), dtype=np.float32)
    right = rng.standard_normal((inner, columns), dtype=np.float32)
    out = np.empty((rows, columns), dtype=np.float32)
    whole = median_ms(lambda: np.matmul(left, right, out=out), repetitions)
    pieces = median_ms(lambda: np.matmul(left, pieces_of(right, width), out=pieces_of(out, width)), repetitions)
    return whole / pieces


def sum_ratio(rows, kernels, length, repetitions, rng):
    left = rng.standard_normal((rows, COLUMNS), dtype=np.float32)
    right = rng.standard_normal((kernels, COLUMNS), dtype=np.float32)
    whole = median_ms(lambda: left @ right.T, repetitions)
    pieces = median_ms(lambda: np.matmul(pieces_of(left, length), pieces_of(right, length).transpose(0, 2, 1))
                       .sum(axis=0), repetitions)
    return whole / pieces


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repetitions", type=int, default=60)
    add_threads_option(parser)
    arguments = parser.parse_args()
    restart_with_threads(arguments.threads, arguments.malloc_defaults)
    rng = np.random.default_rng(0)
    print(process_lines())
    for width in PIECE_WIDTHS:
        print(f"forward-style products (rows x inner) @ (inner x a tile's columns, {tile_columns(FORWARD_INNER[-1])} "
              f"to {tile_columns(FORWARD_INNER[0])}): whole time / time in pieces of {width} columns")
        print(f"{'inner':>6s} " + " ".join(f"{f'{rows} rows':>9s}" for rows in FORWARD_ROWS))
        for inner in FORWARD_INNER:
            ratios = [forward_ratio(rows, inner, width, arguments.repetitions, rng) for rows in FORWARD_ROWS]
            print(f"{inner:6d} " + " ".join(f"{ratio:9.2f}" for ratio in ratios))
    print(f"sums (rows x {COLUMNS}) @ (kernels x {COLUMNS})ᵀ: whole time / time in pieces of 512")
    print(f"{'rows':>6s} " + " ".join(f"{f'{kernels} kern.':>9s}" for kernels in SUM_KERNELS))
    for rows in SUM_ROWS:
        ratios = [sum_ratio(rows, kernels, 512, arguments.repetitions, rng) for kernels in SUM_KERNELS]
        print(f"{rows:6d} " + " ".join(f"{ratio:9.2f}" for ratio in ratios))


if __name__ == "__main__":
    main()
