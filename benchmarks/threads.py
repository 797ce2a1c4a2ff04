"""What the benchmarks share about threads and BLAS: the ``--threads N`` option, and a line
saying which BLAS kernels NumPy runs."""
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


def blas_line():
    """Which BLAS NumPy runs, with which kernels and threads (threadpoolctl), and a warning
    when ``OPENBLAS_CORETYPE`` forces the kernels.

    Some machines set ``OPENBLAS_CORETYPE`` (and ``OPENBLAS_L2_SIZE``) for every program,
    because older OpenBLAS builds computed wrong results on their processors; a current
    NumPy then runs slower kernels than the CPU allows (AVX2 where it has AVX-512, here).
    To measure what the CPU can do, unset both for the benchmark's command alone:
    ``env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/...``.
    """
    from threadpoolctl import threadpool_info

    import numpy  # noqa: F401  (threadpoolctl reports only the libraries already loaded)

    libraries = [f"{library.get('internal_api')} {library.get('version')} with {library.get('architecture')} "
                 f"kernels, {library.get('num_threads')} threads"
                 for library in threadpool_info() if library.get("user_api") == "blas"
                 and "numpy" in library.get("filepath", "")]
    line = "NumPy's BLAS: " + ("; ".join(libraries) or "not found by threadpoolctl")
    forced = {name: os.environ[name] for name in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") if name in os.environ}
    if forced:
        line += ("; forced by " + ", ".join(f"{name}={value}" for name, value in forced.items())
                 + " (unset them for this command to measure the CPU's own kernels)")
    return line
