"""Keep freed memory in the process: large arrays then stop costing a page fault per 4 KiB.

A training step makes many arrays of a few megabytes and drops them again (every layer's
output and gradient is a new array). glibc's malloc serves such sizes with fresh pages
from the system (mmap, or the top of its heap, which it gives back when freed), and the
first write to each 4 KiB page then stops the program for a page fault. For the
all-convolutional network at batch 64 that was about 2300 faults, 9 MB of fresh pages,
per training step: with the freed memory kept, a step took 13.0 instead of 15.5 ms (one
thread, CPU time, ``benchmarks/profile_layers.py --model allconv``), and PyTorch's took
12.0 instead of 18.4 ms, as it allocates the same way (docs/performance.md).

``keep_freed_memory()`` sets glibc's thresholds (``mallopt``) so that arrays up to
``MMAP_THRESHOLD`` come from its heap and freed memory stays there unless more than
``TRIM_THRESHOLD`` is free. It changes the whole process, so a library does not do it on
import: ``normnet``'s command line calls it for its own process, each of the Norm Loss
study's runs for the process it trains in (a cluster worker too), and a program of yours
may call it as well. The process then keeps its peak memory until it ends, which is what a
training run uses anyway.
"""
import ctypes
import functools
import os

MMAP_THRESHOLD = 32 << 20  # glibc's own largest dynamic threshold on 64-bit systems
TRIM_THRESHOLD = 128 << 20
# mallopt's parameter numbers (glibc's malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
# The same settings as glibc's own variables, which set them for a whole process from its start
# (and its children): where a user has set one, keep_freed_memory leaves the thresholds alone.
MMAP_VARIABLE, TRIM_VARIABLE = "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_"
ENVIRONMENT = {MMAP_VARIABLE: str(MMAP_THRESHOLD), TRIM_VARIABLE: str(TRIM_THRESHOLD)}


def keep_freed_memory():
    """Set glibc's malloc to keep freed memory (see the module docstring). True where it did;
    False elsewhere (another C library, another system, or the user's own MALLOC_* settings)."""
    if any(name in os.environ for name in ENVIRONMENT):
        return False
    return _set_thresholds()


@functools.cache  # a process-wide setting: once is enough
def _set_thresholds():
    try:
        # The program's own symbols: glibc's mallopt on Linux, without a search for the library.
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # another system, or a C library without mallopt
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    # mallopt returns 1 on success; setting either threshold also stops glibc adjusting them.
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
