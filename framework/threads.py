"""The cores this process may run on, and BLAS held to one thread while worker threads share them."""
import os

# The environment variables that set the thread count of BLAS and OpenMP; each library reads
# its own when it loads, so they must be set before the process imports NumPy (or PyTorch).
THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")

_blas_controller = None


def available_cores():
    """The cores this process may run on (its CPU affinity where the system tells it)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def one_blas_thread():
    """A context in which BLAS runs single-threaded (threadpoolctl; inspects the loaded libraries once)."""
    global _blas_controller
    if _blas_controller is None:
        from threadpoolctl import ThreadpoolController

        _blas_controller = ThreadpoolController()
    return _blas_controller.limit(limits=1, user_api="blas")
