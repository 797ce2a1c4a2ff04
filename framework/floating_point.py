"""Subnormal numbers flushed to zero while a network trains (x86-64 Linux).

A float32 number smaller than 1.2e-38 in magnitude (float64: 2.2e-308) is *subnormal*, and an
x86 processor computes an operation with a subnormal operand or result through a microcode
assist, many times slower than the rest. A unit that weight decay drives to zero passes
through them, and then every product that reads its weights does: LeNet's step with coupled
L2 at α = 0.1 took 41 ms instead of 9 once a third of conv2's weights were subnormal
(Fashion-MNIST, 5 000 images, batch 64, one thread).

The processor's MXCSR register has two switches for this (the ones PyTorch's
``torch.set_flush_denormal`` sets): FTZ writes 0 for a result that would be subnormal, and
DAZ reads a subnormal operand as 0. They change a result only where a subnormal number would
appear, so a computation without one gives the same bits. MXCSR belongs to the thread (a
thread started later copies its creator's); glibc's ``fegetenv``/``fesetenv`` read and write
it. Elsewhere (another processor or C library) nothing changes and training runs at the
processor's own speed.
"""
import contextlib
import ctypes
import functools
import platform
import sys

FLUSH_TO_ZERO = 1 << 15
DENORMALS_ARE_ZERO = 1 << 6
# glibc's fenv_t on x86-64 as eight 32-bit words: the x87 environment (seven words), then MXCSR.
FENV_WORDS = 8
MXCSR_WORD = 7


@functools.lru_cache(maxsize=None)
def _libm():
    """glibc's math library on x86-64 Linux, or None where MXCSR cannot be set this way."""
    if sys.platform != "linux" or platform.machine() != "x86_64" or platform.libc_ver()[0] != "glibc":
        return None
    try:
        return ctypes.CDLL("libm.so.6", use_errno=True)
    except OSError:
        return None


def _replace_mxcsr_bits(library, bits, values):
    """Set ``bits`` of this thread's MXCSR to ``values`` (the other bits unchanged); return what
    those bits were."""
    environment = (ctypes.c_uint32 * FENV_WORDS)()
    if library.fegetenv(ctypes.byref(environment)) != 0:
        raise OSError("fegetenv failed")
    before = environment[MXCSR_WORD] & bits
    environment[MXCSR_WORD] = (environment[MXCSR_WORD] & ~bits) | (values & bits)
    if library.fesetenv(ctypes.byref(environment)) != 0:
        raise OSError("fesetenv failed")
    return before


@contextlib.contextmanager
def subnormals_flushed():
    """Within the block, this thread's floating-point arithmetic treats subnormal operands and
    results as 0 (see the module); afterwards each switch is as it was. Yields whether it could
    switch (False where this platform has no such switch: nothing changes there)."""
    library = _libm()
    if library is None:
        yield False
        return
    bits = FLUSH_TO_ZERO | DENORMALS_ARE_ZERO
    before = _replace_mxcsr_bits(library, bits, bits)
    try:
        yield True
    finally:
        _replace_mxcsr_bits(library, bits, before)
