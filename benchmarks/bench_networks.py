"""Training-step and inference speed of whole networks: normnet against its PyTorch twin on the CPU.

    python benchmarks/bench_networks.py [--model lenet lenet-bn allconv] [--iterations 50] [--repetitions 5]
                                        [--batch-size 64] [--threads N] [--cpu-time]

Models: ``lenet`` (the modified LeNet), ``lenet-bn`` (``build_lenet(batch_norm=True)``) and
``allconv`` (``build_allconv``: 3x3 convolutions, batch normalization, global average
pooling). Both frameworks train the same architecture from the same initial weights
(float32, Adam, batch 64, L2 as decoupled weight decay; see ``networks.py``) on the same
real MNIST batches, alternating in one process: repetition r runs ``--iterations`` steps of
normnet, then of PyTorch, so slow drifts of the machine hit both alike. Reported per model:
median ms per iteration, images per second, the ratio normnet/PyTorch (< 1 means normnet is
faster), inference time on the 10k test images (normnet's ``predict`` on a worker thread
per core, PyTorch with its own threads; each at its best chunk size), and the peak memory
of a training loop in a separate process per framework (growth of the resident set from
after loading the data and the library to the peak while building and training the model).

``--cpu-time`` times by process CPU time instead of the wall clock; with ``--threads 1``
that counts only each framework's own work, which stays steady on a machine that other
programs keep busy. PyTorch is optional: without it, only normnet's numbers are printed.
Timings are never asserted anywhere; this is a measurement, not a test.
"""
import argparse
import functools
import os
import platform
import statistics
import sys
import time

import numpy as np

import networks
from networks import (MODELS, measure_memory, memory_child, normnet_infer, normnet_model, normnet_train,
                      torch_infer, torch_model, torch_train)
from threads import add_threads_option, process_lines, restart_with_threads

from data import load_dataset  # noqa: E402  (networks.py put the repository on the path)

INFERENCE_CHUNKS = (64, 128, 256, 1000)
SETTLE_SECONDS = 0.3


def load_mnist():
    return load_dataset("mnist", dtype=np.float32)


def benchmark(model, arguments, dataset, torch):
    """Alternating repetitions of training and inference; returns the printed lines' numbers."""
    prepared = networks.batches(dataset.train_images, dataset.train_labels, arguments.batch_size, 200)
    # With --threads N, normnet's inference gets N worker threads, as PyTorch gets N threads.
    infer_normnet = functools.partial(normnet_infer, workers=arguments.threads)
    frameworks = {"normnet": (normnet_model(model, prepared), normnet_train, infer_normnet)}
    if torch is not None:
        frameworks["PyTorch"] = (torch_model(model, prepared), torch_train, torch_infer)

    for state, train, infer in frameworks.values():  # warm up caches, BLAS threads, allocators
        train(state, 5)
        infer(state, dataset.test_images[:2000], 256)
    train_ms = {name: [] for name in frameworks}
    # Inference: each framework at each chunk size; each is reported at its best chunk.
    infer_s = {(name, chunk): [] for name in frameworks for chunk in INFERENCE_CHUNKS}
    for _ in range(arguments.repetitions):
        for name, (state, train, infer) in frameworks.items():
            # OpenMP workers (PyTorch's) spin for a while after their last task; let them go
            # idle so that they do not take a core from the other framework's turn.
            time.sleep(SETTLE_SECONDS)
            train_ms[name].append(1000 * train(state, arguments.iterations) / arguments.iterations)
            for chunk in INFERENCE_CHUNKS:
                infer_s[name, chunk].append(infer(state, dataset.test_images, chunk))

    print(f"{model}: float32, Adam, batch {arguments.batch_size}, {arguments.iterations} iterations "
          f"x {arguments.repetitions} alternating repetitions (median)")
    print(f"{'':10s} {'train ms/iter':>14s} {'images/s':>10s} {'inference 10k s (chunk)':>18s} "
          f"{'peak memory (MiB)':>18s}")
    medians = {}
    for name in frameworks:
        memory = measure_memory(os.path.abspath(__file__), "torch" if name == "PyTorch" else "normnet", model, 50,
                                arguments.batch_size)
        best_chunk = min(INFERENCE_CHUNKS, key=lambda chunk: statistics.median(infer_s[name, chunk]))
        medians[name] = (statistics.median(train_ms[name]), statistics.median(infer_s[name, best_chunk]),
                         memory["peak_growth_mib"])
        ms, seconds, mib = medians[name]
        print(f"{name:10s} {ms:14.2f} {1000 * arguments.batch_size / ms:10.0f} "
              f"{seconds:11.3f} ({best_chunk:4d}) {mib:18.1f}")
    if "PyTorch" not in medians:
        print("PyTorch is not installed: pip install torch==2.13.0 to compare")
        return
    ratios = [ours / theirs for ours, theirs in zip(train_ms["normnet"], train_ms["PyTorch"])]
    print(f"ratio normnet/PyTorch: training {medians['normnet'][0] / medians['PyTorch'][0]:.2f} "
          f"(per repetition: {', '.join(f'{r:.2f}' for r in ratios)}), "
          f"inference {medians['normnet'][1] / medians['PyTorch'][1]:.2f}, "
          f"peak memory {medians['normnet'][2] / max(medians['PyTorch'][2], 1e-9):.2f}")
    # The machine drifts by tens of percent within minutes; the paired ratios of the
    # repetitions (each normnet turn against the PyTorch turn right after it) say how far
    # the median ratio can be trusted.
    low, _, high = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else ratios * 3
    print(f"training ratio per repetition: median {statistics.median(ratios):.2f}, "
          f"quartiles {low:.2f} – {high:.2f}, {sum(r <= 1 for r in ratios)} of {len(ratios)} at most 1")


def main(default_models=("lenet", "lenet-bn", "allconv"), description=__doc__):
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", nargs="+", choices=list(MODELS), default=list(default_models))
    parser.add_argument("--iterations", type=int, default=50)
    parser.add_argument("--repetitions", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--cpu-time", action="store_true",
                        help="time by process CPU time (use with --threads 1 on a busy machine)")
    parser.add_argument("--memory-child", choices=["normnet", "torch"], help=argparse.SUPPRESS)
    add_threads_option(parser)
    arguments = parser.parse_args()
    if arguments.memory_child:  # started by this script: its threads and malloc settings came with it
        memory_child(arguments.memory_child, arguments.model[0], arguments.iterations, arguments.batch_size,
                     load_mnist)
        return
    restart_with_threads(arguments.threads, arguments.malloc_defaults)
    if arguments.cpu_time:
        networks.use_cpu_time()
    try:
        import torch
    except ImportError:
        torch = None

    dataset = load_mnist()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, NumPy {np.__version__}"
          + (f", PyTorch {torch.__version__} ({torch.get_num_threads()} threads)" if torch else "")
          + f"; {'CPU' if arguments.cpu_time else 'wall-clock'} time; load average {os.getloadavg()[0]:.1f}")
    print(process_lines())
    for model in arguments.model:
        benchmark(model, arguments, dataset, torch)
    print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    sys.exit(main())
