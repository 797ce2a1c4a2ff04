"""What the whole-network benchmarks share: the models, their PyTorch twins, batches, timed
training and inference, and peak memory measured in a child process.

The PyTorch twin of a normnet network is built *from* that network, layer by layer, with
its initial parameters copied: the same architecture, the same layer order and the same
initial weights, so both train the same function from the same start. normnet's L2
shrinkage with Adam (w ← w − η·α·w) is AdamW's decoupled weight decay, on the kernels of
Conv and FullyConnected only (normnet never regularizes biases or batch normalization's γ).
"""
import json
import os
import subprocess
import sys
import time

import numpy as np

REPOSITORY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPOSITORY)

from framework.models import build_allconv, build_lenet  # noqa: E402

LEARNING_RATE = 1e-3
ALPHA = 4e-4

# name → builder of the normnet network (float32, Adam, L2 4e-4, seeded).
MODELS = {
    "lenet": lambda: build_lenet(optimizer="adam", learning_rate=LEARNING_RATE, regularizer="l2", alpha=ALPHA,
                                 dtype=np.float32, rng=np.random.default_rng(0)),
    "lenet-bn": lambda: build_lenet(optimizer="adam", learning_rate=LEARNING_RATE, regularizer="l2", alpha=ALPHA,
                                    batch_norm=True, dtype=np.float32, rng=np.random.default_rng(0)),
    "allconv": lambda: build_allconv(optimizer="adam", learning_rate=LEARNING_RATE, regularizer="l2", alpha=ALPHA,
                                     dtype=np.float32, rng=np.random.default_rng(0)),
}

# Wall-clock time by default; a benchmark's ``--cpu-time`` switches to process CPU time.
clock = time.perf_counter


def use_cpu_time():
    """Time by this process's CPU time: with one thread per library, that counts only the
    benchmark's own work, steady even while other programs keep the cores busy."""
    global clock
    clock = time.process_time


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

def normnet_model(model, prepared):
    network = MODELS[model]()
    network.data_layer = Replay(prepared)
    return network


def normnet_train(network, iterations):
    start = clock()
    network.train(iterations)
    return clock() - start


def normnet_infer(network, images, chunk, workers=None):
    """predict on ``workers`` threads (None: every core, as PyTorch uses all its threads)."""
    start = clock()
    network.predict(images, batch_size=chunk, workers=workers)
    return clock() - start


# -- PyTorch --------------------------------------------------------------------------------

def torch_twin(network):
    """An ``nn.Sequential`` with the layers of ``network`` in order and its current parameters.

    SoftMax is left out: PyTorch's cross entropy takes the scores before it.
    """
    import torch
    from torch import nn

    class GlobalAverage(nn.Module):
        def forward(self, tensor):
            return tensor.mean(dim=(2, 3))

    modules = []
    for layer in network.layers:
        kind = type(layer).__name__
        if kind == "Conv":
            convolution = nn.Conv2d if len(layer.convolution_shape) == 3 else nn.Conv1d
            channels, *kernel = layer.convolution_shape
            # "same" padding then a stride is symmetric padding m // 2 for odd kernels m.
            module = convolution(channels, layer.num_kernels, tuple(kernel), stride=tuple(layer.stride_shape),
                                 padding=tuple(size // 2 for size in kernel))
        elif kind == "FullyConnected":
            module = nn.Linear(layer.input_size, layer.output_size)
        elif kind == "BatchNormalization":
            module = nn.BatchNorm2d(layer.channels, eps=layer.epsilon, momentum=1 - layer.decay)
        elif kind == "Pooling":
            module = nn.MaxPool2d(tuple(layer.pooling_shape), tuple(layer.stride_shape))
        elif kind == "ReLU":
            module = nn.ReLU()
        elif kind == "Flatten":
            module = nn.Flatten()
        elif kind == "GlobalAveragePooling":
            module = GlobalAverage()
        elif kind == "Dropout":
            module = nn.Dropout(1 - layer.probability)
        elif kind == "SoftMax":
            continue
        else:
            raise ValueError(f"no PyTorch twin for a {kind} layer")
        if getattr(layer, "trainable", False):
            with torch.no_grad():
                module.weight.copy_(torch.from_numpy(np.array(layer.weights, dtype=np.float32)))
                module.bias.copy_(torch.from_numpy(np.array(layer.bias, dtype=np.float32)))
        modules.append(module)
    return nn.Sequential(*modules)


def torch_model(model, prepared):
    import torch

    twin = torch_twin(MODELS[model]())
    decayed = [module.weight for module in twin if isinstance(module, (torch.nn.Conv2d, torch.nn.Conv1d,
                                                                        torch.nn.Linear))]
    others = [parameter for parameter in twin.parameters() if all(parameter is not kept for kept in decayed)]
    optimizer = torch.optim.AdamW([{"params": decayed, "weight_decay": ALPHA},
                                   {"params": others, "weight_decay": 0.0}], lr=LEARNING_RATE)
    tensors = [(torch.from_numpy(images), torch.from_numpy(labels)) for images, _, labels in prepared]
    return {"model": twin, "optimizer": optimizer, "batches": tensors, "position": 0}


def torch_train(state, iterations):
    import torch.nn.functional as functional

    model, optimizer, tensors = state["model"], state["optimizer"], state["batches"]
    model.train()
    start = clock()
    for _ in range(iterations):
        images, labels = tensors[state["position"] % len(tensors)]
        state["position"] += 1
        optimizer.zero_grad(set_to_none=True)
        loss = functional.cross_entropy(model(images), labels)
        loss.backward()
        optimizer.step()
    return clock() - start


def torch_infer(state, images, chunk):
    import torch

    model = state["model"]
    model.eval()
    start = clock()
    with torch.no_grad():
        for begin in range(0, len(images), chunk):
            model(torch.from_numpy(images[begin:begin + chunk])).argmax(dim=1)
    return clock() - start


# -- memory (one child process per framework) -------------------------------------------------

def _resident_kib(field):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def memory_child(framework, model, iterations, batch_size, load):
    """Print the peak growth of the resident set while building and training ``model`` (JSON).

    ``load()`` gives the data set; it and the library are loaded before the baseline.
    """
    dataset = load()
    prepared = batches(dataset.train_images, dataset.train_labels, batch_size, 20)
    if framework == "torch":
        import torch  # noqa: F401  (the library itself is not what we measure)
    # From here on: the model, its optimizer state, activations and buffers of training.
    with open("/proc/self/clear_refs", "w") as clear_refs:
        clear_refs.write("5")  # resets VmHWM, the peak resident set, to the current size
    baseline = _resident_kib("VmRSS")
    if framework == "normnet":
        normnet_train(normnet_model(model, prepared), iterations)
    else:
        torch_train(torch_model(model, prepared), iterations)
    peak = _resident_kib("VmHWM")
    print(json.dumps({"peak_growth_mib": (peak - baseline) / 1024, "peak_rss_mib": peak / 1024}))


def measure_memory(script, framework, model, iterations, batch_size):
    """Run ``script --memory-child framework --model model`` and return its JSON line."""
    output = subprocess.run([sys.executable, script, "--memory-child", framework, "--model", model,
                             "--iterations", str(iterations), "--batch-size", str(batch_size)],
                            capture_output=True, text=True, check=True).stdout
    return json.loads(output.strip().splitlines()[-1])
