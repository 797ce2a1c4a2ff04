"""Reading and writing IDX files, the format of MNIST and Fashion-MNIST.

An IDX file is a header followed by the array's bytes in row-major order::

    bytes 0-1   0x00 0x00                 magic
    byte  2     data type code            0x08 unsigned byte, 0x09 signed byte, 0x0B int16,
                                          0x0C int32, 0x0D float32, 0x0E float64
    byte  3     number of dimensions d
    4*d bytes   each dimension, big-endian unsigned 32-bit
    ...         the data, big-endian

Files may be gzip-compressed (``.gz``); the reader decompresses them, the writer
compresses when the path ends in ``.gz``.
"""
import gzip
from pathlib import Path

import numpy as np

from data.errors import IdxFormatError
from data.files import atomic_write_bytes, read_payload

# type code -> big-endian NumPy dtype, and a name for error messages
IDX_TYPES = {
    0x08: (np.dtype(">u1"), "unsigned byte"),
    0x09: (np.dtype(">i1"), "signed byte"),
    0x0B: (np.dtype(">i2"), "int16"),
    0x0C: (np.dtype(">i4"), "int32"),
    0x0D: (np.dtype(">f4"), "float32"),
    0x0E: (np.dtype(">f8"), "float64"),
}


def _describe(code):
    name = IDX_TYPES[code][1] if code in IDX_TYPES else "unknown"
    return f"0x{code:02X} ({name})"


def parse_idx(payload, source="<bytes>", expected_type=None, expected_shape=None):
    """The array held by the decompressed IDX ``payload`` (bytes), in native byte order.

    ``expected_type``: an IDX type code the file must have (e.g. 0x08).
    ``expected_shape``: a tuple the shape must match; ``None`` entries match any size.
    ``source`` names the file in error messages.
    """
    if len(payload) < 4:
        raise IdxFormatError(f"{source}: truncated IDX file: {len(payload)} bytes, "
                             "expected at least the 4-byte header")
    if payload[0] != 0 or payload[1] != 0:
        raise IdxFormatError(f"{source}: not an IDX file: expected the magic bytes 0x00 0x00, "
                             f"found 0x{payload[0]:02X} 0x{payload[1]:02X}")
    code, dimensions = payload[2], payload[3]
    if code not in IDX_TYPES:
        raise IdxFormatError(f"{source}: unknown IDX data type code 0x{code:02X}; expected one of "
                             + ", ".join(_describe(known) for known in IDX_TYPES))
    if expected_type is not None and code != expected_type:
        raise IdxFormatError(f"{source}: wrong IDX data type: expected {_describe(expected_type)}, "
                             f"found {_describe(code)}")
    header_size = 4 + 4 * dimensions
    if dimensions == 0 or len(payload) < header_size:
        raise IdxFormatError(f"{source}: truncated IDX header: {dimensions} dimensions need "
                             f"{header_size} header bytes, the file holds {len(payload)}")
    shape = tuple(int(size) for size in np.frombuffer(payload, dtype=">u4", count=dimensions, offset=4))
    if expected_shape is not None and (
            len(shape) != len(expected_shape)
            or any(want is not None and want != got for want, got in zip(expected_shape, shape))):
        wanted = tuple("any" if size is None else size for size in expected_shape)
        raise IdxFormatError(f"{source}: wrong shape: expected {wanted}, the header says {shape}")
    dtype = IDX_TYPES[code][0]
    data_size = int(np.prod(shape)) * dtype.itemsize
    found = len(payload) - header_size
    if found != data_size:
        problem = "truncated" if found < data_size else "extra bytes at the end"
        raise IdxFormatError(f"{source}: size mismatch ({problem}): shape {shape} of {IDX_TYPES[code][1]} "
                             f"needs {data_size} data bytes after the {header_size}-byte header, "
                             f"found {found}")
    array = np.frombuffer(payload, dtype=dtype, offset=header_size).reshape(shape)
    return array.astype(dtype.newbyteorder("="))      # a writable copy in native byte order


def read_idx(path, expected_type=None, expected_shape=None):
    """The array stored in the IDX file at ``path`` (raw or gzip-compressed).

    Raises IdxFormatError naming the file for a truncated, foreign or mismatching file.
    """
    path = Path(path)
    return parse_idx(read_payload(path), path, expected_type, expected_shape)


def encode_idx(array):
    """The uncompressed IDX bytes of ``array``."""
    array = np.asarray(array)
    codes = {dtype.newbyteorder("="): code for code, (dtype, _) in IDX_TYPES.items()}
    code = codes.get(array.dtype.newbyteorder("="))
    if code is None:
        raise TypeError(f"IDX cannot store dtype {array.dtype}; supported: uint8, int8, int16, "
                        "int32, float32, float64")
    if array.ndim == 0 or array.ndim > 255:
        raise ValueError(f"IDX stores 1 to 255 dimensions, got an array of shape {array.shape}")
    header = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    return header + np.ascontiguousarray(array, dtype=IDX_TYPES[code][0]).tobytes()


def write_idx(path, array):
    """Write ``array`` as an IDX file, gzip-compressed when ``path`` ends in ``.gz``; atomically."""
    path = Path(path)
    payload = encode_idx(array)
    if path.suffix == ".gz":
        payload = gzip.compress(payload, compresslevel=6, mtime=0)
    atomic_write_bytes(path, payload)
    return path
