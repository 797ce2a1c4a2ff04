"""``python -m framework ...`` runs the normnet command line."""
import sys

from framework.entry import main

sys.exit(main())
