"""Time the fast Conv and Pooling (layers.fast) at the shapes of LeNet (batch 64, float32), beside PyTorch if installed.

    python3 benchmarks/bench_layers.py [--repetitions 200] [--batch 64] [--threads N]

For every layer: median forward and backward time per batch over alternating
repetitions (normnet, then PyTorch, then normnet, ...; timings on a shared
machine drift by tens of percent over minutes, so only alternating runs in one
process compare fairly), and the ratio normnet / PyTorch of forward + backward.
PyTorch runs the same layer on the same numbers; it is never a dependency of
normnet, only a yardstick here.

Layout column: "C" feeds normnet ordinary C-ordered arrays (b, c, y, x) as
input and error. "batch-last" feeds arrays whose memory is ordered (c, y, x, b),
the layout that Conv returns and that Pooling and the activations keep, i.e.
what conv2 and the pools receive inside a normnet LeNet (see layers/fast/conv.py).
conv1 takes the images straight from the data (C order) and, as the first
layer, computes no input gradient (``compute_input_gradient = False``); PyTorch
likewise gets an input that does not require a gradient there.
"""
import argparse
import os
import time

import numpy as np

from layers.fast import Conv, Pooling
from threads import add_threads_option, restart_with_threads

try:
    import torch
except ImportError:  # PyTorch is optional: without it only normnet is timed.
    torch = None


def batch_last(array):
    """The same values, stored in (c, y, x, b) memory order, still shaped (b, c, y, x)."""
    return np.ascontiguousarray(array.transpose(1, 2, 3, 0)).transpose(3, 0, 1, 2)


def layer_cases(batch):
    """(name, layout, make the normnet layer, input shape, input gradient needed, torch function)."""
    def conv(channels, kernels):
        return lambda: Conv((1, 1), (channels, 5, 5), kernels, dtype=np.float32, rng=np.random.default_rng(0))

    def torch_conv(x, layer):
        return torch.nn.functional.conv2d(x, layer["weights"], layer["bias"], padding="same")

    def torch_pool(x, layer):
        return torch.nn.functional.max_pool2d(x, 2, 2)

    def pool():
        return Pooling((2, 2), (2, 2))

    return [
        ("conv1 1->6 28x28 5x5", "C", conv(1, 6), (batch, 1, 28, 28), False, torch_conv),
        ("conv1 1->6 28x28 5x5 +dx", "C", conv(1, 6), (batch, 1, 28, 28), True, torch_conv),
        ("conv2 6->16 14x14 5x5", "batch-last", conv(6, 16), (batch, 6, 14, 14), True, torch_conv),
        ("conv2 6->16 14x14 5x5", "C", conv(6, 16), (batch, 6, 14, 14), True, torch_conv),
        ("pool 2x2/2 6x28x28", "batch-last", pool, (batch, 6, 28, 28), True, torch_pool),
        ("pool 2x2/2 6x28x28", "C", pool, (batch, 6, 28, 28), True, torch_pool),
        ("pool 2x2/2 16x14x14", "batch-last", pool, (batch, 16, 14, 14), True, torch_pool),
        ("pool 2x2/2 16x14x14", "C", pool, (batch, 16, 14, 14), True, torch_pool),
    ]


def time_normnet(layer, input_tensor, error_tensor):
    start = time.perf_counter()
    layer.forward(input_tensor)
    middle = time.perf_counter()
    layer.backward(error_tensor)
    return middle - start, time.perf_counter() - middle


def time_torch(function, parameters, input_tensor, error_tensor):
    start = time.perf_counter()
    output = function(input_tensor, parameters)
    middle = time.perf_counter()
    wanted = [tensor for tensor in [input_tensor, *parameters.values()] if tensor.requires_grad]
    torch.autograd.grad(output, wanted, error_tensor)
    return middle - start, time.perf_counter() - middle


def run_case(case, repetitions, rng):
    name, layout, make_layer, input_shape, input_gradient, torch_function = case
    layer = make_layer()
    if isinstance(layer, Conv):
        layer.compute_input_gradient = input_gradient
    input_tensor = rng.standard_normal(input_shape).astype(np.float32)
    output_shape = layer.forward(input_tensor).shape
    error_tensor = rng.standard_normal(output_shape).astype(np.float32)
    if layout == "batch-last":
        input_tensor, error_tensor = batch_last(input_tensor), batch_last(error_tensor)

    timings = {"normnet": [], "torch": []}
    if torch is not None:
        torch_input = torch.from_numpy(np.ascontiguousarray(input_tensor)).requires_grad_(input_gradient)
        torch_error = torch.from_numpy(np.ascontiguousarray(error_tensor))
        parameters = {}
        if isinstance(layer, Conv):
            parameters = {"weights": torch.from_numpy(layer.weights.copy()).requires_grad_(True),
                          "bias": torch.from_numpy(layer.bias.copy()).requires_grad_(True)}
    for repetition in range(repetitions + 5):  # the first 5 warm up caches and buffers
        normnet = time_normnet(layer, input_tensor, error_tensor)
        if repetition >= 5:
            timings["normnet"].append(normnet)
        if torch is not None:
            pytorch = time_torch(torch_function, parameters, torch_input, torch_error)
            if repetition >= 5:
                timings["torch"].append(pytorch)
    return name, layout, {key: np.median(np.array(value), axis=0) * 1e3 for key, value in timings.items() if value}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repetitions", type=int, default=200)
    parser.add_argument("--batch", type=int, default=64)
    add_threads_option(parser)
    arguments = parser.parse_args()
    restart_with_threads(arguments.threads)
    rng = np.random.default_rng(0)
    if torch is not None:
        print(f"PyTorch {torch.__version__}, {torch.get_num_threads()} threads; NumPy {np.__version__}, "
              f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}")
    else:
        print(f"NumPy {np.__version__}; PyTorch not installed, timing normnet only")
    print(f"batch {arguments.batch}, float32, median of {arguments.repetitions} alternating repetitions, ms per batch")
    header = f"{'layer':26} {'layout':10} {'fwd':>6} {'bwd':>6} {'total':>6}"
    if torch is not None:
        header += f" | {'torch fwd':>9} {'bwd':>6} {'total':>6} | {'ratio':>5}"
    print(header)
    for case in layer_cases(arguments.batch):
        name, layout, medians = run_case(case, arguments.repetitions, rng)
        forward, backward = medians["normnet"]
        line = f"{name:26} {layout:10} {forward:6.3f} {backward:6.3f} {forward + backward:6.3f}"
        if "torch" in medians:
            torch_forward, torch_backward = medians["torch"]
            ratio = (forward + backward) / (torch_forward + torch_backward)
            line += f" | {torch_forward:9.3f} {torch_backward:6.3f} {torch_forward + torch_backward:6.3f} | {ratio:5.2f}"
        print(line, flush=True)


if __name__ == "__main__":
    main()
