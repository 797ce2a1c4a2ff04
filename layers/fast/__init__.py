"""The fast layers: drop-in twins of the teaching layers, with the same constructors,
parameters and checkpoint names, tuned for speed. The model builders use them by default.

``LAYERS`` maps the names a checkpoint stores to the fast classes.
"""
# For now the tuned implementations still live in the teaching modules; they move here.
from layers import LAYERS  # noqa: F401
