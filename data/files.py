"""Small file helpers: read a (possibly gzip-compressed) payload, hash it, write atomically."""
import glob
import gzip
import hashlib
import io
import os
import re
import secrets
import stat
import zlib
from pathlib import Path

from data.errors import IdxFormatError

GZIP_MAGIC = b"\x1f\x8b"


def sha256_hex(payload):
    """Hex sha256 of ``payload`` (bytes)."""
    return hashlib.sha256(payload).hexdigest()


MAX_PAYLOAD_BYTES = 256 * 1024 ** 2
"""Largest file, and largest decompressed payload, that the data package reads (the largest
IDX file of MNIST is 47 MB): a larger file or gzip stream is refused before it fills memory."""


def decompress_if_gzip(content, source):
    """``content`` itself, or its decompressed payload when it starts with the gzip magic.

    Decided by content, not by the file name, so a raw file named ``.gz`` (or the
    reverse) still reads. ``source`` names the file in error messages. Decompression
    stops past ``MAX_PAYLOAD_BYTES`` (a gzip stream can inflate a thousandfold).
    """
    if not content.startswith(GZIP_MAGIC):
        return content
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(content)) as stream:
            payload = stream.read(MAX_PAYLOAD_BYTES + 1)
    except (EOFError, OSError, zlib.error) as error:
        raise IdxFormatError(f"{source}: truncated or corrupt gzip stream ({error})") from None
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise IdxFormatError(f"{source}: decompresses to more than {MAX_PAYLOAD_BYTES} bytes, more than "
                             f"any dataset file normnet reads")
    return payload


def special_file_kind(mode):
    """What a file of ``st_mode`` ``mode`` is when it is not a regular file ("a FIFO", ...); None when it is."""
    if stat.S_ISREG(mode):
        return None
    kinds = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO or pipe"), (stat.S_ISCHR, "a character device"),
             (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))
    return next((kind for test, kind in kinds if test(mode)), "not a file")


class NotRegularFileError(ValueError):
    """A path that names a FIFO, a pipe, a device, a socket or a folder where a file is read."""


def open_regular(path):
    """Open the regular file at ``path`` for reading (binary); anything else is refused unopened.

    Reading a FIFO waits for a writer and a device never ends (``/dev/zero``), so the path
    is checked with ``stat`` (which neither waits nor reads) before it is opened, and the
    opened descriptor again (the path may have been swapped in between; ``O_NONBLOCK`` keeps
    that open from waiting). Raises NotRegularFileError "not a regular file (a FIFO)".
    The size limits of readers come from ``os.fstat`` of the returned file: what is read.
    """
    path = Path(path)
    _refuse_special(os.stat(path).st_mode)
    descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    try:
        _refuse_special(os.fstat(descriptor).st_mode)
    except BaseException:
        os.close(descriptor)
        raise
    return os.fdopen(descriptor, "rb")


def _refuse_special(mode):
    kind = special_file_kind(mode)
    if kind is not None:
        raise NotRegularFileError(f"not a regular file ({kind})")


def read_payload(path):
    """The decompressed bytes of the regular file at ``path`` (raw or gzip)."""
    path = Path(path)
    try:
        with open_regular(path) as stream:
            content = stream.read(MAX_PAYLOAD_BYTES + 1)  # the limit on what is read, not on st_size
    except NotRegularFileError as error:
        raise IdxFormatError(f"{path}: {error}") from None
    if len(content) > MAX_PAYLOAD_BYTES:
        raise IdxFormatError(f"{path}: more than {MAX_PAYLOAD_BYTES} bytes, more than any dataset file normnet reads")
    return decompress_if_gzip(content, path)


_RANDOM_HEX_DIGITS = 12


def temporary_files(path):
    """The temporary files that writes of ``path`` by :func:`atomic_write` left beside it (a kill
    between creating and renaming one): exactly ``.<name>.<12 hex digits>.tmp``, no other file."""
    path = Path(path)
    pattern = re.compile(rf"\.{re.escape(path.name)}\.[0-9a-f]{{{_RANDOM_HEX_DIGITS}}}\.tmp")
    return [candidate for candidate in path.parent.glob(f".{glob.escape(path.name)}.*.tmp")
            if pattern.fullmatch(candidate.name)]


def _new_temporary_file(path):
    """``(name, descriptor)`` of a new, empty file ``.<name>.<random>.tmp`` beside ``path``.

    Created with mode 0666 less the umask, as a plain ``open`` would create ``path``
    itself: the renamed file keeps that mode, so a shared cache or run folder stays
    readable to others (``tempfile.mkstemp`` would make every file private, 0600).
    ``O_EXCL`` makes the name ours alone; a name that is taken is drawn again.
    """
    flags = os.O_CREAT | os.O_EXCL | os.O_WRONLY | getattr(os, "O_BINARY", 0)
    while True:
        temporary = path.with_name(f".{path.name}.{secrets.token_hex(_RANDOM_HEX_DIGITS // 2)}.tmp")
        try:
            return temporary, os.open(temporary, flags, 0o666)
        except FileExistsError:
            continue


def atomic_write(path, write):
    """Call ``write(stream)`` so that readers of ``path`` see either the old file or the whole new one.

    ``write`` fills a temporary file in the same folder (same file system), which is
    flushed to disk and then renamed over ``path`` in one step (``os.replace``). If
    ``write`` fails, the temporary file is removed and ``path`` is untouched. The new
    file gets the permissions a plain ``open`` would give it: 0666 less the umask.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary, descriptor = _new_temporary_file(path)
    try:
        with os.fdopen(descriptor, "wb") as stream:
            write(stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def atomic_write_bytes(path, content):
    """Write the bytes ``content`` to ``path`` atomically (see :func:`atomic_write`)."""
    atomic_write(path, lambda stream: stream.write(content))
