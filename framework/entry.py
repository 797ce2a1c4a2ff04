"""The ``normnet`` command's entry point: it imports nothing heavy before it can answer a
Ctrl-C in one line (NumPy and the layers load after it is in place)."""
import os
import signal
import sys
import threading

BEFORE_START = "normnet: interrupted before it started; nothing was written"


def _interrupted_before_start(signum, frame):
    # A Ctrl-C before ``framework.cli.main`` takes over (its first statement). Python delivers a
    # signal at the next bytecode boundary, which can lie outside any ``try`` (a function's first
    # instruction) or inside NumPy's C import code, which turns the KeyboardInterrupt into an
    # ImportError. Nothing has been written yet, so the process ends here, at once.
    print(BEFORE_START, file=sys.stderr, flush=True)
    os._exit(128 + signal.SIGINT)


if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
    signal.signal(signal.SIGINT, _interrupted_before_start)


def main(argv=None):
    try:
        from framework.cli import main as run
    except KeyboardInterrupt:   # imported outside the main thread, where no handler could be set
        print(BEFORE_START, file=sys.stderr)
        return 128 + signal.SIGINT      # the shell's convention for a Ctrl-C
    return run(argv)
