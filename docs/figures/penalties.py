"""Draws penalties.png: one unit's penalty under L1, L2 and Norm Loss against its norm, and the
change of that norm in one decoupled SGD step. Run from the repository's top folder:

    python docs/figures/penalties.py

The curves come from the regularizers themselves, applied to a unit w = r·u (u a fixed unit
vector of 16 weights, r its norm).
"""
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from regularizers import L1Regularizer, L2Regularizer, NormLoss

ALPHA = 1.0
LEARNING_RATE = 0.05
WEIGHTS_PER_UNIT = 16


def main():
    direction = np.ones((1, WEIGHTS_PER_UNIT)) / np.sqrt(WEIGHTS_PER_UNIT)
    norms = np.linspace(0.0, 2.0, 401)
    regularizers = {"L2": L2Regularizer(ALPHA), "L1": L1Regularizer(ALPHA), "Norm Loss": NormLoss(ALPHA)}
    figure, (penalty_axis, step_axis) = plt.subplots(1, 2, figsize=(9, 3.4))
    for name, regularizer in regularizers.items():
        penalties = [regularizer.norm(r * direction) for r in norms]
        steps = [-LEARNING_RATE * float(np.sum(regularizer.calculate_gradient(r * direction) * direction))
                 for r in norms]
        penalty_axis.plot(norms, penalties, label=name)
        step_axis.plot(norms, steps, label=name)
    penalty_axis.legend(frameon=False)
    penalty_axis.set(xlabel="norm ‖w_o‖ of one unit's weights", ylabel="penalty norm(w)",
                     title=f"penalty (α = {ALPHA:g}, {WEIGHTS_PER_UNIT} weights)", ylim=(0, 4.5))
    step_axis.axhline(0, color="grey", linewidth=0.8)
    step_axis.axvline(1, color="grey", linewidth=0.8, linestyle=":")
    step_axis.set(xlabel="norm ‖w_o‖ of one unit's weights", ylabel="change of ‖w_o‖",
                  title=f"one shrinkage step, η = {LEARNING_RATE:g}", ylim=(-0.25, 0.12))
    figure.tight_layout()
    figure.savefig(Path(__file__).with_name("penalties.png"), dpi=120)


if __name__ == "__main__":
    main()
