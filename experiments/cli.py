"""``normnet compare``: the study's subcommand, registered with ``normnet`` through the
entry-point group ``normnet.commands`` (see ``setup.cfg``)."""
import argparse
import sys
from pathlib import Path

from experiments.executors import HANDSHAKE_TIMEOUT, StudyError, scheduler_address
from experiments.grid import EXPERIMENTS, STUDIES
from experiments.runner import parse_deadline, run_compare
from framework.cli import integer_at_least
from framework.threads import available_cores


def _argument(check):
    """An argparse type from a function that raises ValueError with the message to show."""
    def parse(text):
        try:
            return check(text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None
    parse.__name__ = check.__name__
    return parse


def _seconds(text):
    seconds = float(text)
    if not 0 < seconds < float("inf"):
        raise ValueError(f"expected a number of seconds > 0, got {text!r}")
    return seconds


def add_parser(subparsers):
    """Register ``normnet compare`` (called by framework.cli.build_parser)."""
    parser = subparsers.add_parser(
        "compare", help="Norm Loss against none/L1/L2: a grid of runs, results.csv, figures, summary.md",
        description="Test the Norm Loss paper's claims: choose each arm's alpha (no regularizer, L1, L2 and "
                    "Norm Loss, decoupled and coupled) on validation error over half-decade alphas, then "
                    "confirm on fresh seeds paired across arms, with LeNet on Fashion-MNIST and MNIST and the "
                    "all-conv network; write results.csv, timing.csv, PNG figures and summary.md (paired "
                    "differences with 95 % confidence intervals) into --output-dir. Finished runs are kept in "
                    "<output-dir>/runs/ and never run again: rerun the same command to continue.")
    parser.add_argument("--output-dir", type=Path, default=Path("runs/compare"))
    parser.add_argument("--quick", action="store_true", help="a tiny grid exercising every step (well under a minute)")
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="folder with the IDX files, on every machine that runs (default: $NORMNET_DATA "
                             "and $NORMNET_FASHION_DATA, the cache, or a download)")
    parser.add_argument("--only", choices=EXPERIMENTS, default=None,
                        help="run only this experiment (and the selection runs it depends on)")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--workers", type=integer_at_least(1), default=None,
                       help="run the grid on a local Dask cluster of this many single-threaded worker "
                            "processes; 1 runs it in this process (default: one per core, here "
                            f"{available_cores()})")
    where.add_argument("--scheduler", type=_argument(scheduler_address), default=None, metavar="tcp://HOST:PORT",
                       help="run the grid on the existing Dask cluster of this scheduler "
                            "(started with 'dask scheduler' and 'dask worker')")
    parser.add_argument("--scheduler-timeout", type=_argument(_seconds), default=HANDSHAKE_TIMEOUT, metavar="SECONDS",
                        help="how long the scheduler has to connect and answer as a Dask scheduler "
                             f"(default {HANDSHAKE_TIMEOUT:g})")
    parser.add_argument("--study", choices=STUDIES, default="first",
                        help="first: the grid of 2026-11-30 (decoupled and coupled arms, 3 epochs on all images); "
                             "regimes: the pre-registered second study (docs/norm_loss_preregistration.md), its "
                             "positive control first (default first)")
    parser.add_argument("--deadline", type=_argument(parse_deadline), default=None, metavar="HH:MM",
                        help="submit no run that would end after this time (HH:MM on this machine's clock, or "
                             "an ISO date and time); the rest is left for the next call")
    parser.add_argument("--adopt-code", action="store_true",
                        help="the training code changed since the folder's runs: re-run one finished run per "
                             "model under it and accept it if they give their records bit for bit")
    parser.add_argument("--rerun-finished", action="store_true",
                        help="re-run every finished run under this code first; a record it does not give back bit "
                             "for bit moves to OUTPUT/superseded/ and its run runs again; then accept this code "
                             "(not bounded by --deadline)")
    parser.add_argument("--no-progress", action="store_true", help="print only the plan and the summary")
    parser.set_defaults(handler=_compare)


def _compare(arguments):
    workers = arguments.workers or available_cores()
    try:
        run_compare(arguments.output_dir, quick=arguments.quick, data_dir=arguments.data_dir, only=arguments.only,
                    workers=workers, scheduler=arguments.scheduler, progress=not arguments.no_progress,
                    log=lambda *args: print(*args, flush=True), study=arguments.study, deadline=arguments.deadline,
                    adopt_code=arguments.adopt_code, handshake_timeout=arguments.scheduler_timeout,
                    rerun=arguments.rerun_finished)
    except StudyError as error:
        print(f"normnet compare: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\ninterrupted: finished runs are kept in {arguments.output_dir}/runs; "
              f"run the same command again to continue", file=sys.stderr)
        return 130
    return 0
