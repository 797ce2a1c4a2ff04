"""The Norm Loss study: Norm Loss (Georgiou et al., ICPR 2020) against no regularizer, L1 and
L2 (weight decay), each applied decoupled (the exercise's form) or coupled (the paper's), behind
``normnet compare``: alphas selected on validation error, then confirmed on fresh paired seeds.
``--study regimes`` runs the second, pre-registered study (docs/norm_loss_preregistration.md):
a positive control first, then the paper's coupled forms where weight decay acts.

    grid        what one run is (RunSpec), the grid's size (Settings: the first study, or the
                pre-registered second one), the runs of each experiment
    runs        one run: train with a cosine schedule, evaluate, return its record (the same in any process)
    provenance  which code trained a run: the training code's digest and the library versions
    executors   where runs execute: this process, or tasks on a Dask cluster
    storage     one JSON file per finished run, written atomically, checked field by field when read
    results     the result table and the one rule that chooses an arm's alpha (validation error)
    paired      t intervals across seeds and paired differences between arms
    inference   the second study's pre-registered analyses (TOST, superiority, curve areas, the
                batch-size interaction, plateau widths)
    timing      the timing experiment (claim 4) and the plan's throughput
    runner      the whole command: grid, dependent runs, timing, report
    report      results.csv, weight_norms.csv, timing.csv; figures and summary.md from them
    figures     the PNG figures
    summary     summary.md, one section per claim of the paper
    preregistered  summary.md's sections of the second study, one per stage
    cli         the ``compare`` subcommand

The study sits above the framework: it imports ``framework``, ``data`` and the building
blocks; nothing below imports it.
"""
