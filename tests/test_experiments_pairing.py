"""One run of the study on a tiny made-up dataset: the pairing of arms (the same seed gives every
arm the same initial weights and the same batches, the regularizer draws nothing from the
streams), the data loss and the penalty logged apart, the cosine schedule and the shrinkage
per step."""
import math
import types

import numpy as np
import pytest

from experiments.grid import ARMS, MOMENTUM, RunSpec
from experiments.runs import learning_rate_at, shrinkage_per_step, train_config, train_run
from framework.models import make_regularizer
from framework.training import build_model, regularizable_kernels


def made_up_dataset(count=192):
    rng = np.random.default_rng(7)
    images = rng.random((count, 1, 28, 28), dtype=np.float32)
    labels = rng.integers(0, 10, count)
    return types.SimpleNamespace(train_images=images, train_labels=labels, validation_images=images[:64],
                                 validation_labels=labels[:64], test_images=images[64:128], test_labels=labels[64:128])


def spec_of(arm, seed=3, alpha=1e-2, epochs=2):
    regularizer, coupled = ARMS[arm]
    return RunSpec("confirmation", "fashion-mnist", "lenet", regularizer, 0.0 if arm == "none" else alpha, 32, seed,
                   "he", epochs, 192, coupled=coupled, trajectory_every=2)


def test_the_same_seed_gives_every_arm_the_same_initial_weights():
    kernels = {arm: [kernel.copy() for kernel in regularizable_kernels(build_model(train_config(spec_of(arm))))]
               for arm in ARMS}
    for arm in ARMS:
        assert all(np.array_equal(mine, theirs) for mine, theirs in zip(kernels[arm], kernels["none"])), arm
    other_seed = regularizable_kernels(build_model(train_config(spec_of("none", seed=4))))
    assert not np.array_equal(other_seed[0], kernels["none"][0])


def test_the_same_seed_gives_every_arm_the_same_batches(monkeypatch):
    import data

    seen = {}

    class RecordingDataLayer(data.DataLayer):
        def next(self):
            images, labels = super().next()
            seen.setdefault(self.owner, []).append(labels.argmax(axis=1).tobytes() + images[:, 0, 0, :4].tobytes())
            return images, labels

    dataset = made_up_dataset()
    for arm in ARMS:
        RecordingDataLayer.owner = arm
        monkeypatch.setattr(data, "DataLayer", RecordingDataLayer)
        record = train_run(spec_of(arm), dataset, evaluation_threads=1)
        assert not record["diverged"]
    RecordingDataLayer.owner = "other seed"
    train_run(spec_of("l2", seed=4), dataset, evaluation_threads=1)
    # 192 images in batches of 32: 6 steps per epoch, 2 epochs.
    assert len(seen["none"]) == 12
    for arm in ARMS:
        assert seen[arm] == seen["none"], arm
    assert seen["other seed"] != seen["none"]


def test_a_run_logs_the_data_loss_and_the_penalty_apart():
    dataset = made_up_dataset()
    none = train_run(spec_of("none"), dataset, evaluation_threads=1)
    normloss = train_run(spec_of("normloss", alpha=0.1), dataset, evaluation_threads=1)
    assert all(row["penalty"] == 0.0 for row in none["rows"])
    # Epoch 0: the penalty of the initial weights, Σ α · Σ_o (1 − ‖w_o‖)² over the kernels.
    network = build_model(train_config(spec_of("normloss", alpha=0.1)))
    regularizer = make_regularizer("normloss", 0.1)
    expected = sum(regularizer.norm(kernel) for kernel in regularizable_kernels(network))
    assert normloss["rows"][0]["penalty"] == pytest.approx(expected)
    for row in normloss["rows"][1:]:
        assert row["penalty"] > 0 and 0 < row["data_loss"] < 5
        assert 0 <= row["validation_error"] <= 1 and 0 <= row["test_error"] <= 1
        assert len(row["layer_norm_means"]) == 5


def test_the_cosine_schedule_falls_from_the_peak_to_near_zero():
    spec = spec_of("none")
    assert learning_rate_at(spec, 0, 100) == pytest.approx(0.05)
    assert learning_rate_at(spec, 50, 100) == pytest.approx(0.025)
    # The last step: 0.05 · (1 + cos(99π/100)) / 2
    assert learning_rate_at(spec, 99, 100) == pytest.approx(0.05 * (1 + math.cos(0.99 * math.pi)) / 2)
    assert 0 < learning_rate_at(spec, 99, 100) < 1e-4
    import dataclasses

    assert learning_rate_at(dataclasses.replace(spec, schedule="constant"), 99, 100) == 0.05
    with pytest.raises(ValueError, match="RunSpec.schedule: expected 'cosine' or 'constant', got 'step'"):
        learning_rate_at(dataclasses.replace(spec, schedule="step"), 0, 100)


def test_shrinkage_per_step_is_the_relative_step_the_regularizer_takes():
    network = build_model(train_config(spec_of("l2")))
    # L2: |η·α·w_o| / |w_o| = η·α for every unit, whatever the norms.
    assert shrinkage_per_step(network, make_regularizer("l2", 1e-3), 0.02, coupled=False) == pytest.approx(2e-5)
    # Coupled, the velocity accumulates it to 1 / (1 − μ) times that.
    assert shrinkage_per_step(network, make_regularizer("l2", 1e-3), 0.02, coupled=True) == pytest.approx(
        2e-5 / (1 - MOMENTUM))
    assert shrinkage_per_step(network, None, 0.02, coupled=False) == 0.0
