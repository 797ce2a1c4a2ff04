"""Small test doubles shared by several test files."""
import numpy as np


class RecordingInitializer:
    """Remembers every call and returns a constant array of the requested shape."""

    def __init__(self, value):
        self.value = value
        self.calls = []

    def initialize(self, weights_shape, fan_in, fan_out):
        self.calls.append((tuple(weights_shape), fan_in, fan_out))
        return np.full(weights_shape, self.value)
