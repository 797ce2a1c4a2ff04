"""``python -m framework ...`` runs the normnet command line."""
import sys

from framework.cli import main

sys.exit(main())
