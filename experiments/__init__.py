"""The Norm Loss study: Norm Loss (Georgiou et al., ICPR 2020) against no regularizer, L1 and
L2 (weight decay), each applied decoupled (the exercise's form) or coupled (the paper's), behind
``normnet compare``: alphas selected on validation error, then confirmed on fresh paired seeds.

    grid        what one run is (RunSpec), the grid's size (Settings), the runs of each experiment
    runs        one run: train with a cosine schedule, evaluate, return its record (the same in any process)
    executors   where runs execute: this process, or tasks on a Dask cluster
    storage     one JSON file per finished run, written atomically
    results     the result table and the one rule that chooses an arm's alpha (validation error)
    paired      t intervals across seeds and paired differences between arms
    timing      the timing experiment (claim 4) and the plan's throughput
    runner      the whole command: grid, dependent runs, timing, report
    report      results.csv, weight_norms.csv, timing.csv; figures and summary.md from them
    figures     the PNG figures
    summary     summary.md, one section per claim of the paper
    cli         the ``compare`` subcommand

The study sits above the framework: it imports ``framework``, ``data`` and the building
blocks; nothing below imports it.
"""
