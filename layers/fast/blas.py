"""NumPy's own BLAS as threadpoolctl sees it: which kernels it runs, on how many threads.

The fast Conv chooses where its products run in pieces by it (``layers/fast/conv.py``), and
the benchmarks print it (``benchmarks/threads.py``).
"""
import functools
import os

import numpy as np


@functools.lru_cache(maxsize=1)
def numpy_blas():
    """threadpoolctl's controller of NumPy's own OpenBLAS (a wheel's, in ``numpy.libs`` or inside
    the package), or None for any other BLAS. Its ``architecture`` names the kernels; its
    ``get_num_threads()`` reads the thread count as it is now."""
    from threadpoolctl import ThreadpoolController

    package = os.path.realpath(os.path.dirname(np.__file__))
    places = (package + os.sep, package + ".libs" + os.sep)
    for library in ThreadpoolController().lib_controllers:
        if library.internal_api == "openblas" and os.path.realpath(library.filepath).startswith(places):
            return library
    return None
