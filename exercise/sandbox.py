"""Where a part's worker runs: inside bubblewrap where the machine has it, else as a plain
process with resource limits.

With bubblewrap (``apt-get install bubblewrap``), the worker sees a root of its own:
read-only, the part's grading tree at ``/part``, the worker's two files at ``/grading``, the
Python installation (with any installed copy of this project hidden) and the system's
libraries; a private ``/tmp``; no network, no other process, no home folder, no view of the
teacher's checkout, the hidden tests or other submissions. It runs as user 65534 in a
namespace of its own and dies with the grader (a process it starts, even by ``setsid``,
dies with it: the namespace ends when its first process does).

Without bubblewrap the worker is a plain process: the limits below, a copy of the tree, and
the grader kills its process group after every part. If the grader runs as root and
user 65534 can start its Python, the worker drops to that user, so it can neither read the
grader's private folders nor write the teacher's files. A student's code could still read
what that user can read and start a process in a session of its own; ``describe`` says so
in one line.

Limits (``DEFAULT_LIMITS``; each part, on top of the grader's time limit): address space
4 GiB, files written 64 MiB each, a private ``/tmp`` of 256 MiB, CPU time the part's time
limit, 256 processes (the kernel does not hold root's processes to this; the namespace and the
time limit do). The trusted runner gets 4 GiB of address space.
"""
import os
import resource
import shutil
import site
import sysconfig
import subprocess
import sys
from functools import lru_cache

from framework.threads import THREAD_VARIABLES

NOBODY = 65534
DEFAULT_LIMITS = {"memory_bytes": 4 << 30, "file_bytes": 64 << 20, "processes": 256, "cpu_seconds": 120,
                  "tmp_bytes": 256 << 20}
# The trusted runner holds what the worker sends back: bounded too, so no answer can take the
# machine's memory from the rest of the class.
TRUSTED_MEMORY_BYTES = 4 << 30
TRUSTED_FILE_BYTES = 256 << 20
# Top-level packages of this project: hidden wherever an installed copy could show them.
PROJECT_PACKAGES = ("layers", "framework", "optimizers", "regularizers", "data", "exercise", "experiments", "tests")
SYSTEM_FOLDERS = ("/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin", "/etc/alternatives", "/etc/ld.so.cache")


@lru_cache(maxsize=None)
def bubblewrap():
    """The path of a working ``bwrap``, or None (missing, or user namespaces refused)."""
    path = shutil.which("bwrap")
    if path is None:
        return None
    probe = subprocess.run([path, "--unshare-all", "--die-with-parent", *_system_binds(), "--proc", "/proc",
                            "--dev", "/dev", "true"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=30)
    return path if probe.returncode == 0 else None


@lru_cache(maxsize=None)
def can_drop_root():
    """Whether a worker run without bubblewrap can drop root: the grader runs as root and
    user 65534 can start this Python with NumPy (not if it lives in root's home folder)."""
    if os.geteuid() != 0:
        return False
    try:
        probe = subprocess.run([sys.executable, "-I", "-c", "import numpy"], stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60, cwd="/",
                               preexec_fn=_drop_root)
    except (OSError, subprocess.SubprocessError):       # e.g. the interpreter is not theirs to run
        return False
    return probe.returncode == 0


def describe(use_sandbox=True):
    """One line for the teacher: how parts are isolated on this machine."""
    if use_sandbox and bubblewrap():
        return "grading in bubblewrap: each part's code sees only its own files, no network, no other submission"
    who = "as user 65534" if can_drop_root() else "as this user"
    return (f"bubblewrap is not available (apt-get install bubblewrap): grading {who} with resource limits and "
            f"a killed process group per part; a submission could read files this user can read"
            f"{'' if can_drop_root() else ' and write files this user can write'}, and leave a process behind in "
            f"its own session")


def worker_command(part_tree, grading_folder, config_json, use_sandbox=True):
    """The command that starts the worker for ``part_tree`` (see ``exercise.worker``)."""
    python = sys.executable
    if not (use_sandbox and bubblewrap()):
        return [python, "-I", os.path.join(grading_folder, "worker.py"), config_json]
    command = [bubblewrap(), "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL",
               *_system_binds()]
    for folder in _python_folders():
        command += ["--ro-bind", folder, folder]
    for hidden in installed_copies():
        command += ["--tmpfs", hidden]
    if os.geteuid() == 0:
        command += ["--unshare-user", "--uid", str(NOBODY), "--gid", str(NOBODY)]
    command += ["--ro-bind", str(part_tree), "/part", "--ro-bind", str(grading_folder), "/grading",
                "--size", str(DEFAULT_LIMITS["tmp_bytes"]), "--tmpfs", "/tmp", "--proc", "/proc", "--dev", "/dev", "--chdir", "/tmp", "--clearenv",
                "--setenv", "HOME", "/tmp", "--setenv", "PATH", "/usr/bin:/bin", "--setenv", "MPLBACKEND", "Agg",
                *[word for name in THREAD_VARIABLES for word in ("--setenv", name, "1")], python, "-I", "/grading/worker.py", config_json.replace(str(part_tree), "/part")]
    return command


def plain_environment():
    """The environment of a worker that runs without bubblewrap: nothing of the grader's."""
    return dict(thread_environment(), PATH="/usr/bin:/bin", HOME="/tmp", MPLBACKEND="Agg", LANG="C.UTF-8")


def thread_environment():
    """One BLAS thread per process: parts run side by side."""
    return {name: "1" for name in THREAD_VARIABLES}


def apply_limits(limits):
    """Set the resource limits (in the worker's process, before it starts); drop root."""
    for name, value in ((resource.RLIMIT_AS, limits["memory_bytes"]), (resource.RLIMIT_FSIZE, limits["file_bytes"]),
                        (resource.RLIMIT_NPROC, limits["processes"]), (resource.RLIMIT_CPU, limits["cpu_seconds"]),
                        (resource.RLIMIT_CORE, 0)):
        try:
            resource.setrlimit(name, (value, value))
        except (ValueError, OSError):
            pass                            # a hard limit already lower: keep it
    if limits.get("drop_root") and os.geteuid() == 0:
        _drop_root()


def limit_trusted_runner():
    """The trusted runner's own limits (in its process, before it starts): memory, and the
    size of what it writes (its report, its log)."""
    for name, value in ((resource.RLIMIT_AS, TRUSTED_MEMORY_BYTES), (resource.RLIMIT_FSIZE, TRUSTED_FILE_BYTES)):
        try:
            resource.setrlimit(name, (value, value))
        except (ValueError, OSError):
            pass


def _drop_root():
    os.setgroups([])
    os.setresgid(NOBODY, NOBODY, NOBODY)
    os.setresuid(NOBODY, NOBODY, NOBODY)


def installed_copies():
    """Every folder where an installed copy of this project's packages could be imported
    from (site-packages and dist-packages of every kind, /usr's included): hidden in the
    sandbox, so a regular ``pip install`` of the solution is not the student's to read."""
    folders = set(site.getsitepackages()) | {sysconfig.get_paths()[key] for key in ("purelib", "platlib")}
    folders |= {entry for entry in sys.path if entry.endswith(("site-packages", "dist-packages"))}
    hidden = []
    for folder in sorted(folders):
        for package in PROJECT_PACKAGES:
            path = os.path.join(folder, package)
            if os.path.isdir(path) and not os.path.islink(path):
                hidden.append(path)
    return hidden


def _system_binds():
    binds = []
    for folder in SYSTEM_FOLDERS:
        if os.path.islink(folder):
            binds += ["--symlink", os.readlink(folder), folder]
        elif os.path.exists(folder):
            binds += ["--ro-bind", folder, folder]
    return binds


def _python_folders():
    """The folders of the Python installation the worker needs: the interpreter's prefix,
    the environment's, and their site-packages (outside both, when a distribution puts them so)."""
    folders = []
    candidates = [sys.base_prefix, sys.prefix, *site.getsitepackages()]
    for folder in candidates:
        folder = os.path.realpath(folder)
        if os.path.isdir(folder) and not folder.startswith(tuple(SYSTEM_FOLDERS)) \
                and not any(folder == known or folder.startswith(known + os.sep) for known in folders):
            folders.append(folder)
    executable = os.path.realpath(sys.executable)
    if not any(executable.startswith(known + os.sep) for known in folders) and not executable.startswith("/usr/"):
        folders.append(os.path.dirname(executable))
    return folders

