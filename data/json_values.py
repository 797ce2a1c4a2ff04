"""Plain JSON values from NumPy ones: the one sanitizer for everything normnet writes as JSON."""
import numpy as np


def json_value(value):
    """``value`` in plain JSON types: NumPy scalars become numbers, arrays and tuples lists,
    dtypes their names, dict keys strings (e.g. a bit generator's state, whose MT19937 key
    is a uint32 array)."""
    if isinstance(value, np.dtype) or (isinstance(value, type) and issubclass(value, np.generic)):
        return np.dtype(value).name
    if isinstance(value, (tuple, list)):
        return [json_value(item) for item in value]
    if isinstance(value, dict):
        return {str(key): json_value(item) for key, item in value.items()}
    if isinstance(value, np.ndarray):
        return json_value(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    return value
