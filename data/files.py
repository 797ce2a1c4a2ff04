"""Small file helpers: read a (possibly gzip-compressed) payload, hash it, write atomically."""
import gzip
import hashlib
import os
import secrets
import zlib
from pathlib import Path

from data.errors import IdxFormatError

GZIP_MAGIC = b"\x1f\x8b"


def sha256_hex(payload):
    """Hex sha256 of ``payload`` (bytes)."""
    return hashlib.sha256(payload).hexdigest()


def decompress_if_gzip(content, source):
    """``content`` itself, or its decompressed payload when it starts with the gzip magic.

    Decided by content, not by the file name, so a raw file named ``.gz`` (or the
    reverse) still reads. ``source`` names the file in error messages.
    """
    if not content.startswith(GZIP_MAGIC):
        return content
    try:
        return gzip.decompress(content)
    except (EOFError, OSError, zlib.error) as error:
        raise IdxFormatError(f"{source}: truncated or corrupt gzip stream ({error})") from None


def read_payload(path):
    """The decompressed bytes of the file at ``path`` (raw or gzip)."""
    path = Path(path)
    return decompress_if_gzip(path.read_bytes(), path)


def _new_temporary_file(path):
    """``(name, descriptor)`` of a new, empty file ``.<name>.<random>.tmp`` beside ``path``.

    Created with mode 0666 less the umask, as a plain ``open`` would create ``path``
    itself: the renamed file keeps that mode, so a shared cache or run folder stays
    readable to others (``tempfile.mkstemp`` would make every file private, 0600).
    ``O_EXCL`` makes the name ours alone; a name that is taken is drawn again.
    """
    flags = os.O_CREAT | os.O_EXCL | os.O_WRONLY | getattr(os, "O_BINARY", 0)
    while True:
        temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
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
