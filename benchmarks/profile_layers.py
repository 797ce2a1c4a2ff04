"""Where a training step's time goes: forward and backward time of every layer of a model.

    python benchmarks/profile_layers.py [--model lenet|allconv] [--steps 30] [--batch-size 64]

Runs training steps (float32, SGD with momentum, random images) and prints the mean time of
each layer's forward and backward pass, in milliseconds, with the optimizer updates included
in the backward pass of trainable layers (that is where they happen). A measurement, not a test.
"""
import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from framework.models import build_allconv, build_lenet  # noqa: E402


def profile(network, images, labels, steps, warmup=3):
    forward = np.zeros(len(network.layers))
    backward = np.zeros(len(network.layers))
    for step in range(warmup + steps):
        counted = step >= warmup
        tensor = images
        for index, layer in enumerate(network.layers):
            started = time.perf_counter()
            tensor = layer.forward(tensor)
            forward[index] += (time.perf_counter() - started) * counted
        network.loss_layer.forward(tensor, labels)
        error = network.loss_layer.backward(labels)
        for index in reversed(range(len(network.layers))):
            started = time.perf_counter()
            error = network.layers[index].backward(error)
            backward[index] += (time.perf_counter() - started) * counted
    return 1000 * forward / steps, 1000 * backward / steps


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=["lenet", "allconv"], default="lenet")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=64)
    arguments = parser.parse_args()
    rng = np.random.default_rng(0)
    builder = build_lenet if arguments.model == "lenet" else build_allconv
    network = builder(optimizer="momentum", learning_rate=0.01, dtype=np.float32, rng=rng)
    images = rng.random((arguments.batch_size, 1, 28, 28), dtype=np.float32)
    labels = np.eye(10, dtype=np.float32)[rng.integers(0, 10, arguments.batch_size)]
    forward, backward = profile(network, images, labels, arguments.steps)
    print(f"{arguments.model}, batch {arguments.batch_size}, float32, mean of {arguments.steps} steps (ms)")
    print(f"{'':3s} {'layer':20s} {'forward':>8s} {'backward':>9s}")
    for index, layer in enumerate(network.layers):
        print(f"{index:3d} {type(layer).__name__:20s} {forward[index]:8.3f} {backward[index]:9.3f}")
    print(f"{'':3s} {'total':20s} {forward.sum():8.3f} {backward.sum():9.3f}   step {forward.sum() + backward.sum():.2f}")


if __name__ == "__main__":
    main()
