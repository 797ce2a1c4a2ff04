"""A hand-in: ``normnet exercise pack`` writes one archive of exactly the files a student
edits (the parts' sources and the notebooks); ``normnet exercise grade`` accepts it.

Reading an archive trusts nothing in it: only regular files whose names are on that list
are taken, each within a size limit, into a fresh folder; anything else (links, devices,
other names, ``..``) is left out and named.
"""
import io
import tarfile
import tempfile
from pathlib import Path

from exercise.points import PARTS

ARCHIVE_SUFFIXES = (".tar.gz", ".tgz")
MAX_FILE_BYTES = {".py": 1 << 20, ".ipynb": 16 << 20}
MAX_ARCHIVE_BYTES = 64 << 20


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
                    path = tree / name
                    if path.is_symlink() or not path.is_file():
                        missing.append(name)
                        continue
                    data = path.read_bytes()
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


def unpack(archive, folder):
    """Take the hand-in's files from ``archive`` into ``folder``; return the names left out
    (with why). ValueError (one line) for a file that is not a readable archive."""
    archive, folder = Path(archive), Path(folder)
    if not archive.is_file() or archive.stat().st_size > MAX_ARCHIVE_BYTES:
        raise ValueError(f"{archive} is not a hand-in archive of at most {MAX_ARCHIVE_BYTES >> 20} MiB")
    allowed = set(handed_in_names())
    left_out = []
    try:
        with tarfile.open(archive, mode="r:gz") as opened:
            for member in opened:
                name = member.name
                wanted = name in allowed or (name.startswith("notebooks/") and name.count("/") == 1
                                             and name.endswith(".ipynb") and ".." not in name)
                limit = MAX_FILE_BYTES.get(Path(name).suffix, 0)
                if not wanted:
                    left_out.append(f"{name} (not a file a student edits)")
                elif not member.isfile():
                    left_out.append(f"{name} (not a regular file)")
                elif member.size > limit:
                    left_out.append(f"{name} (over {limit} bytes)")
                else:
                    target = folder / name
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(opened.extractfile(member).read(limit + 1)[:limit])
    except (tarfile.TarError, EOFError, OSError) as error:
        raise ValueError(f"{archive} is not a readable .tar.gz archive ({error})") from None
    (folder / "layers").mkdir(exist_ok=True)           # a tree even when the hand-in is empty
    return left_out
