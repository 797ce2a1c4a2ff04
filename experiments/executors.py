"""Where the study's runs execute: in this process, or as tasks on a Dask cluster.

Both executors offer the same operations, so the runner does not care which it has:

    submit(spec, priority)   queue a run (higher priority first)
    completed()              yield (spec, record) as runs finish, including runs submitted meanwhile
    capacity()               how many runs can execute at once (the runner submits no more than that,
                             so that it can stop submitting at a deadline)
    with executor: ...       start and stop (a local cluster, a connection)

On a cluster each run is one task: its input is the spec, its result the run's record
(``experiments.runs.run_on_worker``). What happens when something goes wrong there:

- A worker dies in the middle of a run (killed, out of memory, its machine gone): the
  scheduler notices the lost connection and gives the run to another worker. It does so
  for up to ``allowed-failures`` deaths per task (the scheduler's setting; the local
  cluster's is ALLOWED_FAILURES); after that the run is recorded as failed, since a run
  that keeps killing its workers is the run's own problem.
- A run raises: the task catches it and returns a failed record; the grid goes on.
- A worker cannot find a dataset: the task raises MissingDataError naming the worker and
  the files. Dask retries it (``RETRIES``, perhaps on a worker that has the data); if it
  still fails, the whole command stops with that error. Nothing is recorded for the run,
  so it runs once the data is there.
- Anything else (the scheduler gone, a worker without normnet): the command stops with one
  line naming the run that was in progress (:class:`StudyError`); finished runs are kept.

Every wait is bounded: an existing scheduler must answer Dask's identity request within
``handshake_timeout`` seconds (a port that accepts connections and then says nothing, or
speaks HTTP, is refused), and its address is checked before any connection
(:func:`scheduler_address`). The local cluster's workers ignore Ctrl-C (the command's
process stops them) and log only what is fatal, so an interruption or a missing dataset
prints one line, not a traceback per worker.
"""
import heapq
import itertools
import logging
import os
import signal
import uuid
from pathlib import Path

from experiments.runs import MissingDataError, execute_run, failed_record, process_datasets, run_on_worker
from framework.memory import TRIM_VARIABLE
from framework.threads import THREAD_VARIABLES

ALLOWED_FAILURES = 3   # worker deaths a run may cause before it counts as failed (the local cluster)
RETRIES = 2            # further tries of a task that raised (only missing data and broken installations do)
HANDSHAKE_TIMEOUT = 20.0  # seconds an existing scheduler has to connect and answer (--scheduler-timeout)
ONE_BLAS_THREAD = {variable: "1" for variable in THREAD_VARIABLES}


class StudyError(Exception):
    """The study's command cannot go on (its cluster is gone or broken); one line says why."""


def scheduler_address(text):
    """``text`` if it is a Dask scheduler address this command can use, ``tcp://HOST:PORT`` with a
    port from 1 to 65535 (an IPv6 host in brackets); ValueError saying what is wrong otherwise.

    Checked before any connection: a misspelt address must not wait for a time-out or end in
    Dask's own parser's messages. ``tls://`` needs certificates, which this command does not take.
    """
    expected = "expected a scheduler address like tcp://HOST:PORT"
    scheme, separator, rest = str(text).partition("://")
    if not separator:
        raise ValueError(f"{expected}, got {text!r}")
    if scheme != "tcp":
        why = (" (tls:// needs certificates, which normnet compare does not take)" if scheme == "tls" else "")
        raise ValueError(f"{expected}, got the protocol {scheme!r} in {text!r}{why}")
    host, colon, port = rest.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not colon or not host or "/" in rest or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError(f"{expected} with a host and a port from 1 to 65535, got {text!r}")
    return text


def probe_scheduler(address, timeout):
    """Connect to ``address`` and ask for its identity, all within ``timeout`` seconds; StudyError
    unless a Dask scheduler answers."""
    import asyncio

    from distributed.comm import connect

    async def identity():
        comm = await connect(address, timeout=timeout)
        try:
            await comm.write({"op": "identity", "reply": True})
            return await comm.read()
        finally:
            comm.abort()

    try:
        reply = asyncio.run(asyncio.wait_for(identity(), timeout))
    except (asyncio.TimeoutError, TimeoutError):
        raise StudyError(f"no Dask scheduler answered at {address} within {timeout:g} s (nothing listens there, "
                         "or something that does not speak Dask's protocol; --scheduler-timeout changes the "
                         "bound)") from None
    except OSError as error:
        raise StudyError(f"cannot connect to a Dask scheduler at {address}: {error}") from None
    except Exception as error:  # noqa: BLE001 - whatever a foreign server's bytes make of Dask's reader
        raise StudyError(f"{address} does not answer as a Dask scheduler ({type(error).__name__})") from None
    if not isinstance(reply, dict) or reply.get("type") != "Scheduler":
        raise StudyError(f"{address} does not answer as a Dask scheduler (its identity: {str(reply)[:80]})")


class InProcess:
    """Runs the specs one after the other in this process, highest priority first, on one thread
    (evaluation too: one worker is one core; the chunks make the numbers the same on any count)."""

    def __init__(self, data_dir=None):
        self.datasets = process_datasets(data_dir)
        self.description = "in this process"
        self._queue = []
        self._order = itertools.count()

    def __enter__(self):
        return self

    def __exit__(self, *exception):
        self._queue.clear()

    def capacity(self):
        return 1

    def submit(self, spec, priority=0):
        heapq.heappush(self._queue, (-priority, next(self._order), spec))

    def completed(self):
        while self._queue:
            _, _, spec = heapq.heappop(self._queue)
            yield spec, execute_run(spec, self.datasets, evaluation_threads=1)


class DaskCluster:
    """Runs the specs as tasks on a local Dask cluster of ``workers`` processes, or on the
    cluster whose scheduler listens at ``scheduler`` (``tcp://HOST:PORT``).

    The local cluster's workers are processes with one thread each and one BLAS thread
    (their environment says so before NumPy loads; the task holds BLAS at one thread again,
    for workers started by hand).
    """

    def __init__(self, data_dir=None, workers=None, scheduler=None, log=print, handshake_timeout=HANDSHAKE_TIMEOUT):
        if (workers is None) == (scheduler is None):
            raise ValueError("DaskCluster: expected either a number of workers or a scheduler address, "
                             f"got workers={workers!r}, scheduler={scheduler!r}")
        if scheduler is not None:
            scheduler_address(scheduler)
        self.handshake_timeout = handshake_timeout
        # Workers may run in other folders or on other machines: give them an absolute path.
        self.data_dir = None if data_dir is None else Path(data_dir).absolute()
        self.workers = workers
        self.scheduler = scheduler
        self.log = log
        self.cluster = None
        self.client = None
        self._completion = None
        self._specs = {}
        self._call = uuid.uuid4().hex[:8]   # task keys of this call never meet those of an earlier one

    def __enter__(self):
        from distributed import Client, LocalCluster, as_completed

        try:
            if self.scheduler is None:
                import dask

                # Dask's nanny starts workers with glibc's TRIM_VARIABLE set, which fixes glibc's
                # mmap threshold: every large NumPy temporary of a training step is then mapped,
                # faulted in and returned to the system anew, on every step, so the study's
                # workers go without it. The nanny also copies its settings into this process's
                # environment, from where the next cluster's workers would inherit them.
                os.environ.pop(TRIM_VARIABLE, None)
                with dask.config.set({f"distributed.nanny.pre-spawn-environ.{TRIM_VARIABLE}": None}), \
                        _workers_ignore_interrupts():
                    self.cluster = LocalCluster(n_workers=self.workers, threads_per_worker=1, processes=True,
                                                env=ONE_BLAS_THREAD, dashboard_address=":0",
                                                silence_logs=logging.CRITICAL,
                                                scheduler_kwargs={"allowed_failures": ALLOWED_FAILURES})
                self.client = Client(self.cluster)
                self.description = f"on a local Dask cluster of {self.workers} worker processes"
            else:
                probe_scheduler(self.scheduler, self.handshake_timeout)
                self.client = Client(self.scheduler, timeout=f"{self.handshake_timeout}s")
                self._check_scheduler()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        self._completion = as_completed()
        return self

    def _check_scheduler(self):
        workers = len(self.client.scheduler_info()["workers"])
        allowed_failures = self.client.run_on_scheduler(_allowed_failures)
        trimming = sorted(worker for worker, value in self.client.run(environment_variable, TRIM_VARIABLE).items()
                          if value is not None)
        if trimming:
            self.log(f"warning: {len(trimming)} of the workers run with {TRIM_VARIABLE} set (Dask's nanny sets it), "
                     "which slows the study's runs down: start them with the Dask configuration in the README "
                     f"(distributed.nanny.pre-spawn-environ.{TRIM_VARIABLE}: null)")
        self.description = f"on the Dask cluster at {self.scheduler} ({workers} workers now)"
        if workers == 0:
            self.log(f"the scheduler at {self.scheduler} has no workers yet: the runs wait for some")
        if allowed_failures < 1:
            self.log(f"warning: the scheduler at {self.scheduler} has allowed-failures = {allowed_failures}: "
                     "a run whose worker dies fails instead of moving to another worker (start it with "
                     "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES=3)")

    def __exit__(self, *exception):
        if self.client is not None:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()

    def capacity(self):
        """The local cluster's workers, or the threads the cluster has now (at least 1)."""
        if self.scheduler is None:
            return self.workers
        return max(1, sum(self.client.nthreads().values()))

    def submit(self, spec, priority=0):
        future = self.client.submit(run_on_worker, spec, self.data_dir, key=f"run-{spec.run_id}-{self._call}",
                                    priority=priority, retries=RETRIES, pure=False)
        self._specs[future.key] = spec
        self._completion.add(future)

    def completed(self):
        from distributed.scheduler import KilledWorker

        for future in self._completion:
            spec = self._specs.pop(future.key)
            if future.status == "finished":
                record = future.result()
            else:
                error = future.exception() if future.status == "error" else None
                if isinstance(error, KilledWorker):
                    # Every worker that ran it died: the run itself is the likely cause (memory).
                    record = failed_record(spec, error, "the cluster")
                elif isinstance(error, MissingDataError):
                    raise MissingDataError(str(error)) from None
                elif error is None:  # cancelled or lost: the scheduler went away
                    raise StudyError(f"lost the Dask cluster {self.description} while run {spec.run_id} was in "
                                     f"progress ({future.status}); finished runs are kept: run the same command "
                                     "again once the cluster is back")
                else:
                    first_line = (str(error).strip().splitlines() or [""])[0]
                    raise StudyError(f"run {spec.run_id} could not execute {self.description}: "
                                     f"{type(error).__name__}: {first_line} (is normnet installed on every worker?)")
            future.release()
            yield spec, record


class _workers_ignore_interrupts:
    """While the local cluster starts, SIGINT is ignored in this process, so the worker processes
    it spawns inherit "ignore" (Python keeps an ignored SIGINT ignored): Ctrl-C reaches only the
    command, which then stops the cluster, instead of printing every worker's traceback."""

    def __enter__(self):
        self.previous = signal.getsignal(signal.SIGINT)
        if self.previous is not None:
            try:
                signal.signal(signal.SIGINT, signal.SIG_IGN)
            except ValueError:  # not the main thread (a test's): leave signals alone
                self.previous = None

    def __exit__(self, *exception):
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)


def _allowed_failures(dask_scheduler):
    return dask_scheduler.allowed_failures


def environment_variable(name):
    """The value of the environment variable ``name`` in the process that calls it (a worker's,
    through ``Client.run``; ``os.environ.get`` itself would travel with the caller's environment)."""
    return os.environ.get(name)
