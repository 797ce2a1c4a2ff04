"""``normnet compare``: run (or continue) the study's grid, then the timing, then the report.

Tests the four claims of the Norm Loss paper (Georgiou et al., ICPR 2020) at a scale a
few CPU cores can run: (1) accuracy comparable to or better than weight decay,
(2) faster convergence, (3) less sensitivity to the regularization factor alpha and
to the batch size, (4) negligible extra computation; plus how per-unit weight norms
evolve from two initializations. The grid is described in ``experiments/grid.py``.

The order of work:

1. The runs fixed by the settings (the selection runs first, then the "none" runs of the
   other experiments) are submitted to the executor: this process (``workers=1``), a local Dask cluster, or an
   existing one (``experiments/executors.py``).
2. Every record is stored as ``runs/<run_id>.json`` the moment it arrives, so a crash of
   this process loses only the runs in progress, and a run whose file exists is never
   run again: the same command continues where it stopped.
3. Once every selection run is finished, each arm's alpha is chosen on validation error
   (``experiments/results.py``) and the runs of "confirmation", "mnist", "batch" and
   "allconv" at those alphas are submitted.
4. The timing experiment runs alone in this process, after the grid, so that no other
   run disturbs it.
5. ``results.csv``, ``timing.csv``, the figures and ``summary.md`` are rebuilt from the
   run files (``experiments/report.py``).
"""
import time
from pathlib import Path

from experiments import report
from experiments.executors import DaskCluster, InProcess
from experiments.grid import (ARMS, DEPENDENT_EXPERIMENTS, Settings, dependent_specs, independent_specs,
                              selected_experiments, selection_specs, unique)
from experiments.results import Results, result_rows
from experiments.runs import process_datasets
from experiments.storage import finished_run_ids, load_records, store_record, write_json
from experiments.timing import estimate_seconds, measure_throughput, measure_timing

# Priorities of the runs on the executor: selection first, since the dependent runs wait for its
# alphas; then the confirmation runs, the study's main result; then the rest.
MAIN_PRIORITY, CONFIRMATION_PRIORITY, DEPENDENT_PRIORITY, OTHER_PRIORITY = 3, 2, 1, 0
# Stands in for the alphas not chosen yet when the plan counts the dependent runs.
PLACEHOLDER_ALPHAS = {name: 1e-3 for name in ARMS}


def planned_alphas(output_dir, settings):
    """The alphas to count the dependent runs with: those the finished selection runs choose now,
    a placeholder for the arms without any (so a finished study plans no runs)."""
    return {**PLACEHOLDER_ALPHAS, **chosen_alphas(output_dir, settings)}


def chosen_alphas(output_dir, settings):
    """Arm → alpha chosen on validation error among the finished selection runs in ``output_dir``."""
    selection_ids = {spec.run_id for spec in selection_specs(settings)}
    records = [record for record in load_records(output_dir) if record["run_id"] in selection_ids]
    return Results(result_rows(records), settings).chosen_alphas()


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


def run_grid(executor, output_dir, settings, experiments, progress=True, log=print):
    """Run every unfinished run of ``experiments`` on ``executor``; return how many ran."""
    output_dir = Path(output_dir)
    finished = finished_run_ids(output_dir)
    bar = GridProgress(finished, progress, log)
    independent = independent_specs(settings, experiments)
    main_ids = {spec.run_id for spec in selection_specs(settings)} if "selection" in experiments else set()
    # The dependent runs are counted with placeholder alphas until the real ones are chosen.
    needs_alphas = any(name in experiments for name in DEPENDENT_EXPERIMENTS)
    planned = dependent_specs(settings, experiments, planned_alphas(output_dir, settings))
    bar.set_grid(unique(independent + planned))
    submitted = set()

    def submit(specs, priority):
        for spec in specs:
            if spec.run_id not in finished and spec.run_id not in submitted:
                executor.submit(spec, MAIN_PRIORITY if spec.run_id in main_ids
                                else CONFIRMATION_PRIORITY if spec.experiment == "confirmation" else priority)
                submitted.add(spec.run_id)

    def submit_dependents():
        chosen = chosen_alphas(output_dir, settings)
        if chosen:
            bar.write("alpha chosen by validation error: "
                      + ", ".join(f"{name} {alpha:g}" for name, alpha in chosen.items()))
        specs = dependent_specs(settings, experiments, chosen)
        bar.set_grid(unique(independent + specs))
        submit(specs, DEPENDENT_PRIORITY)

    submit(independent, OTHER_PRIORITY)
    waiting_for_main = main_ids - finished
    dependents_submitted = False
    if needs_alphas and not waiting_for_main:
        submit_dependents()
        dependents_submitted = True
    executed = 0
    try:
        for spec, record in executor.completed():
            store_record(output_dir, record)
            executed += 1
            bar.finish(record)
            waiting_for_main.discard(spec.run_id)
            if needs_alphas and not waiting_for_main and not dependents_submitted:
                submit_dependents()
                dependents_submitted = True
    finally:
        bar.close()
    return executed


def _plan(output_dir, settings, experiments, parallel, log):
    """Print how many runs are left per experiment and roughly how long they take on ``parallel``
    workers (None: a cluster of unknown size)."""
    from threadpoolctl import threadpool_limits

    finished = finished_run_ids(output_dir)
    alphas = planned_alphas(output_dir, settings)
    by_experiment = {name: [spec for spec in unique(independent_specs(settings, [name])
                                                    + dependent_specs(settings, [name], alphas))
                            if spec.run_id not in finished]
                     for name in experiments if name != "timing"}
    todo = unique([spec for specs in by_experiment.values() for spec in specs])
    if not todo:
        return
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


def run_compare(output_dir, quick=False, data_dir=None, only=None, workers=1, scheduler=None, progress=True,
                log=print, settings=None):
    """Run (or continue) the grid into ``output_dir``, then the timing, then rebuild the report.

    ``workers`` 1 runs everything in this process; more starts a local Dask cluster of that
    many single-threaded worker processes; ``scheduler`` (``tcp://HOST:PORT``) uses an
    existing cluster instead. ``settings`` overrides the grid's size (default: the full
    grid, or ``Settings.quick()`` with ``quick``). Returns the number of runs executed.
    """
    from threadpoolctl import threadpool_limits

    if not isinstance(workers, int) or workers < 1:
        raise ValueError(f"normnet compare: workers must be an integer >= 1, got {workers!r}")
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    custom = settings is not None
    settings = settings or (Settings.quick() if quick else Settings())
    experiments = selected_experiments(only)
    started = time.perf_counter()
    size = "custom" if custom else "quick" if quick else "full"
    log(f"normnet compare: {size} grid into {output_dir}; "
        f"experiments: {', '.join(experiments)}")
    _plan(output_dir, settings, experiments, workers if scheduler is None else None, log)

    if scheduler is not None:
        executor = DaskCluster(data_dir, scheduler=scheduler, log=log)
    elif workers > 1:
        executor = DaskCluster(data_dir, workers=workers, log=log)
    else:
        executor = InProcess(data_dir)
    with executor:
        log(f"running the grid {executor.description}")
        executed = run_grid(executor, output_dir, settings, experiments, progress, log)

    timing_path = output_dir / "timing.json"
    if "timing" in experiments and not timing_path.exists():
        log("[timing] seconds per step, regularizers alternating in this process:")
        with threadpool_limits(limits=1):
            rows = measure_timing(settings, process_datasets(data_dir), log)
        write_json(timing_path, rows)
    failed = report.write_reports(output_dir, settings, log=log)
    log(f"done: {executed} runs executed in this call; {failed} failed runs in the folder; "
        f"{(time.perf_counter() - started) / 60:.1f} min; results in {output_dir}")
    return executed

