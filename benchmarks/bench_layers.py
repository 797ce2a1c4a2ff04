"""A shape sweep: each fast layer (layers.fast) forward + backward against its PyTorch twin, float32.

    python benchmarks/bench_layers.py [--quick] [--repetitions 7] [--only conv] [--markdown table.md]
                                      [--csv table.csv] [--threads N] [--cpu-time]

Layers: Conv (2-D and 1-D), Pooling, BatchNormalization, GlobalAveragePooling,
FullyConnected, ReLU. The convolutions sample the grid kernels 1x1, 3x3, 5x5; strides
1 and 2; 1 to 64 channels in and out; images of 7 to 32 pixels; batches of 32 to 128
(a hand-picked sample, not the whole product: every kernel and stride, small and large
channel counts, every image size and batch size appear; ``--quick`` keeps a third).

For each shape, normnet and PyTorch run on the same numbers, alternating in one process
(normnet, PyTorch, normnet, ...): a shared machine drifts by tens of percent within
minutes, so only alternating runs compare fairly. One repetition is ``--inner`` calls of
forward + backward (every gradient: input, weights, bias) of one framework; the median
over the repetitions is reported, and the ratio normnet / PyTorch of those medians.

Layouts, as inside a network: a layer that follows a convolution gets its input and error
in the memory layout that the fast Conv hands out ("batch-last", memory order (c, y, x, b));
a first convolution (1 or 3 input channels) gets the images in C order, its error in
the batch-last layout of its own output (as the next layer of a network hands it back),
and computes no input gradient, as in a network (``compute_input_gradient = False``;
PyTorch's input then does not require a gradient either). PyTorch always gets C-ordered (NCHW) tensors.
PyTorch is a yardstick here, never a dependency of normnet.
"""
import argparse
import csv
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from layers.fast import (BatchNormalization, Conv, FullyConnected, GlobalAveragePooling, Pooling,  # noqa: E402
                         ReLU)
from threads import add_threads_option, process_lines, restart_with_threads  # noqa: E402

import torch  # noqa: E402
import torch.nn.functional as functional  # noqa: E402

# (input channels, output channels, kernel, stride, image size, batch); 1-D ones are marked below.
CONV_2D = [
    # 3x3, stride 1
    (1, 16, 3, 1, 28, 64), (3, 16, 3, 1, 32, 64), (3, 32, 3, 1, 32, 128), (8, 8, 3, 1, 7, 32),
    (16, 16, 3, 1, 28, 64), (16, 16, 3, 1, 32, 128), (16, 32, 3, 1, 14, 64), (32, 32, 3, 1, 14, 64),
    (32, 32, 3, 1, 32, 32), (32, 64, 3, 1, 7, 128), (64, 64, 3, 1, 8, 64), (64, 64, 3, 1, 16, 32),
    (64, 32, 3, 1, 14, 64), (6, 16, 3, 1, 14, 64),
    # 3x3, stride 2
    (3, 16, 3, 2, 32, 64), (16, 16, 3, 2, 28, 64), (32, 32, 3, 2, 14, 64), (16, 32, 3, 2, 32, 32),
    (32, 64, 3, 2, 8, 64), (64, 64, 3, 2, 16, 128), (1, 8, 3, 2, 28, 128),
    # 5x5, stride 1
    (1, 6, 5, 1, 28, 64), (6, 16, 5, 1, 14, 64), (3, 16, 5, 1, 32, 64), (16, 32, 5, 1, 14, 32),
    (32, 32, 5, 1, 7, 128), (64, 64, 5, 1, 8, 32), (16, 16, 5, 1, 28, 64),
    # 5x5, stride 2
    (16, 16, 5, 2, 28, 64), (3, 16, 5, 2, 32, 128), (32, 64, 5, 2, 14, 32),
    # 1x1, stride 1 and 2
    (32, 10, 1, 1, 7, 64), (16, 32, 1, 1, 14, 64), (64, 64, 1, 1, 16, 64), (64, 16, 1, 1, 32, 32),
    (3, 16, 1, 1, 32, 64), (16, 32, 1, 2, 14, 64), (64, 64, 1, 2, 16, 32),
]
# (input channels, output channels, kernel, stride, length, batch)
CONV_1D = [(1, 16, 3, 1, 32, 64), (16, 16, 3, 1, 32, 128), (32, 64, 3, 2, 28, 64), (8, 16, 5, 1, 32, 64),
           (16, 32, 5, 2, 32, 32), (32, 32, 1, 1, 16, 64)]
# (batch, channels, size, window, stride)
POOLING = [(64, 6, 28, 2, 2), (64, 16, 14, 2, 2), (128, 32, 16, 2, 2), (32, 64, 32, 2, 2), (64, 16, 15, 3, 2),
           (64, 32, 14, 3, 1)]
# input shapes; 2-D ones are vectors (batch, features)
BATCH_NORM = [(64, 16, 28, 28), (64, 32, 14, 14), (128, 64, 7, 7), (32, 16, 32, 32), (64, 120), (128, 512)]
GLOBAL_AVERAGE = [(64, 10, 7, 7), (64, 32, 7, 7), (128, 64, 8, 8), (32, 16, 32, 32)]
# (batch, inputs, outputs)
FULLY_CONNECTED = [(64, 784, 120), (64, 120, 84), (64, 84, 10), (128, 512, 512), (32, 1024, 64)]
RELU = [(64, 16, 28, 28), (64, 32, 14, 14), (128, 64, 8, 8), (64, 120)]


def batch_last(array):
    """The same values, stored in (c, ..., b) memory order, still shaped (b, c, ...)."""
    return np.ascontiguousarray(np.moveaxis(array, 0, -1)).transpose((array.ndim - 1,) + tuple(range(array.ndim - 1)))


class Case:
    """One shape of one layer: how to build the normnet layer and its PyTorch twin's function."""

    def __init__(self, layer, shape, make_layer, input_shape, torch_function, layout="batch-last",
                 input_gradient=True, parameters=()):
        self.layer, self.shape, self.make_layer, self.input_shape = layer, shape, make_layer, input_shape
        self.torch_function, self.layout, self.input_gradient = torch_function, layout, input_gradient
        self.parameters = parameters  # names of the normnet attributes PyTorch gets as trainable tensors


def conv_cases(quick):
    cases = []
    for spatial, shapes in (("2-D", CONV_2D), ("1-D", CONV_1D)):
        for index, (channels, kernels, size, stride, image, batch) in enumerate(
                (c, k, m, s, x, b) for c, k, m, s, x, b in shapes):
            if quick and index % 3:
                continue
            first = channels <= 3  # a first layer: images in C order, no input gradient
            two_d = spatial == "2-D"
            kernel_shape = (channels, size, size) if two_d else (channels, size)
            strides = (stride, stride) if two_d else (stride,)
            input_shape = (batch, channels, image, image) if two_d else (batch, channels, image)
            conv = functional.conv2d if two_d else functional.conv1d

            def make(kernel_shape=kernel_shape, strides=strides, kernels=kernels):
                return Conv(strides, kernel_shape, kernels, dtype=np.float32, rng=np.random.default_rng(0))

            def torch_conv(x, parameters, conv=conv, stride=stride, padding=size // 2):
                # For odd kernels, "same" padding then a stride is PyTorch's symmetric padding m // 2.
                return conv(x, parameters["weights"], parameters["bias"], stride=stride, padding=padding)

            label = (f"{channels}->{kernels} {image}x{image} {size}x{size}/{stride}" if two_d
                     else f"{channels}->{kernels} {image} k{size}/{stride}")
            cases.append(Case(f"Conv {spatial}", f"{label} b{batch}" + ("" if not first else " (no dx)"), make,
                              input_shape, torch_conv, layout="C" if first else "batch-last",
                              input_gradient=not first, parameters=("weights", "bias")))
    return cases


def other_cases(quick):
    def keep(items):
        return items[:2] if quick else items

    cases = []
    for batch, channels, size, window, stride in keep(POOLING):
        cases.append(Case("Pooling", f"{channels}x{size}x{size} {window}x{window}/{stride} b{batch}",
                          lambda window=window, stride=stride: Pooling((stride, stride), (window, window)),
                          (batch, channels, size, size),
                          lambda x, p, window=window, stride=stride: functional.max_pool2d(x, window, stride)))
    for shape in keep(BATCH_NORM):
        def torch_batch_norm(x, p):
            return functional.batch_norm(x, p["running_mean"], p["running_variance"], p["weights"], p["bias"],
                                         training=True, momentum=0.2, eps=1e-11)
        cases.append(Case("BatchNormalization", "x".join(map(str, shape[1:])) + f" b{shape[0]}",
                          lambda channels=shape[1]: BatchNormalization(channels, dtype=np.float32), shape,
                          torch_batch_norm, layout="batch-last" if len(shape) > 2 else "C",
                          parameters=("weights", "bias")))
    for shape in keep(GLOBAL_AVERAGE):
        cases.append(Case("GlobalAveragePooling", "x".join(map(str, shape[1:])) + f" b{shape[0]}",
                          GlobalAveragePooling, shape, lambda x, p: x.mean(dim=(2, 3))))
    for batch, inputs, outputs in keep(FULLY_CONNECTED):
        cases.append(Case("FullyConnected", f"{inputs}->{outputs} b{batch}",
                          lambda i=inputs, o=outputs: FullyConnected(i, o, dtype=np.float32,
                                                                     rng=np.random.default_rng(0)),
                          (batch, inputs), lambda x, p: functional.linear(x, p["weights"], p["bias"]),
                          layout="C", parameters=("weights", "bias")))
    for shape in keep(RELU):
        cases.append(Case("ReLU", "x".join(map(str, shape[1:])) + f" b{shape[0]}", ReLU, shape,
                          lambda x, p: functional.relu(x), layout="batch-last" if len(shape) > 2 else "C"))
    return cases


# Wall-clock time by default; ``--cpu-time`` switches to the process's CPU time (see main).
clock = time.perf_counter


def normnet_step(layer, input_tensor, error_tensor, inner):
    start = clock()
    for _ in range(inner):
        layer.forward(input_tensor)
        layer.backward(error_tensor)
    return (clock() - start) / inner


def torch_step(function, parameters, input_tensor, error_tensor, inner):
    wanted = [tensor for tensor in [input_tensor, *parameters.values()] if tensor.requires_grad]
    start = clock()
    for _ in range(inner):
        torch.autograd.grad(function(input_tensor, parameters), wanted, error_tensor)
    return (clock() - start) / inner


def run_case(case, repetitions, rng, target_seconds=0.03):
    """Median seconds per forward + backward of normnet and of PyTorch, alternating."""
    layer = case.make_layer()
    if isinstance(layer, Conv):
        layer.compute_input_gradient = case.input_gradient
    input_tensor = rng.standard_normal(case.input_shape).astype(np.float32)
    error_tensor = rng.standard_normal(layer.forward(input_tensor).shape).astype(np.float32)
    if case.layout == "batch-last":
        input_tensor, error_tensor = batch_last(input_tensor), batch_last(error_tensor)
    elif isinstance(layer, Conv):  # a first layer: the data in C order, the error as its output
        error_tensor = batch_last(error_tensor)
    torch_input = torch.from_numpy(np.ascontiguousarray(input_tensor)).requires_grad_(case.input_gradient)
    torch_error = torch.from_numpy(np.ascontiguousarray(error_tensor))
    parameters = {name: torch.from_numpy(np.array(getattr(layer, name))).requires_grad_(True)
                  for name in case.parameters}
    if isinstance(layer, BatchNormalization):
        parameters["running_mean"] = torch.zeros(layer.channels)
        parameters["running_variance"] = torch.ones(layer.channels)

    # Warm up (buffers, caches, BLAS threads) and choose the calls per repetition.
    once = normnet_step(layer, input_tensor, error_tensor, 2) + torch_step(
        case.torch_function, parameters, torch_input, torch_error, 2)
    inner = max(1, min(50, int(2 * target_seconds / max(once, 1e-6))))
    timings = {"normnet": [], "torch": []}
    for _ in range(repetitions):
        timings["normnet"].append(normnet_step(layer, input_tensor, error_tensor, inner))
        timings["torch"].append(torch_step(case.torch_function, parameters, torch_input, torch_error, inner))
    normnet, pytorch = statistics.median(timings["normnet"]), statistics.median(timings["torch"])
    paired = statistics.median(ours / theirs for ours, theirs in zip(timings["normnet"], timings["torch"]))
    return normnet, pytorch, paired


def load_average():
    try:
        return os.getloadavg()[0]
    except OSError:
        return float("nan")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a third of the convolutions, two shapes per other layer")
    parser.add_argument("--repetitions", type=int, default=7)
    parser.add_argument("--only", help="only layers whose name contains this (e.g. 'conv', 'batch')")
    parser.add_argument("--markdown", help="also write the table to this markdown file")
    parser.add_argument("--csv", help="also write the table to this CSV file")
    parser.add_argument("--cpu-time", action="store_true",
                        help="time by the process's CPU time, not the wall clock: with --threads 1 this counts "
                             "only this process's own work, steady even while other programs load the machine")
    add_threads_option(parser)
    arguments = parser.parse_args()
    restart_with_threads(arguments.threads, arguments.malloc_defaults)
    if arguments.cpu_time:
        global clock
        clock = time.process_time
    rng = np.random.default_rng(0)
    cases = conv_cases(arguments.quick) + other_cases(arguments.quick)
    if arguments.only:
        cases = [case for case in cases if arguments.only.lower() in case.layer.lower()]

    print(f"PyTorch {torch.__version__} ({torch.get_num_threads()} threads), NumPy {np.__version__}, "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}, {os.cpu_count()} cores; "
          f"load average {load_average():.1f} at the start")
    print(process_lines())
    print(f"float32, forward + backward, median of {arguments.repetitions} alternating repetitions, ms per call "
          f"({'CPU' if arguments.cpu_time else 'wall-clock'} time)")
    print(f"{'layer':20} {'shape':34} {'normnet':>8} {'PyTorch':>8} {'ratio':>6} {'paired':>6}")
    rows = []
    for case in cases:
        normnet, pytorch, paired = run_case(case, arguments.repetitions, rng)
        rows.append((case.layer, case.shape, 1e3 * normnet, 1e3 * pytorch, normnet / pytorch, paired))
        print(f"{case.layer:20} {case.shape:34} {1e3 * normnet:8.3f} {1e3 * pytorch:8.3f} "
              f"{normnet / pytorch:6.2f} {paired:6.2f}", flush=True)
    worst = max(rows, key=lambda row: row[4])
    print(f"worst: {worst[0]} {worst[1]}, ratio {worst[4]:.2f}; "
          f"{sum(row[4] <= 1.2 for row in rows)} of {len(rows)} shapes at most 1.2; "
          f"median ratio {statistics.median(row[4] for row in rows):.2f}; load average {load_average():.1f} at the end")
    header = ("layer", "shape", "normnet ms", "PyTorch ms", "ratio", "paired ratio")
    if arguments.csv:
        with open(arguments.csv, "w", newline="") as file:
            writer = csv.writer(file)
            writer.writerow(header)
            writer.writerows([row[:2] + tuple(f"{value:.4g}" for value in row[2:]) for row in rows])
    if arguments.markdown:
        with open(arguments.markdown, "w") as file:
            file.write("| " + " | ".join(header) + " |\n|" + "---|" * len(header) + "\n")
            for row in rows:
                file.write(f"| {row[0]} | {row[1]} | {row[2]:.3f} | {row[3]:.3f} | {row[4]:.2f} | {row[5]:.2f} |\n")


if __name__ == "__main__":
    main()
