"""What the benchmarks share about the process they run in: the ``--threads N`` and
``--malloc-defaults`` options, and lines saying which BLAS kernels NumPy runs and how memory
is allocated."""
import os
import sys


def add_threads_option(parser):
    parser.add_argument("--threads", type=int, default=None,
                        help="threads for both NumPy's BLAS and PyTorch (default: each library's own choice); "
                             "1 gives steadier numbers when other programs load the machine")
    parser.add_argument("--malloc-defaults", action="store_true",
                        help="leave glibc's malloc as it is; by default the benchmark keeps freed memory in the "
                             "process, as the normnet command does (framework/memory.py), for both frameworks")


def restart_with_threads(threads, malloc_defaults=False):
    """Re-run this script with the thread variables set, and glibc's malloc thresholds set as
    ``framework.memory.keep_freed_memory`` sets them (unless ``malloc_defaults``), unless they
    already are.

    BLAS reads its thread count when NumPy is imported (PyTorch reads OMP_NUM_THREADS
    likewise), so the only reliable way to change it is a fresh process. The malloc
    thresholds go the same way, through glibc's own variables, so that the child processes
    that measure peak memory run with them too.
    """
    from framework.memory import ENVIRONMENT
    from framework.threads import THREAD_VARIABLES

    wanted = {}
    if threads is not None:
        wanted.update({variable: str(threads) for variable in THREAD_VARIABLES})
    if not malloc_defaults:
        wanted.update(ENVIRONMENT)
    if all(os.environ.get(variable) == value for variable, value in wanted.items()):
        return
    os.environ.update(wanted)
    os.execv(sys.executable, [sys.executable] + sys.argv)


def process_lines():
    """What a benchmark prints about its process: NumPy's BLAS and how memory is allocated."""
    return f"{blas_line()}\n{malloc_line()}"


def malloc_line():
    """How this process allocates memory: glibc's thresholds, if set."""
    from framework.memory import ENVIRONMENT

    settings = [f"{name}={os.environ[name]}" for name in ENVIRONMENT if name in os.environ]
    return "malloc: " + (", ".join(settings) + " (freed memory kept, as the normnet command does)" if settings
                         else "glibc's defaults (--malloc-defaults)")


def blas_line():
    """Which BLAS NumPy runs, with which kernels and threads (``layers.fast.blas``, the view the
    fast Conv chooses its routes by), and a warning when ``OPENBLAS_CORETYPE`` forces the kernels.

    Some machines set ``OPENBLAS_CORETYPE`` (and ``OPENBLAS_L2_SIZE``) for every program,
    because older OpenBLAS builds computed wrong results on their processors; a current
    NumPy then runs slower kernels than the CPU allows (AVX2 where it has AVX-512, here).
    To measure what the CPU can do, unset both for the benchmark's command alone:
    ``env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/...``.
    """
    from layers.fast.blas import numpy_blas

    library = numpy_blas()
    line = "NumPy's BLAS: " + (f"{library.internal_api} {library.version} with {library.architecture} kernels, "
                               f"{library.get_num_threads()} threads" if library is not None
                               else "not found by threadpoolctl")
    forced = {name: os.environ[name] for name in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") if name in os.environ}
    if forced:
        line += ("; forced by " + ", ".join(f"{name}={value}" for name, value in forced.items())
                 + " (unset them for this command to measure the CPU's own kernels)")
    return line
