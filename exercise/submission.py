"""A hand-in: ``normnet exercise pack`` writes one archive of exactly the files a student
edits (the parts' sources and the notebooks); ``normnet exercise grade`` accepts it.

Reading an archive trusts nothing in it: only regular files whose names are on that list
are taken, each within a size limit, into a fresh folder; anything else (links, devices,
other names, ``..``) is left out and named.
"""
import gzip
import io
import tarfile
import tempfile
from pathlib import Path

from exercise.points import PARTS
from exercise.sources import read_student_source

ARCHIVE_SUFFIXES = (".tar.gz", ".tgz")
MAX_FILE_BYTES = {".py": 1 << 20, ".ipynb": 16 << 20}
MAX_ARCHIVE_BYTES = 64 << 20
MAX_UNPACKED_BYTES = 64 << 20
MAX_MEMBERS = 200
MAX_LISTED = 10


def handed_in_names(tree=None):
    """The paths a hand-in holds: every part's sources, and the notebooks (of ``tree``)."""
    names = [source for part in PARTS for source in part.sources]
    if tree is not None and (Path(tree) / "notebooks").is_dir():
        names += sorted(f"notebooks/{path.name}" for path in (Path(tree) / "notebooks").glob("*.ipynb"))
    return names


def is_archive(path):
    return Path(path).name.endswith(ARCHIVE_SUFFIXES)


def pack(tree, output):
    """Write the hand-in of ``tree`` to ``output`` (refused if it exists); return
    ``(packed, missing)``: [(name, bytes)] that went in, and names that were not there."""
    tree, output = Path(tree), Path(output)
    if output.exists():
        raise ValueError(f"{output} already exists; remove it or choose another --output")
    packed, missing = [], []
    with tempfile.NamedTemporaryFile(dir=output.parent, prefix=".pack-", delete=False) as scratch:
        try:
            with tarfile.open(fileobj=scratch, mode="w:gz") as archive:
                for name in handed_in_names(tree):
                    try:
                        data = read_student_source(tree, name, MAX_FILE_BYTES[Path(name).suffix])
                    except ValueError:          # missing, a link on its path, not a file, too big
                        missing.append(name)
                        continue
                    info = tarfile.TarInfo(name)
                    info.size, info.mode = len(data), 0o644
                    archive.addfile(info, io.BytesIO(data))
                    packed.append((name, len(data)))
            scratch.flush()
            Path(scratch.name).rename(output)           # whole or not at all
        except BaseException:
            Path(scratch.name).unlink(missing_ok=True)
            raise
    return packed, missing


class _Bounded:
    """A binary stream that refuses to give more than ``limit`` bytes in all: a gzip bomb or
    a member with a huge name stops here, not in memory."""

    def __init__(self, stream, limit):
        self.stream, self.left = stream, limit

    def read(self, size=-1):
        size = self.left + 1 if size is None or size < 0 else min(size, self.left + 1)
        data = self.stream.read(size)
        self.left -= len(data)
        if self.left < 0:
            raise ValueError(f"it unpacks to more than {MAX_UNPACKED_BYTES >> 20} MiB")
        return data


def unpack(archive, folder, graded_only=False):
    """Take the hand-in's files from ``archive`` into ``folder``; return the names left out
    (with why, at most a few). ``graded_only``: the parts' sources only (the notebooks are
    not graded). ValueError (one line) for a file that is not a readable hand-in."""
    archive, folder = Path(archive), Path(folder)
    if not archive.is_file() or archive.stat().st_size > MAX_ARCHIVE_BYTES:
        raise ValueError(f"{archive} is not a hand-in archive of at most {MAX_ARCHIVE_BYTES >> 20} MiB")
    allowed = set(handed_in_names())
    left_out, members = [], 0
    try:
        with gzip.open(archive, "rb") as compressed, \
                tarfile.open(fileobj=_Bounded(compressed, MAX_UNPACKED_BYTES), mode="r|") as opened:
            for member in opened:                   # a stream: members are not kept
                members += 1
                if members > MAX_MEMBERS:
                    raise ValueError(f"it holds more than {MAX_MEMBERS} members")
                name = member.name
                notebook = name.startswith("notebooks/") and name.count("/") == 1 and name.endswith(".ipynb") \
                    and ".." not in name and len(name) <= 200
                limit = MAX_FILE_BYTES.get(Path(name).suffix, 0)
                if name not in allowed and not notebook:
                    left_out.append(f"{name[:100]} (not a file a student edits)")
                elif not member.isfile():
                    left_out.append(f"{name} (not a regular file)")
                elif member.size > limit:
                    left_out.append(f"{name} (over {limit} bytes)")
                elif not (notebook and graded_only):
                    target = folder / name
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(opened.extractfile(member).read(limit))
    except (tarfile.TarError, EOFError, OSError, ValueError) as error:
        raise ValueError(f"{archive} is not a readable hand-in ({error})") from None
    (folder / "layers").mkdir(exist_ok=True)           # a tree even when the hand-in is empty
    if len(left_out) > MAX_LISTED:
        left_out = left_out[:MAX_LISTED] + [f"{len(left_out) - MAX_LISTED} more"]
    return left_out
