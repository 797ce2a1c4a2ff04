"""Reading a file of a submission: only the file itself, never what a link points at."""
import os
import stat
from pathlib import Path

MAX_SOURCE_BYTES = 1 << 20


def read_student_source(submission, relative, limit=MAX_SOURCE_BYTES):
    """The bytes of ``relative`` in ``submission``; ValueError (one line) for a file that is
    missing, a link (anywhere on its path), not a regular file, or over ``limit`` bytes."""
    path = Path(submission)
    for component in Path(relative).parts:
        path = path / component
        try:
            status = os.lstat(path)
        except FileNotFoundError:
            raise ValueError(f"{relative} is missing") from None
        if stat.S_ISLNK(status.st_mode):
            raise ValueError(f"{relative} is a link (only files of the submission itself are graded)")
    if not stat.S_ISREG(status.st_mode):
        raise ValueError(f"{relative} is not a regular file")
    if status.st_size > limit:
        raise ValueError(f"{relative} is {status.st_size} bytes, over the limit of {limit}")
    descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(descriptor, "rb") as file:
        data = file.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"{relative} is over the limit of {limit} bytes")
    return data
