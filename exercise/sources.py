"""Reading files for the grader: a submission's file (only the file itself, never what a
link points at), and a module imported from its file under a name of the grader's choice."""
import importlib.util
import os
import stat
import sys
from pathlib import Path

from data.files import special_file_kind

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
    kind = special_file_kind(status.st_mode)
    if kind is not None:
        raise ValueError(f"{relative} is not a regular file ({kind})")
    if status.st_size > limit:
        raise ValueError(f"{relative} is {status.st_size} bytes, over the limit of {limit}")
    descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(descriptor, "rb") as file:
        data = file.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"{relative} is over the limit of {limit} bytes")
    return data


def import_file(name, path):
    """The module at ``path``, imported as ``name`` (and kept in ``sys.modules`` under it),
    without importing its package: a shared module before the proxies of a part, or the
    reference of a part under a private name."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
