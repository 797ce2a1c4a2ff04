"""The worker: the process that runs a student's code for the grader, and nothing else.

    python -I worker.py CONFIG_JSON

It is started by the grader's trusted test process (``exercise/run_part.py``), inside the
sandbox where there is one, with the part's grading tree (the shared framework modules and
the student's sources of one part, see ``exercise.grading``) and a copy of
``exercise/remote.py`` beside this file. It serves the channel on file descriptors 3 (in)
and 4 (out): the trusted side asks it to import the part's modules and then reads, writes
and calls the objects they make. Nothing it says is a verdict; it only returns values.

CONFIG_JSON holds ``tree`` (the grading tree), ``modules`` (the module names the trusted
side may import: the part's sources) and ``shared`` (the shared modules whose classes
proxies derive from).
"""
import importlib
import json
import os
import sys


def _isolate_imports(tree):
    """The grading tree first on the import path; no route to any other copy of the project."""
    here = os.path.dirname(os.path.abspath(__file__))

    def another_project(entry):             # a checkout of normnet, e.g. the teacher's
        return any(os.path.isdir(os.path.join(entry, package)) for package in ("layers", "exercise", "tests"))
    sys.path[:] = [tree] + [entry for entry in sys.path
                            if entry and os.path.abspath(entry) != here and not another_project(entry)]
    sys.meta_path[:] = [finder for finder in sys.meta_path
                        if not getattr(finder, "__module__", "").startswith("__editable__")]
    sys.path_hooks[:] = [hook for hook in sys.path_hooks if "__editable__" not in getattr(hook, "__module__", "")]


def main(arguments):
    config = json.loads(arguments[0])
    tree = os.path.abspath(config["tree"])
    sys.dont_write_bytecode = True
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))   # -I leaves the script's folder out
    import remote                            # the copy beside this file, before the path changes
    _isolate_imports(tree)
    os.chdir(tree)
    shared = {}
    for name in config["shared"]:
        shared.update(remote.shared_classes_of(importlib.import_module(name)))
    allowed = set(config["modules"])

    class WorkerChannel(remote.Channel):
        def import_module(self, name):
            if name not in allowed:
                raise ImportError(f"the grader imports only {sorted(allowed)}, not {name!r}")
            return importlib.import_module(name)

    reader, writer = os.fdopen(3, "rb"), os.fdopen(4, "wb")
    WorkerChannel(reader, writer, "worker", remote.Policy(strict=False), shared,
                  where=remote.last_frame_in(tree)).serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
