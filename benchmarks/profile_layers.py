"""Where a training step's time goes: forward and backward time of every layer of a model.

    python benchmarks/profile_layers.py [--model lenet|allconv] [--steps 30] [--batch-size 64] [--threads N]
                                        [--cpu-time] [--batch-norm] [--torch]

Runs training steps (float32, SGD with momentum, random images) and prints the mean time of
each layer's forward and backward pass, in milliseconds, with the optimizer updates included
in the backward pass of trainable layers (that is where they happen), and the testing-phase
forward pass of each layer (inference). ``--cpu-time`` times by process CPU time (steady on a
busy machine with ``--threads 1``); ``--batch-norm`` profiles LeNet with batch normalization;
``--torch`` profiles the PyTorch twin instead, by operation. A measurement, not a test.
"""
import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from framework.models import build_allconv, build_lenet  # noqa: E402
from threads import add_threads_option, process_lines, restart_with_threads  # noqa: E402

clock = time.perf_counter


def profile(network, images, labels, steps, warmup=3):
    forward = np.zeros(len(network.layers))
    backward = np.zeros(len(network.layers))
    testing = np.zeros(len(network.layers))
    for step in range(warmup + steps):
        counted = step >= warmup
        for layer in network.layers:
            layer.testing_phase = False
        tensor = images
        for index, layer in enumerate(network.layers):
            started = clock()
            tensor = layer.forward(tensor)
            forward[index] += (clock() - started) * counted
        network.loss_layer.forward(tensor, labels)
        error = network.loss_layer.backward(labels)
        for index in reversed(range(len(network.layers))):
            started = clock()
            error = network.layers[index].backward(error)
            backward[index] += (clock() - started) * counted
        tensor = images
        for index, layer in enumerate(network.layers):
            layer.testing_phase = True
            started = clock()
            tensor = layer.forward(tensor)
            testing[index] += (clock() - started) * counted
    return 1000 * forward / steps, 1000 * backward / steps, 1000 * testing / steps


def profile_torch(network, images, labels, steps, warmup=10, rows=12):
    """The PyTorch twin of ``network`` (benchmarks/networks.py) under torch.profiler: the
    operations that take the most time, in ms per training step."""
    import torch
    from torch.profiler import ProfilerActivity, profile as torch_profile

    from networks import torch_twin

    model = torch_twin(network)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    inputs, targets = torch.from_numpy(images), torch.from_numpy(labels.argmax(axis=1))

    def step():
        optimizer.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(model(inputs), targets).backward()
        optimizer.step()

    for _ in range(warmup):
        step()
    with torch_profile(activities=[ProfilerActivity.CPU]) as profiler:
        for _ in range(steps):
            step()
    averages = sorted(profiler.key_averages(), key=lambda event: -event.self_cpu_time_total)
    print(f"PyTorch {torch.__version__} ({torch.get_num_threads()} threads), batch {len(images)}, "
          f"ms per step by operation (self CPU time, torch.profiler), {steps} steps")
    for event in averages[:rows]:
        print(f"{event.key[:50]:50s} {event.self_cpu_time_total / 1000 / steps:8.3f}")
    print(f"{'total':50s} {sum(event.self_cpu_time_total for event in averages) / 1000 / steps:8.3f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=["lenet", "allconv"], default="lenet")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--batch-norm", action="store_true", help="LeNet with batch normalization")
    parser.add_argument("--cpu-time", action="store_true", help="time by process CPU time")
    parser.add_argument("--torch", action="store_true",
                        help="profile the PyTorch twin instead (torch.profiler, AdamW): time per step by operation")
    add_threads_option(parser)
    arguments = parser.parse_args()
    restart_with_threads(arguments.threads, arguments.malloc_defaults)
    if arguments.cpu_time:
        global clock
        clock = time.process_time
    rng = np.random.default_rng(0)
    if arguments.model == "lenet":
        network = build_lenet(optimizer="momentum", learning_rate=0.01, dtype=np.float32, rng=rng,
                              batch_norm=arguments.batch_norm)
    else:
        network = build_allconv(optimizer="momentum", learning_rate=0.01, dtype=np.float32, rng=rng)
    images = rng.random((arguments.batch_size, 1, 28, 28), dtype=np.float32)
    labels = np.eye(10, dtype=np.float32)[rng.integers(0, 10, arguments.batch_size)]
    if arguments.torch:
        profile_torch(network, images, labels, arguments.steps)
        return
    forward, backward, testing = profile(network, images, labels, arguments.steps)
    print(process_lines())
    print(f"{arguments.model}{' with batch norm' * arguments.batch_norm}, batch {arguments.batch_size}, float32, "
          f"mean of {arguments.steps} steps (ms, {'CPU' if arguments.cpu_time else 'wall-clock'} time)")
    print(f"{'':3s} {'layer':20s} {'forward':>8s} {'backward':>9s} {'testing':>8s}")
    for index, layer in enumerate(network.layers):
        print(f"{index:3d} {type(layer).__name__:20s} {forward[index]:8.3f} {backward[index]:9.3f} "
              f"{testing[index]:8.3f}")
    print(f"{'':3s} {'total':20s} {forward.sum():8.3f} {backward.sum():9.3f} {testing.sum():8.3f}   "
          f"step {forward.sum() + backward.sum():.2f}")


if __name__ == "__main__":
    main()
