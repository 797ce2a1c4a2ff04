"""The ``normnet`` command's entry point: it imports nothing heavy before it can answer a
Ctrl-C in one line (NumPy and the layers load after it is in place)."""
import signal
import sys


def main(argv=None):
    try:
        from framework.cli import main as run
    except KeyboardInterrupt:
        print("normnet: interrupted before it started; nothing was written", file=sys.stderr)
        return 128 + signal.SIGINT      # the shell's convention for a Ctrl-C
    return run(argv)
