"""Train-step and inference speed of the modified LeNet: normnet against PyTorch on the CPU.

    python benchmarks/bench_lenet.py [--iterations 100] [--repetitions 5] [--batch-size 64] [--threads N]
                                     [--cpu-time]

``bench_networks.py`` for the modified LeNet alone (``--model`` names others: ``lenet-bn``,
``allconv``); see that file for what is measured and how.
"""
import sys

from bench_networks import main

if __name__ == "__main__":
    sys.exit(main(default_models=("lenet",), description=__doc__))
