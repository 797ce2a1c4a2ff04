"""``normnet compare``: run (or continue) the study's grid, then the timing, then the report.

Tests the four claims of the Norm Loss paper (Georgiou et al., ICPR 2020) at a scale a
few CPU cores can run: (1) accuracy comparable to or better than weight decay,
(2) faster convergence, (3) less sensitivity to the regularization factor alpha and
to the batch size, (4) negligible extra computation; plus how per-unit weight norms
evolve from two initializations. The grid is described in ``experiments/grid.py``.

The order of work:

0. The output folder is locked (one command at a time), every record in it is checked (its
   fields, its name, the code that trained it: ``experiments/provenance.py``), one finished
   run is run again and must give its record bit for bit, and this process checks it has
   the data of its own part (the timing) before anything is submitted.
1. The runs fixed by the settings (the selection runs first, then the "none" runs of the
   other experiments) are submitted to the executor: this process (``workers=1``), a local Dask cluster, or an
   existing one (``experiments/executors.py``), no more at a time than it can execute, so that a
   ``deadline`` can stop the submissions: a run is submitted only if it should end by then.
2. Every record is stored as ``runs/<run_id>.json`` the moment it arrives, so a crash of
   this process loses only the runs in progress, and a run whose file exists is never
   run again: the same command continues where it stopped.
3. Once every selection run is finished, each arm's alpha is chosen on validation error
   (``experiments/results.py``) and the runs of "confirmation", "mnist", "batch" and
   "allconv" at those alphas are submitted.
4. The timing experiment runs alone in this process, after the grid, so that no other
   run disturbs it.
5. ``results.csv``, ``timing.csv``, the figures and ``summary.md`` are rebuilt from the
   run files of this grid (``experiments/report.py``).
"""
import datetime
import heapq
import itertools
import math
import random
import time
from pathlib import Path

from experiments import report
from experiments.executors import HANDSHAKE_TIMEOUT, DaskCluster, InProcess, StudyError
from experiments.grid import (ARMS, DEPENDENT_EXPERIMENTS, Settings, allconv_key, allconv_selection_specs,
                              dependent_specs, independent_specs, selected_experiments, selection_specs, unique)
from experiments.results import Results, result_rows, with_alpha_extension
from experiments.runs import process_datasets
from experiments.provenance import (accept_identity, accepted_identities, changed_files, code_identity,
                                    describe_identity, identity_key, loaded_file_digests, unaccepted_records)
from experiments.storage import finished_run_ids, json_bytes, load_records, run_path, store_record, write_json
from experiments.timing import estimate_seconds, measure_throughput, measure_timing

# Priorities of the runs on the executor: selection first, since the dependent runs wait for its
# alphas; then the confirmation runs, the study's main result; then the rest.
MAIN_PRIORITY, CONFIRMATION_PRIORITY, DEPENDENT_PRIORITY, OTHER_PRIORITY = 3, 2, 1, 0
# Stands in for the alphas not chosen yet when the plan counts the dependent runs.
PLACEHOLDER_ALPHAS = {**{name: 1e-3 for name in ARMS}, **{allconv_key(name): 1e-3 for name in ARMS}}
# A run is submitted before a deadline only if it should end by then: its expected seconds (the
# longest of the same kind so far, else the plan's estimate) times this margin.
DEADLINE_MARGIN = 1.5
# What may differ between two executions of one run: where and how fast it ran, and (when a change
# of the code is to be adopted) the identity of the code.
CIRCUMSTANCES = ("executed_on", "wall_seconds", "code")


def extended_settings(output_dir, settings):
    """``settings`` with the selection alphas the α-extension rule asks for on the finished runs in
    ``output_dir`` (``experiments.results.alpha_extension``; unchanged unless pre-registered)."""
    return with_alpha_extension(settings, result_rows(load_records(output_dir)))


def planned_alphas(output_dir, settings):
    """The alphas to count the dependent runs with: those the finished selection runs choose now,
    a placeholder for the arms without any (so a finished study plans no runs)."""
    return {**PLACEHOLDER_ALPHAS, **chosen_alphas(output_dir, settings)}


def chosen_alphas(output_dir, settings):
    """Arm → alpha chosen on validation error among the finished selection runs in ``output_dir``
    (the all-conv network's own under ``allconv_key(arm)``)."""
    selection_ids = {spec.run_id for spec in selection_specs(settings) + allconv_selection_specs(settings)}
    records = [record for record in load_records(output_dir) if record["run_id"] in selection_ids]
    return Results(result_rows(records), settings).every_chosen_alpha()


class GridProgress:
    """One tqdm bar over the grid's runs (finished of total, with an ETA), and one line per run."""

    def __init__(self, finished, enabled, log):
        from tqdm.auto import tqdm

        self.finished = set(finished)
        self.grid = set()
        self.enabled = enabled
        self.log = log
        # No bar when stderr is no terminal (a log file): the per-run lines say it all there.
        self.bar = tqdm(total=0, desc="runs", unit="run", disable=None if enabled else True, dynamic_ncols=True)

    def set_grid(self, specs):
        """The grid is ``specs`` (runs already finished count as done)."""
        self.grid = {spec.run_id for spec in specs}
        self.bar.total = len(self.grid)
        self._advance()

    def write(self, line):
        """Print ``line`` above the bar (or just log it when there is no bar)."""
        if self.bar.disable:
            self.log(line)
        else:
            self.bar.write(line)

    def finish(self, record):
        self.finished.add(record["run_id"])
        self._advance()
        if self.enabled:
            self.write(f"  {record['run_id']}: {describe(record)}")

    def _advance(self):
        if not self.bar.disable:
            self.bar.update(len(self.grid & self.finished) - self.bar.n)

    def close(self):
        self.bar.close()


def describe(record):
    """One line on how a run ended."""
    where = record.get("executed_on", "")
    if record.get("failed"):
        return f"FAILED ({where}): {record['error']}"
    last = record["rows"][-1]
    return (("diverged; " if record["diverged"] else "") + f"test error {last['test_error']:.4f} "
            f"({record['wall_seconds']:.1f} s, {where})")


def numbers(record):
    """A run record without what depends on where and how fast it ran, as JSON bytes (NaN as null)."""
    kept = {key: value for key, value in record.items() if key not in CIRCUMSTANCES}
    kept["rows"] = [{key: value for key, value in row.items() if key != "seconds_per_step"} for row in record["rows"]]
    return json_bytes(kept)


def run_kind(spec):
    """What a run's duration depends on."""
    return spec.model, spec.train_size, spec.epochs, spec.batch_size, spec.eval_size


class Deadline:
    """When to stop submitting runs: a run starts only if it should end by ``at`` (a datetime, or
    None for no deadline). Its expected duration: the longest run of its kind seen so far (in
    ``records``, or finished in this call), else ``estimate(spec)``; either times DEADLINE_MARGIN."""

    def __init__(self, at, records=(), estimate=None, clock=None):
        self.at = at
        self.estimate = estimate
        self.clock = clock or (lambda: datetime.datetime.now().astimezone())
        self.longest = {}
        for record in records:
            self.observe(record)

    def observe(self, record):
        from experiments.grid import RunSpec

        seconds = record.get("wall_seconds")
        if not record.get("failed") and isinstance(seconds, (int, float)) and seconds == seconds:
            kind = run_kind(RunSpec(**record["spec"]))
            self.longest[kind] = max(self.longest.get(kind, 0.0), seconds)

    def expected_seconds(self, spec):
        seconds = self.longest.get(run_kind(spec))
        if seconds is None:
            seconds = self.estimate(spec) if self.estimate else 0.0
        return DEADLINE_MARGIN * seconds

    def allows(self, spec):
        if self.at is None:
            return True
        return self.clock() + datetime.timedelta(seconds=self.expected_seconds(spec)) <= self.at


def run_grid(executor, output_dir, settings, experiments, progress=True, log=print, deadline=None):
    """Run every unfinished run of ``experiments`` on ``executor``, no more at once than its
    capacity, none that ``deadline`` (a Deadline) does not allow; return (runs executed, runs left)."""
    output_dir = Path(output_dir)
    finished = finished_run_ids(output_dir)
    deadline = deadline or Deadline(None)
    bar = GridProgress(finished, progress, log)
    preregistered_grid = settings
    settings = extended_settings(output_dir, preregistered_grid)
    independent = independent_specs(settings, experiments)

    def selection_ids(settings):
        ids = {spec.run_id for spec in selection_specs(settings)} if "selection" in experiments else set()
        if "allconv" in experiments:
            ids |= {spec.run_id for spec in allconv_selection_specs(settings)}
        return ids

    main_ids = selection_ids(settings)
    # The dependent runs are counted with placeholder alphas until the real ones are chosen.
    needs_alphas = any(name in experiments for name in DEPENDENT_EXPERIMENTS)
    planned = dependent_specs(settings, experiments, planned_alphas(output_dir, settings))
    bar.set_grid(unique(independent + planned))
    queued = set()
    waiting = []   # (−priority, order, spec): the runs not submitted yet
    order = itertools.count()

    def queue(specs, priority):
        for spec in specs:
            if spec.run_id not in finished and spec.run_id not in queued:
                priority_of_run = (MAIN_PRIORITY if spec.run_id in main_ids
                                   else CONFIRMATION_PRIORITY if spec.experiment == "confirmation" else priority)
                heapq.heappush(waiting, (-priority_of_run, next(order), spec))
                queued.add(spec.run_id)

    def queue_dependents():
        chosen = chosen_alphas(output_dir, settings)
        if chosen:
            bar.write("alpha chosen by validation error: "
                      + ", ".join(f"{name} {alpha:g}" for name, alpha in chosen.items()))
        specs = dependent_specs(settings, experiments, chosen)
        bar.set_grid(unique(independent + specs))
        queue(specs, DEPENDENT_PRIORITY)

    in_flight = 0
    stopped = []

    def submit_what_fits():
        nonlocal in_flight
        while waiting and in_flight < executor.capacity():
            priority, _, spec = heapq.heappop(waiting)
            if not deadline.allows(spec):
                stopped.append(spec)
                continue
            executor.submit(spec, -priority)
            in_flight += 1

    def extend_selection(records):
        """Queue the selection runs the α-extension rule asks for on ``records``; whether there were any."""
        nonlocal settings, independent
        settings = with_alpha_extension(preregistered_grid, result_rows(records))
        added = selection_ids(settings) - main_ids - finished
        if added:
            bar.write(f"α-extension rule: {len(added)} more selection runs at alphas "
                      + ", ".join(f"{alpha:g}" for alpha in sorted(set(settings.alphas + settings.allconv_alphas))))
            main_ids.update(added)
            waiting_for_main.update(added)
            independent = independent_specs(settings, experiments)
            bar.set_grid(unique(independent + planned))
            queue(independent, OTHER_PRIORITY)
        return bool(added)

    queue(independent, OTHER_PRIORITY)
    waiting_for_main = main_ids - finished
    selection_settled = False

    def settle_selection():
        """Once no selection run is waiting: extend the selection if the rule asks, else queue what
        depends on its alphas. A pre-registered selection with a failed run chooses nothing (its
        rule needs every seed): the failure is named and the dependent runs wait."""
        nonlocal selection_settled
        if selection_settled or waiting_for_main:
            return
        records = load_records(output_dir)
        failed = sorted({record["run_id"] for record in records if record["failed"]} & main_ids
                        if settings.preregistered else [])
        if failed:
            selection_settled = True
            log(f"{len(failed)} selection runs failed (the first: {failed[0]}): no α is chosen and nothing that "
                f"depends on it runs; delete their records in {output_dir}/runs to run them again")
            return
        if extend_selection(records):
            return
        selection_settled = True
        if needs_alphas:
            queue_dependents()

    settle_selection()
    submit_what_fits()
    executed = 0
    try:
        for spec, record in executor.completed():
            store_record(output_dir, record)
            finished.add(spec.run_id)
            in_flight -= 1
            executed += 1
            deadline.observe(record)
            bar.finish(record)
            waiting_for_main.discard(spec.run_id)
            settle_selection()
            submit_what_fits()
    finally:
        bar.close()
    left = len(stopped) + len(waiting)
    if stopped:
        log(f"deadline {deadline.at:%Y-%m-%d %H:%M}: {left} runs not started (they would end after it); "
            "run the same command again to continue")
    return executed, left


def _plan(output_dir, settings, experiments, parallel, log):
    """Print how many runs are left per experiment and roughly how long they take on ``parallel``
    workers (None: a cluster of unknown size); return the measured throughput (None: nothing to do)."""
    from threadpoolctl import threadpool_limits

    finished = finished_run_ids(output_dir)
    alphas = planned_alphas(output_dir, settings)
    by_experiment = {name: [spec for spec in unique(independent_specs(settings, [name])
                                                    + dependent_specs(settings, [name], alphas))
                            if spec.run_id not in finished]
                     for name in experiments if name != "timing"}
    todo = unique([spec for specs in by_experiment.values() for spec in specs])
    if not todo:
        return None
    log("measuring speed for the plan (one thread):")
    with threadpool_limits(limits=1):
        throughput = measure_throughput(sorted({spec.model for spec in todo}), settings.batch_size, log)
    for name, specs in by_experiment.items():
        log(f"  {name:8s} about {len(specs):3d} runs to do, ~{estimate_seconds(specs, throughput) / 60:.1f} min "
            "on one worker")
    minutes = estimate_seconds(todo, throughput) / 60
    on = (f"~{minutes / parallel:.1f} min on {parallel} worker{'s' if parallel > 1 else ''}" if parallel
          else f"~{minutes:.1f} min on one worker, divided among the cluster's workers")
    log(f"  total: {len(todo)} runs to do, {on} (plus timing and figures; runs shared by experiments are "
        "counted once)")
    return throughput


def parse_deadline(text, now=None):
    """The moment ``text`` names: ``HH:MM`` (the next such time on this machine's clock, within a day)
    or an ISO date and time (``2026-12-07T02:05``); ValueError otherwise or if it has passed."""
    now = now or datetime.datetime.now().astimezone()
    try:
        if len(text) == 5 and text[2] == ":":
            moment = datetime.datetime.combine(now.date(), datetime.time.fromisoformat(text), now.tzinfo)
            return moment if moment > now else moment + datetime.timedelta(days=1)
        moment = datetime.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"expected a deadline as HH:MM or an ISO date and time (2026-12-07T02:05), got {text!r}") from None
    moment = moment if moment.tzinfo else moment.replace(tzinfo=now.tzinfo)
    if moment <= now:
        raise ValueError(f"the deadline {text} has passed (now {now:%Y-%m-%d %H:%M})")
    return moment


def check_code(output_dir, records, adopt):
    """Refuse records of code the study has not accepted, and this process's code unless the study
    accepted it (or ``adopt``: it is to be checked); a new study accepts it. Returns what changed
    (text) when this process's code still has to be adopted (see adopt_code), else None."""
    identities = accepted_identities(output_dir)
    current = code_identity()
    if not identities and not records:
        accept_identity(output_dir, current, "the study's first call")
        return None
    strangers = unaccepted_records(records, identities)
    if strangers:
        record = strangers[0]
        trained = describe_identity(record["code"]) if "code" in record else "code it does not record"
        raise StudyError(f"{len(strangers)} run records in {output_dir}/runs were trained by code this study has "
                         f"not accepted (the first, {record['run_id']}: {trained}; accepted: see "
                         f"{output_dir}/code.json): records of different code are not mixed; move them away")
    if identity_key(current) in {identity_key(identity) for identity in identities}:
        return None
    latest = identities[-1]
    changed = changed_files(latest["files"], loaded_file_digests())
    versions = [f"{name} {latest[name]} → {current[name]}" for name in ("numpy", "python") if latest[name] != current[name]]
    what = (", ".join(versions + changed[:8]) + (f" and {len(changed) - 8} more files" if len(changed) > 8 else "")
            or "files unnamed")
    if not adopt:
        raise StudyError(f"the training code changed since this study's runs ({what}); the study does not mix "
                         "runs of different code: rerun with --adopt-code to re-run finished runs under this code "
                         "and accept it if they agree bit for bit, or start a new --output-dir")
    return what


def adopt_code(output_dir, records, what, verify, log):
    """Accept this process's code in the study once ``verify`` reproduced a finished run of every
    model under it bit for bit (``what``: the change, for the log)."""
    log(f"--adopt-code: the training code changed ({what}); re-running finished runs under it")
    verified = verify(records, per_model=True)
    if not verified:
        raise StudyError("--adopt-code: no finished run to re-run, so nothing shows that this code gives the same "
                         "numbers; start a new --output-dir")
    current = code_identity()
    accept_identity(output_dir, current, f"re-ran {', '.join(verified)} bit for bit")
    log(f"accepted {describe_identity(current)}: {len(verified)} finished runs reproduced bit for bit")


def verify_runs(executor, output_dir, records, per_model=False, choose=random.choice, log=print):
    """Run again one finished run (or one per model) on ``executor``; StudyError unless each gives
    its stored record bit for bit (but where and how fast it ran). Returns the run ids verified.

    The run is drawn at random among the cheapest finished runs (fewest epochs × images), and
    among those from the quicker half by recorded wall time (runs of one size differ up to five
    times: a network whose weights decay to subnormal numbers steps slowly), so that calls check
    different runs at a known small cost; with no finished run there is nothing to check."""
    from experiments.grid import RunSpec

    candidates = [record for record in records if not record["failed"]]
    chosen = []
    for model in sorted({record["spec"]["model"] for record in candidates}):
        of_model = [record for record in candidates if record["spec"]["model"] == model]
        cost = min(record["spec"]["epochs"] * record["spec"]["train_size"] for record in of_model)
        cheapest = sorted((record for record in of_model
                           if record["spec"]["epochs"] * record["spec"]["train_size"] == cost),
                          key=lambda record: _seconds_or_infinity(record.get("wall_seconds")))
        chosen.append(choose(cheapest[:(len(cheapest) + 1) // 2]))
    if not per_model:
        chosen = chosen[:1]
    for stored in chosen:
        log(f"checking that {stored['run_id']} gives its record again, bit for bit")
        executor.submit(RunSpec(**stored["spec"]), MAIN_PRIORITY + 1)
        _, again = next(iter(executor.completed()))
        if numbers(again) != numbers(stored):
            where = _first_difference(numbers(again), numbers(stored))
            raise StudyError(f"{output_dir}/runs/{stored['run_id']}.json is not reproduced bit for bit by this code "
                             f"and machine ({where}): its runs cannot be continued here; start a new --output-dir")
    return [record["run_id"] for record in chosen]


def _seconds_or_infinity(value):
    """A recorded wall time, or infinity where the record has none (null, NaN)."""
    return value if isinstance(value, (int, float)) and math.isfinite(value) else math.inf


def rerun_finished(executor, output_dir, records, log=print):
    """Run every finished run again under this process's code, as many at once as ``executor``
    takes. A record given back bit for bit (but where and how fast it ran) stays; one that is
    not moves to ``<output>/superseded/`` (named with its code's digest) and its run is left
    for the grid to run again. For a change that alters some runs' numbers and not others
    (subnormal numbers flushed to zero alter only runs that produced them), where re-running
    one run shows nothing about the rest. No deadline bounds it, and the code is accepted only
    at its end: an interrupted pass starts again. A re-run that fails stops it (StudyError),
    keeping that record. Returns (run ids reproduced, run ids superseded)."""
    import os

    from experiments.grid import RunSpec

    stored = {record["run_id"]: record for record in records if not record["failed"]}
    log(f"--rerun-finished: re-running all {len(stored)} finished runs under this code")
    for record in stored.values():
        executor.submit(RunSpec(**record["spec"]), MAIN_PRIORITY + 1)
    reproduced, superseded = [], []
    superseded_folder = Path(output_dir) / "superseded"
    for spec, again in executor.completed():
        record = stored[spec.run_id]
        if again["failed"]:
            raise StudyError(f"--rerun-finished: re-running {spec.run_id} failed ({again['error']}); its record is "
                             "kept and this code is not accepted")
        if numbers(again) == numbers(record):
            reproduced.append(spec.run_id)
            log(f"  {spec.run_id}: reproduced bit for bit")
        else:
            superseded_folder.mkdir(exist_ok=True)
            target = superseded_folder / f"{spec.run_id}.{record['code']['digest'][:12]}.json"
            os.replace(run_path(output_dir, spec.run_id), target)
            superseded.append(spec.run_id)
            log(f"  {spec.run_id}: differs ({_first_difference(numbers(again), numbers(record))}); "
                f"moved to {target}, to run again")
        if len(reproduced) + len(superseded) == len(stored):
            break
    return reproduced, superseded


def _first_difference(again, stored):
    """Where two JSON texts first differ, as a short excerpt of each."""
    import os.path

    index = len(os.path.commonprefix([again, stored]))
    return f"now {again[max(0, index - 40):index + 20].decode(errors='replace')!r}, " \
           f"recorded {stored[max(0, index - 40):index + 20].decode(errors='replace')!r}"


def grid_specs(output_dir, settings, experiments):
    """Every run of the grid ``experiments`` asks for, the dependent ones at the alphas chosen now."""
    return unique(independent_specs(settings, experiments)
                  + dependent_specs(settings, experiments, chosen_alphas(output_dir, settings)))


def run_compare(output_dir, quick=False, data_dir=None, only=None, workers=1, scheduler=None, progress=True,
                log=print, settings=None, study="first", deadline=None, adopt_code=False,
                handshake_timeout=HANDSHAKE_TIMEOUT, rerun=False):
    """Run (or continue) the grid into ``output_dir``, then the timing, then rebuild the report.

    ``workers`` 1 runs everything in this process; more starts a local Dask cluster of that
    many single-threaded worker processes; ``scheduler`` (``tcp://HOST:PORT``) uses an
    existing cluster instead, which must answer within ``handshake_timeout`` seconds.
    ``settings`` overrides the grid's size (default: ``study``'s grid, full or ``quick``).
    ``deadline`` (a datetime) stops submitting runs that would end after it; ``adopt_code``
    accepts changed training code once finished runs reproduce under it; ``rerun`` re-runs
    every finished run first (see rerun_finished) and accepts this code then. Returns the
    number of runs executed.
    """
    from framework.training import RunFolderError, locked_run_folder

    if not isinstance(workers, int) or workers < 1:
        raise ValueError(f"normnet compare: workers must be an integer >= 1, got {workers!r}")
    output_dir = Path(output_dir)
    code_identity()  # the code as it is loaded now, before anything can change the files
    custom = settings is not None
    settings = settings or Settings.of_study(study, quick)
    experiments = selected_experiments(only)
    started = time.perf_counter()
    try:
        with locked_run_folder(output_dir):
            return _compare_in_folder(output_dir, settings, experiments, data_dir, workers, scheduler, progress, log,
                                      deadline, adopt_code, rerun, handshake_timeout, started,
                                      "custom" if custom else f"{study}, quick" if quick else f"{study}, full")
    except RunFolderError:
        raise RunFolderError(f"{output_dir} is in use by another normnet command (it holds {output_dir}/.normnet.lock); "
                             "wait for it to finish or choose another --output-dir") from None


def _compare_in_folder(output_dir, settings, experiments, data_dir, workers, scheduler, progress, log, deadline,
                       adopt, rerun, handshake_timeout, started, size):
    from threadpoolctl import threadpool_limits

    log(f"normnet compare: {size} grid into {output_dir}; experiments: {', '.join(experiments)}"
        + (f"; deadline {deadline:%Y-%m-%d %H:%M}" if deadline else ""))
    records = load_records(output_dir)
    to_adopt = check_code(output_dir, records, adopt or rerun)
    timing_path = output_dir / "timing.json"
    timing_to_do = "timing" in experiments and not timing_path.exists()
    if timing_to_do or scheduler is None:
        # This process's own part (the timing), and on this machine the workers' too: before the grid.
        process_datasets(data_dir)(settings.main_dataset)
    throughput = _plan(output_dir, with_alpha_extension(settings, result_rows(records)), experiments,
                       workers if scheduler is None else None, log)

    if scheduler is not None:
        executor = DaskCluster(data_dir, scheduler=scheduler, log=log, handshake_timeout=handshake_timeout)
    elif workers > 1:
        executor = DaskCluster(data_dir, workers=workers, log=log)
    else:
        executor = InProcess(data_dir)
    left = 0
    with executor:

        def verify(records, per_model=False):
            return verify_runs(executor, output_dir, records, per_model, log=log)

        if rerun:
            reproduced, superseded = rerun_finished(executor, output_dir, records, log)
            reason = (f"re-ran all {len(reproduced) + len(superseded)} finished runs: {len(reproduced)} bit for bit, "
                      f"{len(superseded)} differed and were moved to superseded/ to run again")
            if to_adopt:
                accept_identity(output_dir, code_identity(), reason)
            log(f"{reason}" + (f"; accepted {describe_identity(code_identity())}" if to_adopt else ""))
        elif to_adopt:
            adopt_code(output_dir, records, to_adopt, verify, log)
        elif records:
            verify(records)
        log(f"running the grid {executor.description}")
        estimate = (lambda spec: estimate_seconds([spec], throughput)) if throughput else None
        executed, left = run_grid(executor, output_dir, settings, experiments, progress, log,
                                  Deadline(deadline, records, estimate))

    if timing_to_do and not left:
        log("[timing] seconds per step, regularizers alternating in this process:")
        with threadpool_limits(limits=1):
            rows = measure_timing(settings, process_datasets(data_dir), log)
        write_json(timing_path, rows)
    reached = extended_settings(output_dir, settings)
    grid = {spec.run_id for spec in grid_specs(output_dir, reached, selected_experiments(None))}
    failed = report.write_reports(output_dir, reached, log=log, grid=grid)
    log(f"done: {executed} runs executed in this call; {failed} failed runs in the folder; "
        + (f"{left} runs left for the next call; " if left else "")
        + f"{(time.perf_counter() - started) / 60:.1f} min; results in {output_dir}")
    return executed
