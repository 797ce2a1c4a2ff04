"""The figures of the teaching notebooks, so that their cells show the ideas and not matplotlib.

Every function draws one figure from numbers a notebook computed and shows it; none computes
anything a reader should see done. The notebooks import this module from their own folder
(``import figures``), in the project and in the student version alike.
"""
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import ListedColormap, LogNorm

plt.rcParams.update({"figure.dpi": 85, "savefig.dpi": 85})

CIRCLE = np.linspace(0, 2 * np.pi, 200)
REGULARIZER_COLORS = {"none": "tab:gray", "L2": "tab:blue", "L1": "tab:orange", "Norm Loss": "tab:green"}


def _unit_circle(ax, label=None):
    ax.plot(np.cos(CIRCLE), np.sin(CIRCLE), "--", color="red", lw=1, label=label)


# -- notebook 1: layers and gradients -------------------------------------------------------

def step_size_sweep(steps, differences):
    """Relative difference of a gradient check against the step h; ``differences``: dtype name → values."""
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for (name, values), marker in zip(differences.items(), "os"):
        ax.loglog(steps, values, marker=marker, label=name)
    ax.loglog(steps, 0.3 * steps**2, "k--", lw=1, label="∝ h² (truncation)")
    ax.loglog(steps, 1e-16 / steps, "k:", lw=1, label="∝ ε/h (rounding, float64)")
    ax.axvline(1e-6, color="C0", alpha=0.4)
    ax.axvline(3e-3, color="C1", alpha=0.4)
    ax.set_ylim(1e-14, 10)
    ax.set_xlabel("finite-difference step h")
    ax.set_ylabel("relative difference (analytic vs numerical)")
    ax.set_title("Gradient check of SoftMax: error vs step size")
    ax.legend(fontsize=8)
    plt.show()


def gradient_check_verdicts(results, tolerance=1e-7):
    """Bars of relative differences (log scale): ``results`` maps layer → {quantity: difference};
    layers whose name contains "bug" are drawn red."""
    names, values, colors = [], [], []
    for layer_name, differences in results.items():
        for quantity, value in differences.items():
            names.append(f"{layer_name}\n{quantity}")
            values.append(max(value, 1e-17))
            colors.append("tab:red" if "bug" in layer_name else "tab:green")
    fig, ax = plt.subplots(figsize=(7, 5.5))
    ax.barh(range(len(values)), values, color=colors)
    ax.set_yticks(range(len(values)), names, fontsize=7)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.axvline(tolerance, color="k", ls="--", lw=1, label=f"tolerance {tolerance:g}")
    ax.set_xlabel("relative difference (log scale)")
    ax.set_title("Gradient check: correct layers (green) vs broken layers (red)")
    ax.legend(loc="lower right")
    plt.tight_layout()
    plt.show()


def analytic_against_numerical(panels):
    """One scatter per panel ``(title, analytic, numerical)``: a correct gradient lies on the diagonal."""
    fig, axes = plt.subplots(1, len(panels), figsize=(3.3 * len(panels), 3.4))
    for ax, (title, analytic, numerical) in zip(np.atleast_1d(axes), panels):
        limit = 1.1 * max(np.abs(analytic).max(), np.abs(numerical).max())
        ax.plot([-limit, limit], [-limit, limit], "k--", lw=1)
        ax.scatter(np.ravel(numerical), np.ravel(analytic), s=14, color="tab:red" if "bug" in title else "tab:green")
        ax.set_xlim(-limit, limit)
        ax.set_ylim(-limit, limit)
        ax.set_aspect("equal")
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("numerical gradient")
    np.atleast_1d(axes)[0].set_ylabel("analytic gradient (backward)")
    plt.tight_layout()
    plt.show()


def loss_and_decision_regions(loss, points, labels, predict, title="Training loss"):
    """The training loss, and the regions a 2-D classifier ``predict`` assigns to each class."""
    grid_x, grid_y = np.meshgrid(np.linspace(-1.2, 1.2, 200), np.linspace(-1.2, 1.2, 200))
    regions = predict(np.c_[grid_x.ravel(), grid_y.ravel()]).reshape(grid_x.shape)
    fig, (ax_loss, ax_regions) = plt.subplots(1, 2, figsize=(11, 4.2))
    ax_loss.plot(loss)
    ax_loss.set_yscale("log")
    ax_loss.set_xlabel("iteration")
    ax_loss.set_ylabel("cross-entropy (mean per point)")
    ax_loss.set_title(title)
    ax_regions.contourf(grid_x, grid_y, regions, levels=[-0.5, 0.5, 1.5, 2.5],
                        cmap=ListedColormap(["#f4b6b6", "#b6cff4", "#b9e6b9"]))
    for k, color in enumerate(["tab:red", "tab:blue", "tab:green"]):
        ax_regions.scatter(*points[labels == k].T, s=10, color=color, label=f"class {k}")
    ax_regions.set_aspect("equal")
    ax_regions.set_xlabel("$x_1$")
    ax_regions.set_ylabel("$x_2$")
    ax_regions.set_title("Learned decision regions")
    ax_regions.legend(fontsize=8, loc="lower right")
    plt.tight_layout()
    plt.show()


# -- notebook 3: regularization and Norm Loss -----------------------------------------------

def _penalty_surface(ax, regularizer, extent=2.0, arrows=True):
    fine = np.linspace(-extent, extent, 121)
    w1, w2 = np.meshgrid(fine, fine)
    units = np.c_[w1.ravel(), w2.ravel()]
    # one unit per grid point: norm() of a one-row kernel is the penalty of that unit
    surface = np.array([regularizer.norm(unit[None, :]) for unit in units]).reshape(w1.shape)
    filled = ax.contourf(w1, w2, surface, levels=20, cmap="viridis")
    ax.contour(w1, w2, surface, levels=10, colors="white", linewidths=0.4, alpha=0.6)
    if arrows:
        coarse = np.linspace(-0.9 * extent, 0.9 * extent, 13)
        q1, q2 = np.meshgrid(coarse, coarse)
        points = np.c_[q1.ravel(), q2.ravel()]
        step = -regularizer.calculate_gradient(points)       # every row a unit of its own
        ax.quiver(points[:, 0], points[:, 1], step[:, 0], step[:, 1], color="white", angles="xy")
    _unit_circle(ax)
    ax.set_aspect("equal")
    ax.set_xlabel("$w_1$")
    ax.set_ylabel("$w_2$")
    return filled


def penalty_surfaces(regularizers):
    """Penalty (colour) and shrinkage direction (arrows) of each regularizer for one unit of two weights."""
    fig, axes = plt.subplots(1, len(regularizers), figsize=(14, 4.4))
    for ax, (name, regularizer) in zip(axes, regularizers.items()):
        filled = _penalty_surface(ax, regularizer)
        fig.colorbar(filled, ax=ax, shrink=0.85, label="penalty")
        ax.set_title(name)
    alpha = next(iter(regularizers.values())).alpha
    fig.suptitle(f"One unit with two weights: penalty (colour), shrinkage direction (arrows), α = {alpha:g}; "
                 "red dashed: the unit circle ‖w‖ = 1", fontsize=11)
    plt.tight_layout()
    plt.show()


def along_a_ray(radius, penalties, radial_gradients, factor):
    """Penalty and radial gradient of each regularizer along the diagonal, and Norm Loss's factor."""
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.9))
    for name in penalties:
        axes[0].plot(radius, penalties[name], color=REGULARIZER_COLORS[name], label=name)
        axes[1].plot(radius, radial_gradients[name], color=REGULARIZER_COLORS[name], label=f"{name} (normnet)")
    axes[1].plot(radius, 2 * radius, ":", color="k", label="weight decay 2w (eq. 5)")
    axes[0].set_ylim(0, 4)
    axes[0].set_title("Penalty along the diagonal (α = 1)")
    axes[0].set_ylabel("penalty")
    axes[1].set_title("Gradient along the diagonal")
    axes[1].set_ylabel("radial component of the gradient")
    axes[1].axhline(0, color="gray", lw=0.8)
    axes[2].plot(radius, factor, color=REGULARIZER_COLORS["Norm Loss"])
    axes[2].fill_between(radius, factor, 0, where=factor < 0, color="tab:green", alpha=0.15, label="< 0: the unit grows")
    axes[2].fill_between(radius, factor, 0, where=factor > 0, color="tab:red", alpha=0.15, label="> 0: the unit shrinks")
    axes[2].axhline(1, color="k", ls=":", lw=1, label="1: plain weight decay")
    axes[2].set_ylim(-3, 1.3)
    axes[2].set_title("Norm Loss factor (1 − 1/‖w‖) on weight decay's 2w")
    axes[2].set_ylabel("factor")
    for ax in axes:
        ax.axvline(1, color="red", ls="--", lw=0.8)
        ax.set_xlabel("unit norm ‖w‖")
        ax.legend(fontsize=8)
    plt.tight_layout()
    plt.show()


def onto_the_oblique_manifold(path):
    """Units of two weights before and after Norm Loss steps; ``path``: (steps, units, 2)."""
    fig, axes = plt.subplots(1, 2, figsize=(10.5, 4.6))
    for ax, kernel, title in [(axes[0], path[0], "before: 5 units of different norms"),
                              (axes[1], path[-1], f"after {len(path) - 1} Norm Loss steps: on the Oblique manifold")]:
        _unit_circle(ax, label="‖w‖ = 1")
        for o, row in enumerate(kernel):
            ax.annotate("", xy=row, xytext=(0, 0), arrowprops=dict(arrowstyle="->", color=f"C{o}", lw=2))
        ax.set_xlim(-2, 2)
        ax.set_ylim(-2, 2)
        ax.set_aspect("equal")
        ax.set_xlabel("$w_1$")
        ax.set_ylabel("$w_2$")
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3)
    for o in range(path.shape[1]):
        axes[1].plot(path[:, o, 0], path[:, o, 1], ".", color=f"C{o}", ms=3)
    axes[0].legend(loc="lower left", fontsize=8)
    plt.tight_layout()
    plt.show()


def shrinkage_paths(regularizers, trajectories, starts):
    """Paths of shrinkage steps on each penalty surface, and the norm of the first unit along its path."""
    fig, axes = plt.subplots(1, len(regularizers) + 1, figsize=(16, 4.1))
    for ax, (name, regularizer) in zip(axes, regularizers.items()):
        _penalty_surface(ax, regularizer, arrows=False)
        for o in range(len(starts)):
            ax.plot(trajectories[name][:, o, 0], trajectories[name][:, o, 1], ".-", color="white", ms=3, lw=0.8)
            ax.plot(*starts[o], "o", color="red", ms=5)
        ax.set_title(f"{name}: {len(trajectories[name]) - 1} shrinkage steps", fontsize=10)
    for name in regularizers:
        axes[-1].plot(np.linalg.norm(trajectories[name][:, 0], axis=1), color=REGULARIZER_COLORS[name], label=name)
    axes[-1].axhline(1, color="red", ls="--", lw=0.8)
    axes[-1].set_xlabel("step")
    axes[-1].set_ylabel(f"‖w‖ of the unit starting at ({starts[0][0]:g}, {starts[0][1]:g})")
    axes[-1].set_title("Norm of one unit", fontsize=10)
    axes[-1].legend(fontsize=8)
    axes[-1].grid(alpha=0.3)
    plt.tight_layout()
    plt.show()


def regularized_optima(targets, paths, curvature):
    """Where the regularized optimum of a quadratic data loss moves as α grows, one panel per target."""
    fig, axes = plt.subplots(1, len(targets), figsize=(12, 5.2))
    grid = np.linspace(-0.4, 1.9, 150)
    g1, g2 = np.meshgrid(grid, grid)
    names = sorted({name for _, name in paths}, key=list(REGULARIZER_COLORS).index)
    for ax, (target_name, target) in zip(axes, targets.items()):
        data_loss = 0.5 * (curvature[0, 0] * (g1 - target[0, 0])**2 + curvature[1, 1] * (g2 - target[0, 1])**2)
        ax.contour(g1, g2, data_loss, levels=np.linspace(0.02, 3, 10)**2, colors="gray", linewidths=0.6)
        _unit_circle(ax, label="‖w‖ = 1")
        for name in names:
            path = paths[target_name, name]
            ax.plot(path[:, 0], path[:, 1], ".-", color=REGULARIZER_COLORS[name], ms=4,
                    label=f"{name} optimum, α = 0.01 … 30")
        ax.plot(*target[0], "k*", ms=14, label="data optimum w*")
        ax.plot(0, 0, "k+", ms=10)
        ax.set_xlim(-0.4, 1.9)
        ax.set_ylim(-0.4, 1.3)
        ax.set_aspect("equal")
        ax.set_xlabel("$w_1$")
        ax.set_ylabel("$w_2$")
        ax.set_title(target_name, fontsize=10)
        ax.legend(fontsize=7, loc="upper right")
    fig.suptitle("Where the regularized optimum moves as α grows (gray: level sets of the data loss)")
    plt.tight_layout()
    plt.show()


def unit_norms_during_training(runs, steps):
    """Per-unit norms (mean and 10–90 % band) of both layers during training, and a histogram at the end;
    ``runs``: regularizer name → {"norms": {"hidden": (steps, units), "output": ...}}."""
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.3))
    for ax, layer_name, title in [(axes[0], "hidden", "Hidden layer (units of 784 weights)"),
                                  (axes[1], "output", "Output layer (10 units)")]:
        for name, run in runs.items():
            norms = run["norms"][layer_name]
            ax.plot(steps, norms.mean(axis=1), color=REGULARIZER_COLORS[name], label=name)
            ax.fill_between(steps, np.percentile(norms, 10, axis=1), np.percentile(norms, 90, axis=1),
                            color=REGULARIZER_COLORS[name], alpha=0.2)
        ax.axhline(1, color="red", ls="--", lw=0.8)
        ax.set_xlabel("iteration")
        ax.set_ylabel("per-unit norm ‖w_o‖ (mean, 10–90 % band)")
        ax.set_title(title, fontsize=10)
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    bins = np.linspace(0, 2.2, 45)
    for name, run in runs.items():
        axes[2].hist(run["norms"]["hidden"][-1], bins=bins, color=REGULARIZER_COLORS[name], alpha=0.55, label=name)
    axes[2].axvline(1, color="red", ls="--", lw=0.8)
    axes[2].set_xlabel("per-unit norm ‖w_o‖ after training")
    axes[2].set_ylabel("number of hidden units")
    axes[2].set_title(f"Hidden-unit norms after {steps[-1]} iterations", fontsize=10)
    axes[2].legend(fontsize=8)
    plt.tight_layout()
    plt.show()


def first_layer_weights(kernels, units=8):
    """The first ``units`` hidden units' weights as 28×28 images, one row per kernel in ``kernels``."""
    fig, axes = plt.subplots(len(kernels), units, figsize=(1.5 * units, 1.6 * len(kernels)))
    for row, (name, kernel) in zip(axes, kernels.items()):
        for ax, unit in zip(row, range(units)):
            image = kernel[unit].reshape(28, 28)
            limit = np.abs(image).max()
            ax.imshow(image, cmap="RdBu_r", vmin=-limit, vmax=limit)
            ax.set_xticks([])
            ax.set_yticks([])
        row[0].set_ylabel(name, fontsize=10)
        row[-1].yaxis.set_label_position("right")
        row[-1].set_ylabel(f"{np.mean(np.abs(kernel) < 1e-3):.0%} of |w| < 1e-3", fontsize=8)
    fig.suptitle("Hidden-unit weights (red > 0, blue < 0)")
    plt.tight_layout()
    plt.show()


# -- notebook 4: dropout and batch normalization --------------------------------------------

def dropout_expectations(panels, x):
    """Per panel ``(title, one training pass, mean of many passes, test output)``: the mean matches the test."""
    fig, axes = plt.subplots(1, len(panels), figsize=(11, 3.6), sharey=True)
    units = np.arange(x.size)
    for ax, (title, one_pass, average, test_output) in zip(axes, panels):
        ax.bar(units, one_pass, color="lightgray", label="one training pass")
        ax.plot(units, average, "o", color="tab:blue", label="mean of many training passes")
        ax.plot(units, test_output, "-", color="tab:red", label="test-phase output")
        ax.plot(units, np.ravel(x), ":", color="k", label="input x")
        ax.set_title(title)
        ax.set_xlabel("unit")
        ax.legend(fontsize=8, loc="upper left")
    axes[0].set_ylabel("activation")
    plt.tight_layout()
    plt.show()


def image_row(panels, title, vmax=1.0, colorbar_label=None):
    """Grey images side by side: ``panels`` is a list of (title, image of shape (y, x))."""
    fig, axes = plt.subplots(1, len(panels), figsize=(2.4 * len(panels), 2.9))
    for ax, (panel_title, image) in zip(axes, panels):
        shown = ax.imshow(image, cmap="gray", vmin=0, vmax=vmax)
        ax.set_title(panel_title, fontsize=9)
        ax.axis("off")
    if colorbar_label:
        fig.colorbar(shown, ax=axes, shrink=0.8, label=colorbar_label)
    fig.suptitle(title)
    plt.show()


def normalized_features(features, normalized):
    """Features 0 and 1 before and after batch normalization."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2))
    for ax, data, title in [(axes[0], features, "input: features 0 and 1"),
                            (axes[1], normalized, "after batch normalization (γ = 1, β = 0)")]:
        ax.scatter(data[:, 0], data[:, 1], s=6, alpha=0.6)
        ax.axhline(0, color="gray", lw=0.8)
        ax.axvline(0, color="gray", lw=0.8)
        ax.set_xlabel("feature 0")
        ax.set_ylabel("feature 1")
        ax.set_title(title)
    axes[0].set_xlim(-6, 16)
    axes[0].set_ylim(-11, 11)
    axes[1].set_xlim(-4, 4)
    axes[1].set_ylim(-4, 4)
    axes[1].set_aspect("equal")
    plt.tight_layout()
    plt.show()


def running_moments(batch_means, running_means, running_variances, true_means, true_variances):
    """Batch means, running mean and running variance against the true moments, per training batch."""
    steps = np.arange(len(batch_means))
    fig, (ax_mean, ax_var) = plt.subplots(1, 2, figsize=(11, 3.8))
    ax_mean.plot(steps, batch_means, ".", color="gray", label="batch mean $\\mu_B$")
    ax_mean.plot(steps, running_means, "-", color="tab:blue", label="running mean (decay 0.8)")
    ax_mean.step(steps, true_means, "--", color="k", where="post", lw=1, label="true mean")
    ax_mean.set_xlabel("training batch")
    ax_mean.set_ylabel("mean")
    ax_mean.set_title("Running mean follows the batch means")
    ax_mean.legend(fontsize=8)
    ax_var.plot(steps, running_variances, "-", color="tab:orange", label="running variance")
    ax_var.step(steps, true_variances, "--", color="k", where="post", lw=1, label="true variance")
    ax_var.set_xlabel("training batch")
    ax_var.set_ylabel("variance")
    ax_var.set_title("Running variance")
    ax_var.legend(fontsize=8)
    plt.tight_layout()
    plt.show()


# -- notebook 5: LeNet on MNIST -------------------------------------------------------------

def examples_per_class(images, labels, per_class=2):
    fig, axes = plt.subplots(per_class, 10, figsize=(11, 1.3 * per_class))
    for digit in range(10):
        for row in range(per_class):
            axes[row, digit].imshow(images[np.flatnonzero(labels == digit)[row], 0], cmap="gray_r")
            axes[row, digit].axis("off")
        axes[0, digit].set_title(str(digit))
    fig.suptitle(f"{per_class} training examples of each class", y=1.06)
    plt.show()


def training_curves(training_loss, history, iterations_per_epoch, epochs, evaluation_size, batch_size, window=20):
    """Training loss per batch (and its moving mean), test loss and test accuracy during training."""
    smoothed = np.convolve(training_loss, np.ones(window) / window, mode="valid")
    fig, (ax_loss, ax_accuracy) = plt.subplots(1, 2, figsize=(12, 4))
    ax_loss.plot(np.arange(1, len(training_loss) + 1), training_loss, color="tab:blue", alpha=0.3, lw=0.8,
                 label="training batch")
    ax_loss.plot(np.arange(window, len(training_loss) + 1), smoothed, color="tab:blue",
                 label=f"training, mean of {window} batches")
    ax_loss.plot(history["iteration"], history["test_loss"], "o-", color="tab:red", label="test")
    ax_loss.set_yscale("log")
    ax_loss.set_xlabel(f"iteration (batch of {batch_size})")
    ax_loss.set_ylabel("cross-entropy per image (+ L2 penalty for training)")
    ax_loss.set_title("Loss")
    ax_loss.legend()
    ax_accuracy.plot(history["iteration"], 100 * np.array(history["test_accuracy"]), "o-", color="tab:red")
    ax_accuracy.set_ylim(0, 100)
    ax_accuracy.set_xlabel(f"iteration (batch of {batch_size})")
    ax_accuracy.set_ylabel("test accuracy (%)")
    ax_accuracy.set_title(f"Accuracy on {evaluation_size} test images")
    for ax in (ax_loss, ax_accuracy):
        ax.grid(alpha=0.3)
        for epoch in range(1, epochs):
            ax.axvline(epoch * iterations_per_epoch, color="gray", ls=":", lw=1)
    plt.tight_layout()
    plt.show()


def confusion_matrix(confusion):
    """Counts on a log colour scale: row = true digit, column = predicted digit."""
    accuracy = np.trace(confusion) / confusion.sum()
    fig, ax = plt.subplots(figsize=(6.4, 5.6))
    shown = ax.imshow(confusion, cmap="Blues", norm=LogNorm(vmin=1, vmax=confusion.max()))
    for (true, predicted), count in np.ndenumerate(confusion):
        if count:
            ax.text(predicted, true, count, ha="center", va="center", fontsize=8,
                    color="white" if count > confusion.max() / 4 else "black")
    ax.set_xticks(range(10))
    ax.set_yticks(range(10))
    ax.set_xlabel("predicted digit")
    ax.set_ylabel("true digit")
    ax.set_title(f"Confusion matrix, {confusion.sum()} test images, accuracy {accuracy:.1%}")
    fig.colorbar(shown, ax=ax, shrink=0.8, label="number of images (log scale)")
    plt.show()


def misclassified(images, labels, predictions, probabilities, count=24):
    """The first ``count`` misclassified images, titled with truth, prediction and its probability."""
    fig, axes = plt.subplots(3, 8, figsize=(12, 5.2))
    for ax, image, label, prediction, probability in zip(axes.ravel(), images[:count], labels, predictions,
                                                         probabilities):
        ax.imshow(image[0], cmap="gray_r")
        ax.set_title(f"true {label} → {prediction}\np = {probability.max():.2f}", fontsize=9)
    for ax in axes.ravel():
        ax.axis("off")
    fig.suptitle(f"The first {min(count, len(images))} misclassified test digits")
    plt.tight_layout()
    plt.show()


def kernels_and_responses(digit, kernels, feature_maps):
    """A digit, the first layer's kernels (red > 0, blue < 0) and each kernel's response to the digit."""
    count = len(kernels)
    fig, axes = plt.subplots(2, count + 1, figsize=(12, 4.2))
    axes[0, 0].imshow(digit, cmap="gray_r")
    axes[0, 0].set_title("test digit", fontsize=9)
    axes[1, 0].axis("off")
    for k in range(count):
        limit = np.abs(kernels[k]).max()
        axes[0, k + 1].imshow(kernels[k], cmap="RdBu_r", vmin=-limit, vmax=limit)
        axes[0, k + 1].set_title(f"kernel {k}", fontsize=9)
        axes[1, k + 1].imshow(feature_maps[k], cmap="magma")
        axes[1, k + 1].set_xlabel(f"response {k}", fontsize=9)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle("Learned first-layer kernels (red > 0, blue < 0) and their responses")
    plt.tight_layout()
    plt.show()


# -- notebook 2: convolution and pooling ----------------------------------------------------

def padding_and_strides(digit, window, responses):
    """The padded digit with the first window and the window at ``window`` = (i, j), and the
    responses ``responses`` (stride → 2-D output) of one kernel at several strides."""
    i, j = window
    fig, axes = plt.subplots(1, 1 + len(responses), figsize=(13, 3.6))
    axes[0].imshow(np.pad(digit, 1), cmap="gray")
    axes[0].add_patch(plt.Rectangle((-0.5, -0.5), 3, 3, fill=False, edgecolor="red", lw=2))
    axes[0].add_patch(plt.Rectangle((j - 0.5, i - 0.5), 3, 3, fill=False, edgecolor="orange", lw=2))
    axes[0].set_title(f"padded input {digit.shape[0] + 2}x{digit.shape[1] + 2}\n"
                      f"(red: first window, orange: window of ({i}, {j}))", fontsize=9)
    limit = max(np.abs(output).max() for output in responses.values())
    for ax, (stride, output) in zip(axes[1:], responses.items()):
        ax.imshow(output, cmap="RdBu_r", vmin=-limit, vmax=limit)
        ax.set_title(f"vertical-edge response, stride {stride}\noutput {output.shape[0]}x{output.shape[1]}", fontsize=9)
    for ax in axes:
        ax.set_xlabel("x (column)")
        ax.set_ylabel("y (row)")
    plt.tight_layout()
    plt.show()


def filter_responses(images, names, responses):
    """Each image (rows) beside its response to each named kernel (columns; a blur is drawn in grey)."""
    fig, axes = plt.subplots(len(images), 1 + len(names), figsize=(12, 2.1 * len(images)))
    for row, image in enumerate(images):
        axes[row, 0].imshow(image, cmap="gray")
        for column, name in enumerate(names, start=1):
            response = responses[row, column - 1]
            limit = np.abs(response).max()
            blur = name == "blur"
            axes[row, column].imshow(response, cmap="gray" if blur else "RdBu_r", vmin=0 if blur else -limit, vmax=limit)
    for column, name in enumerate(["input"] + list(names)):
        axes[0, column].set_title(name, fontsize=10)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(f"{len(names)} hand-made kernels applied by one Conv layer to {len(images)} MNIST test digits")
    plt.tight_layout()
    plt.show()


def patch_matrix(toy, patches, product, windows=((0, "red"), (12, "green"), (24, "purple"))):
    """A padded toy image with three windows, its patch matrix with their rows, and patches @ kernel."""
    fig, axes = plt.subplots(1, 3, figsize=(12, 4.4), gridspec_kw={"width_ratios": [1, 1, 0.7]})
    padded = np.pad(toy, 1)
    axes[0].imshow(padded, cmap="Blues", vmin=-5, vmax=30)
    for (y, x), value in np.ndenumerate(padded):
        axes[0].text(x, y, f"{value:.0f}", ha="center", va="center", fontsize=8)
    width = toy.shape[1]
    for position, color in windows:
        y, x = divmod(position, width)
        axes[0].add_patch(plt.Rectangle((x - 0.5, y - 0.5), 3, 3, fill=False, edgecolor=color, lw=2.5))
    axes[0].set_title(f"padded {toy.shape[0]}x{toy.shape[1]} image and three windows", fontsize=10)
    axes[0].set_xticks([])
    axes[0].set_yticks([])
    axes[1].imshow(patches, cmap="Blues", vmin=-5, vmax=30, aspect="auto")
    for position, color in windows:
        axes[1].add_patch(plt.Rectangle((-0.5, position - 0.5), patches.shape[1], 1, fill=False, edgecolor=color,
                                        lw=2.5))
    axes[1].set_xlabel("kernel weight index (p, q) flattened")
    axes[1].set_ylabel("output position (y, x) flattened")
    axes[1].set_title(f"patch matrix ({patches.shape[0]} x {patches.shape[1]}): one row per window", fontsize=10)
    axes[2].imshow(product, cmap="RdBu_r")
    axes[2].set_title(f"patches @ kernel, reshaped {product.shape[0]}x{product.shape[1]}", fontsize=10)
    axes[2].set_xticks([])
    axes[2].set_yticks([])
    plt.tight_layout()
    plt.show()


def pooling_routes(feature_map, routes, pooled):
    """A feature map, where max pooling sends the gradient of Σ output (``routes``: title → 2-D counts),
    and the pooled map."""
    fig, axes = plt.subplots(1, 2 + len(routes), figsize=(15, 4.2), layout="constrained")
    axes[0].imshow(feature_map, cmap="magma")
    axes[0].set_title(f"input: |vertical-edge response|\n{feature_map.shape[0]}x{feature_map.shape[1]}", fontsize=9)
    for ax, (title, routed) in zip(axes[1:], routes.items()):
        shown = ax.imshow(routed, cmap="viridis", vmin=0, vmax=4)
        ax.set_title(f"{title}\n{int((routed > 0).sum())} of {routed.size} pixels get any", fontsize=9)
    fig.colorbar(shown, ax=axes[len(routes)], shrink=0.8, label="number of windows won", ticks=range(5))
    axes[-1].imshow(pooled, cmap="magma")
    axes[-1].set_title(f"output of 2x2 / 2 max pooling\n{pooled.shape[0]}x{pooled.shape[1]}", fontsize=9)
    for ax in axes:
        ax.set_xlabel("x (column)")
        ax.set_ylabel("y (row)")
    plt.show()
