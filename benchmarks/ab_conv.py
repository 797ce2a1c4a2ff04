"""The fast Conv of an earlier commit against this tree's, alternating in one process.

    python benchmarks/ab_conv.py --against COMMIT [--threads N] [--cpu-time] [--repetitions 15]
    python benchmarks/ab_conv.py --against COMMIT --network {lenet,allconv} [...]

Both versions of ``layers/fast/conv.py`` are imported side by side (the earlier one from
``git show COMMIT:layers/fast/conv.py``, into a temporary package) and time forward plus
backward on the same inputs, taking turns, on the convolutions of LeNet, the all-conv network
and a few more; with ``--network``, whole training steps of that network (Adam, batch 64, as
``bench_networks.py`` builds it) built twice, once with each Conv. Alternating in one process cancels most of the
machine's drift, which a before-and-after of whole benchmark runs cannot. Prints the ratio
new/old (below 1: this tree is faster). A measurement, not a test.
"""
import argparse
import importlib
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

REPOSITORY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPOSITORY)

from threads import add_threads_option, process_lines, restart_with_threads  # noqa: E402

# (channels, kernels, image size, batch, kernel size, stride, first layer: no ∂L/∂x, batch-first input)
LAYERS = [(1, 6, 28, 64, 5, 1, True), (6, 16, 14, 64, 5, 1, False), (1, 16, 28, 64, 3, 1, True),
          (16, 16, 28, 64, 3, 2, False), (16, 32, 14, 64, 3, 1, False), (32, 32, 14, 64, 3, 2, False),
          (32, 10, 7, 64, 1, 1, False), (16, 16, 28, 64, 3, 1, False), (32, 32, 14, 64, 3, 1, False),
          (64, 64, 8, 64, 3, 1, False), (3, 16, 32, 64, 3, 1, True), (16, 16, 28, 64, 5, 1, False),
          (3, 16, 32, 64, 5, 1, True)]


def old_conv_class(commit):
    """The fast Conv class as of ``commit``, imported from a temporary package (removed again:
    once imported, the module lives in memory)."""
    source = subprocess.run(["git", "-C", REPOSITORY, "show", f"{commit}:layers/fast/conv.py"],
                            capture_output=True, text=True, check=True).stdout
    with tempfile.TemporaryDirectory(prefix="normnet-ab-") as folder:
        os.makedirs(os.path.join(folder, "earlier"))
        open(os.path.join(folder, "earlier", "__init__.py"), "w").close()
        with open(os.path.join(folder, "earlier", "conv.py"), "w") as file:
            file.write(source)
        sys.path.insert(0, folder)
        try:
            return importlib.import_module("earlier.conv").Conv
        finally:
            sys.path.remove(folder)


def alternate(run, repetitions, clock, calls):
    """Median milliseconds per call of run("old") and run("new"), taking turns."""
    times = {"old": [], "new": []}
    for repetition in range(repetitions):
        for name in ("old", "new") if repetition % 2 else ("new", "old"):
            started = clock()
            for _ in range(calls):
                run(name)
            times[name].append((clock() - started) / calls * 1000)
    return np.median(times["old"]), np.median(times["new"])


def compare_networks(model, Old, New, repetitions, clock):
    """Training steps of ``model`` (benchmarks/networks.py: Adam, L2, random batches of 64 of
    MNIST-shaped images) with the earlier Conv against this tree's."""
    from networks import MODELS, Replay

    rng = np.random.default_rng(1)
    prepared = [(rng.random((64, 1, 28, 28), dtype=np.float32), np.eye(10, dtype=np.float32)[labels], labels)
                for labels in rng.integers(0, 10, (8, 64))]

    def build(conv_class):
        network = MODELS[model]()
        network.data_layer = Replay(prepared)
        for index, layer in enumerate(network.layers):
            if isinstance(layer, New) and conv_class is not New:
                twin = conv_class(layer.stride_shape, layer.convolution_shape, layer.num_kernels, dtype=np.float32)
                twin.weights, twin.bias = layer.weights, layer.bias
                twin.restore_optimizers(layer.weights_optimizer, layer.bias_optimizer)
                twin.compute_input_gradient = layer.compute_input_gradient  # each version its own blocks
                network.layers[index] = twin
        return network

    networks = {"old": build(Old), "new": build(New)}
    for network in networks.values():
        network.train(3)
    old, new = alternate(lambda name: networks[name].train(1), repetitions, clock, 10)
    print(f"{model} training step: old {old:.2f} ms  new {new:.2f} ms  new/old {new / old:.2f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", required=True, help="the commit whose fast Conv to compare with")
    parser.add_argument("--repetitions", type=int, default=15)
    parser.add_argument("--cpu-time", action="store_true", help="time by process CPU time (use with --threads 1)")
    parser.add_argument("--network", choices=["lenet", "allconv"], help="time whole training steps of this network")
    add_threads_option(parser)
    arguments = parser.parse_args()
    restart_with_threads(arguments.threads, arguments.malloc_defaults)
    clock = time.process_time if arguments.cpu_time else time.perf_counter

    from layers.fast.conv import Conv as New
    Old = old_conv_class(arguments.against)
    print(process_lines())
    print(f"forward + backward, float32, median of {arguments.repetitions} alternating repetitions "
          f"({'CPU' if arguments.cpu_time else 'wall-clock'} time), old = {arguments.against}")
    if arguments.network:
        compare_networks(arguments.network, Old, New, arguments.repetitions, clock)
        return
    rng = np.random.default_rng(0)
    for channels, kernels, size, batch, kernel, stride, first in LAYERS:
        layers = {}
        for name, cls in (("old", Old), ("new", New)):
            layers[name] = cls((stride, stride), (channels, kernel, kernel), kernels, dtype=np.float32,
                               rng=np.random.default_rng(0))
            layers[name].compute_input_gradient = not first
        if first:  # the data: batch-first, C order
            images = rng.standard_normal((batch, channels, size, size), dtype=np.float32)
        else:  # another fast layer's output: batch-last in memory
            images = rng.standard_normal((channels, size, size, batch), dtype=np.float32).transpose(3, 0, 1, 2)
        out_shape = layers["new"].forward(images).shape
        errors = rng.standard_normal(out_shape[1:] + (batch,), dtype=np.float32).transpose(3, 0, 1, 2)

        def run(name):
            layers[name].forward(images)
            layers[name].backward(errors)

        old, new = alternate(run, arguments.repetitions, clock, 5)
        print(f"{channels:>2}->{kernels:<2} {size}x{size} {kernel}x{kernel}/{stride} b{batch}"
              f"{' (first layer)' if first else '':14} old {old:7.3f} ms  new {new:7.3f} ms  new/old {new / old:.2f}")


if __name__ == "__main__":
    main()
