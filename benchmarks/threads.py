"""The ``--threads N`` option shared by the benchmarks."""
import os
import sys

THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def add_threads_option(parser):
    parser.add_argument("--threads", type=int, default=None,
                        help="threads for both NumPy's BLAS and PyTorch (default: each library's own choice); "
                             "1 gives steadier numbers when other programs load the machine")


def restart_with_threads(threads):
    """Re-run this script with the thread variables set, unless they already are.

    BLAS reads its thread count when NumPy is imported (PyTorch reads OMP_NUM_THREADS
    likewise), so the only reliable way to change it is a fresh process.
    """
    if threads is None or os.environ.get("OPENBLAS_NUM_THREADS") == str(threads):
        return
    for variable in THREAD_VARIABLES:
        os.environ[variable] = str(threads)
    os.execv(sys.executable, [sys.executable] + sys.argv)
