"""The ``normnet`` command's entry point: it imports nothing heavy before it can answer a
Ctrl-C in one line (NumPy and the layers load after it is in place)."""
import sys

INTERRUPTED_EXIT_CODE = 130


def main(argv=None):
    try:
        from framework.cli import main as run
    except KeyboardInterrupt:
        print("normnet: interrupted before it started; nothing was written", file=sys.stderr)
        return INTERRUPTED_EXIT_CODE
    return run(argv)
