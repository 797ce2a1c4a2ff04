"""The trusted side of grading one part: the grader's own tests, run against a worker.

    python -I run_part.py CONFIG_JSON PYTEST_ARGUMENTS...

The grader starts this file once per part. It imports the reference project (the
teacher's), never the submission: the modules of the part being graded are replaced, in
``sys.modules``, by proxies of the same modules imported in a worker process that runs the
student's code (``exercise/worker.py``, sandboxed where the machine allows; see
``exercise.sandbox``). Every other part is the reference. pytest then runs the grader's
tests here; a test's assertions, gradient checks and comparisons all happen in this
process, on values the worker returned (``exercise.remote``), so nothing the student's code
does can write the verdict: the JUnit report goes to a folder of the grader's that the
worker cannot see.

CONFIG_JSON holds ``project`` (the reference project), ``modules`` (the part's module
names), ``shared`` (the shared modules), ``worker`` (the command that starts the worker,
which reads the channel on descriptors 3 and 4), ``worker_environment`` (its environment: none
of the grader's variables), ``limits``, ``exported`` (what the worker may reach on this side),
``worker_log`` (where its output goes) and
``verdict`` (a JSON file for what happened before pytest could run).
"""
import fcntl
import importlib
import json
import os
import subprocess
import sys
from pathlib import Path


def _start_worker(command, log_path, limits, environment):
    from exercise.sandbox import apply_limits

    to_worker_read, to_worker_write = os.pipe()
    from_worker_read, from_worker_write = os.pipe()
    # The worker gets the channel as descriptors 3 and 4 and nothing else of this process.
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=log, pass_fds=(3, 4),
                                   env=environment,
                                   preexec_fn=_in_the_worker(to_worker_read, from_worker_write,
                                                              lambda: apply_limits(limits)))
    os.close(to_worker_read)
    os.close(from_worker_write)
    return process, os.fdopen(from_worker_read, "rb"), os.fdopen(to_worker_write, "wb")


def _in_the_worker(reader, writer, limit):
    """What the worker's process does before it starts: the channel on 3 and 4, the limits."""
    def arrange():
        high_reader, high_writer = fcntl.fcntl(reader, fcntl.F_DUPFD, 10), fcntl.fcntl(writer, fcntl.F_DUPFD, 10)
        os.dup2(high_reader, 3)
        os.dup2(high_writer, 4)
        limit()
    return arrange


def main(arguments):
    config = json.loads(arguments[0])
    project = config["project"]
    sys.dont_write_bytecode = True
    sys.path[:] = [project] + [entry for entry in sys.path if entry and os.path.abspath(entry) != project]
    os.chdir(project)
    already = [name for name in config["modules"] if name in sys.modules]
    if already:
        raise RuntimeError(f"{already} imported before grading began; not grading")
    from exercise import remote

    from exercise.sources import import_file

    shared = {}
    for name in config["shared"]:
        # Without its package's __init__, which imports the part's modules: they must be the
        # proxies, and those need the shared classes first.
        shared.update(remote.shared_classes_of(import_file(name, Path(project, *name.split(".")).with_suffix(".py"))))
    worker, reader, writer = _start_worker(config["worker"], config["worker_log"], config["limits"],
                                           config["worker_environment"])
    channel = remote.Channel(reader, writer, "grader", remote.Policy(strict=True, modules=config["exported"]), shared)
    try:
        for name in config["modules"]:
            try:
                sys.modules[name] = channel.request({"op": "import", "name": name})
            except Exception as error:                 # noqa: BLE001 - any failure to import is the verdict
                _write_verdict(config["verdict"], f"{config['files'][name]} does not import: "
                                                  f"{type(error).__name__}: {error}{_import_hint(error, config)}")
                return 3
        # Only now the packages: their __init__ files import the part's modules, which must
        # be the proxies (a reference module loaded first would answer for the student).
        for name in config["modules"]:
            parent, _, child = name.rpartition(".")
            setattr(importlib.import_module(parent), child, sys.modules[name])
        loaded = [name for name in config["modules"] if not isinstance(sys.modules.get(name), remote.RemoteModule)]
        if loaded:
            raise RuntimeError(f"the reference of {loaded} was imported before the student's; not grading")
        import pytest

        return pytest.main(arguments[1:], plugins=[_stop_the_worker_first(worker)])
    finally:
        writer.close()
        try:
            worker.wait(5)
        except subprocess.TimeoutExpired:
            worker.kill()


def _stop_the_worker_first(worker):
    """A pytest plugin: the worker is killed before the session's report is written, so no
    code of the student's runs while the verdict is."""
    import pytest

    class StopTheWorkerFirst:
        @pytest.hookimpl(tryfirst=True)
        def pytest_sessionfinish(self, session, exitstatus):
            worker.kill()
            worker.wait()

    return StopTheWorkerFirst()


def _import_hint(error, config):
    """Why a module of the project is not there: a part's file imports only the shared modules."""
    if isinstance(error, ImportError) and "No module named" in str(error):
        return (f" (a part's file may import NumPy, the standard library and the framework's shared modules "
                f"{', '.join(config['shared'])}, not another part: each part is graded on its own)")
    return ""


def _write_verdict(path, note):
    with open(path, "w", encoding="utf-8") as file:
        json.dump({"note": note}, file)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
