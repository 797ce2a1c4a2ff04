"""Train-step and inference speed of the modified LeNet: normnet against PyTorch on the CPU.

    python benchmarks/bench_lenet.py [--iterations 100] [--repetitions 5] [--batch-size 64] [--threads N]

Both frameworks train the same architecture (float32, Adam, batch 64, L2 as decoupled
weight decay) on the same real MNIST batches, alternating in one process: repetition r runs
`--iterations` steps of normnet, then of PyTorch, so slow drifts of the machine hit both
alike. Reported: median ms per iteration, images per second, the ratio normnet/PyTorch
(< 1 means normnet is faster), inference time on the 10k test images (normnet's ``predict``
on a worker thread per core, PyTorch with its own threads; each at its best chunk size), and the peak
memory of a training loop in a separate process per framework (growth of the resident set
from after loading the data and the library to the peak while building and training the model).

PyTorch is optional: without it, only normnet's numbers are printed.
Timings are never asserted anywhere; this is a measurement, not a test.
"""
import argparse
import functools
import json
import os
import platform
import statistics
import subprocess
import sys
import time

import numpy as np

REPOSITORY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPOSITORY)

from data import load_dataset  # noqa: E402
from framework.models import build_lenet  # noqa: E402
from threads import add_threads_option, restart_with_threads  # noqa: E402

LEARNING_RATE = 1e-3
ALPHA = 4e-4
INFERENCE_CHUNKS = (64, 128, 256, 1000)
SETTLE_SECONDS = 0.3


def batches(images, labels, batch_size, count, seed=0):
    """``count`` random batches (the same ones for both frameworks), one-hot labels."""
    rng = np.random.default_rng(seed)
    indices = rng.integers(0, len(images), size=(count, batch_size))
    one_hot = np.eye(10, dtype=np.float32)
    return [(images[index], one_hot[labels[index]], labels[index]) for index in indices]


class Replay:
    """A data layer that replays prepared batches in order."""

    def __init__(self, prepared):
        self.prepared = prepared
        self.position = 0

    def next(self):
        images, one_hot, _ = self.prepared[self.position % len(self.prepared)]
        self.position += 1
        return images, one_hot


# -- normnet --------------------------------------------------------------------------------

def normnet_model(prepared):
    network = build_lenet(optimizer="adam", learning_rate=LEARNING_RATE, regularizer="l2", alpha=ALPHA,
                          dtype=np.float32, rng=np.random.default_rng(0))
    network.data_layer = Replay(prepared)
    return network


def normnet_train(network, iterations):
    start = time.perf_counter()
    network.train(iterations)
    return time.perf_counter() - start


def normnet_infer(network, images, chunk, workers=None):
    """predict on ``workers`` threads (None: every core, as PyTorch uses all its threads)."""
    start = time.perf_counter()
    network.predict(images, batch_size=chunk, workers=workers)
    return time.perf_counter() - start


# -- PyTorch --------------------------------------------------------------------------------

def torch_model(prepared):
    import torch
    from torch import nn

    torch.manual_seed(0)
    # The same layer order as build_lenet: pooling before ReLU (they commute exactly).
    model = nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.MaxPool2d(2), nn.ReLU(),
        nn.Conv2d(6, 16, 5, padding=2), nn.MaxPool2d(2), nn.ReLU(),
        nn.Flatten(), nn.Linear(16 * 7 * 7, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))
    # normnet's L2 shrinkage w ← w − η·α·w with Adam is AdamW's decoupled decay with weight_decay=α.
    kernels = [p for name, p in model.named_parameters() if name.endswith("weight")]
    biases = [p for name, p in model.named_parameters() if name.endswith("bias")]
    optimizer = torch.optim.AdamW([{"params": kernels, "weight_decay": ALPHA},
                                   {"params": biases, "weight_decay": 0.0}], lr=LEARNING_RATE)
    tensors = [(torch.from_numpy(images), torch.from_numpy(labels)) for images, _, labels in prepared]
    return {"model": model, "optimizer": optimizer, "batches": tensors, "position": 0}


def torch_train(state, iterations):
    import torch.nn.functional as functional

    model, optimizer, tensors = state["model"], state["optimizer"], state["batches"]
    model.train()
    start = time.perf_counter()
    for _ in range(iterations):
        images, labels = tensors[state["position"] % len(tensors)]
        state["position"] += 1
        optimizer.zero_grad(set_to_none=True)
        loss = functional.cross_entropy(model(images), labels)
        loss.backward()
        optimizer.step()
    return time.perf_counter() - start


def torch_infer(state, images, chunk):
    import torch

    model = state["model"]
    model.eval()
    start = time.perf_counter()
    with torch.no_grad():
        for begin in range(0, len(images), chunk):
            model(torch.from_numpy(images[begin:begin + chunk])).argmax(dim=1)
    return time.perf_counter() - start


# -- memory (one child process per framework) -------------------------------------------------

def _resident_kib(field):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def memory_child(framework, iterations, batch_size):
    dataset = load_dataset("mnist", dtype=np.float32)
    prepared = batches(dataset.train_images, dataset.train_labels, batch_size, 20)
    if framework == "torch":
        import torch  # noqa: F401  (the library itself is not what we measure)
    # From here on: the model, its optimizer state, activations and buffers of training.
    with open("/proc/self/clear_refs", "w") as clear_refs:
        clear_refs.write("5")  # resets VmHWM, the peak resident set, to the current size
    baseline = _resident_kib("VmRSS")
    if framework == "normnet":
        model = normnet_model(prepared)
        train = normnet_train
    else:
        model = torch_model(prepared)
        train = torch_train
    train(model, iterations)
    peak = _resident_kib("VmHWM")
    print(json.dumps({"peak_growth_mib": (peak - baseline) / 1024, "peak_rss_mib": peak / 1024}))


def measure_memory(framework, iterations, batch_size):
    output = subprocess.run([sys.executable, __file__, "--memory-child", framework,
                             "--iterations", str(iterations), "--batch-size", str(batch_size)],
                            capture_output=True, text=True, check=True).stdout
    return json.loads(output.strip().splitlines()[-1])


# -- main -----------------------------------------------------------------------------------

def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, default=100)
    parser.add_argument("--repetitions", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--memory-child", choices=["normnet", "torch"], help=argparse.SUPPRESS)
    add_threads_option(parser)
    arguments = parser.parse_args()
    restart_with_threads(arguments.threads)
    if arguments.memory_child:
        memory_child(arguments.memory_child, arguments.iterations, arguments.batch_size)
        return
    try:
        import torch
    except ImportError:
        torch = None

    dataset = load_dataset("mnist", dtype=np.float32)
    prepared = batches(dataset.train_images, dataset.train_labels, arguments.batch_size, 200)
    # With --threads N, normnet's inference gets N worker threads, as PyTorch gets N threads.
    infer_normnet = functools.partial(normnet_infer, workers=arguments.threads)
    frameworks = {"normnet": (normnet_model(prepared), normnet_train, infer_normnet)}
    if torch is not None:
        frameworks["PyTorch"] = (torch_model(prepared), torch_train, torch_infer)

    for model, train, infer in frameworks.values():  # warm up caches, BLAS threads, allocators
        train(model, 5)
        infer(model, dataset.test_images[:2000], 256)
    train_ms = {name: [] for name in frameworks}
    # Inference: each framework at each chunk size; each is reported at its best chunk.
    infer_s = {(name, chunk): [] for name in frameworks for chunk in INFERENCE_CHUNKS}
    for _ in range(arguments.repetitions):
        for name, (model, train, infer) in frameworks.items():
            # OpenMP workers (PyTorch's) spin for a while after their last task; let them go
            # idle so that they do not take a core from the other framework's turn.
            time.sleep(SETTLE_SECONDS)
            train_ms[name].append(1000 * train(model, arguments.iterations) / arguments.iterations)
            for chunk in INFERENCE_CHUNKS:
                infer_s[name, chunk].append(infer(model, dataset.test_images, chunk))

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, NumPy {np.__version__}"
          + (f", PyTorch {torch.__version__} ({torch.get_num_threads()} threads)" if torch else ""))
    print(f"modified LeNet, float32, Adam, batch {arguments.batch_size}, {arguments.iterations} iterations "
          f"x {arguments.repetitions} alternating repetitions (median)")
    print(f"{'':10s} {'train ms/iter':>14s} {'images/s':>10s} {'inference 10k s (chunk)':>18s} "
          f"{'peak memory (MiB)':>18s}")
    medians = {}
    for name in frameworks:
        memory = measure_memory("torch" if name == "PyTorch" else "normnet", 50, arguments.batch_size)
        best_chunk = min(INFERENCE_CHUNKS, key=lambda chunk: statistics.median(infer_s[name, chunk]))
        medians[name] = (statistics.median(train_ms[name]), statistics.median(infer_s[name, best_chunk]),
                         memory["peak_growth_mib"])
        ms, seconds, mib = medians[name]
        print(f"{name:10s} {ms:14.2f} {1000 * arguments.batch_size / ms:10.0f} "
              f"{seconds:11.3f} ({best_chunk:4d}) {mib:18.1f}")
    if "PyTorch" in medians:
        ratios = [ours / theirs for ours, theirs in zip(train_ms["normnet"], train_ms["PyTorch"])]
        print(f"ratio normnet/PyTorch: training {medians['normnet'][0] / medians['PyTorch'][0]:.2f} "
              f"(per repetition: {', '.join(f'{r:.2f}' for r in ratios)}), "
              f"inference {medians['normnet'][1] / medians['PyTorch'][1]:.2f}, "
              f"peak memory {medians['normnet'][2] / max(medians['PyTorch'][2], 1e-9):.2f}")
        # The machine drifts by tens of percent within minutes; the paired ratios of the
        # repetitions (each normnet turn against the PyTorch turn right after it) say how far
        # the median ratio can be trusted.
        low, middle, high = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else ratios * 3
        print(f"training ratio per repetition: median {statistics.median(ratios):.2f}, "
              f"quartiles {low:.2f} – {high:.2f}, {sum(r <= 1 for r in ratios)} of {len(ratios)} at most 1")
    else:
        print("PyTorch is not installed: pip install torch==2.13.0 to compare")


if __name__ == "__main__":
    main()
