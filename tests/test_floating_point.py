"""Subnormal numbers flushed to zero while a network trains (framework/floating_point.py)."""
import platform
import sys
import threading

import numpy as np
import pytest

from framework.floating_point import subnormals_flushed

SUBNORMAL32 = np.float32(1e-39)
# Where the switch exists: x86-64 Linux with glibc, the machines CI and the study run on.
SWITCHABLE = sys.platform == "linux" and platform.machine() == "x86_64" and platform.libc_ver()[0] == "glibc"


def product_of_small_numbers():
    """1e-37 × 1e-3 in float32: 1e-40, a subnormal result."""
    return np.array([1e-37], dtype=np.float32) * np.float32(1e-3)


def test_inside_the_block_subnormal_results_and_operands_are_zero_and_afterwards_they_are_back():
    assert product_of_small_numbers()[0] != 0
    with subnormals_flushed() as switched:
        assert switched == SWITCHABLE
        if SWITCHABLE:
            assert product_of_small_numbers()[0] == 0
            assert (np.array([SUBNORMAL32]) + np.float32(0))[0] == 0  # read as 0
    assert product_of_small_numbers()[0] != 0


def test_the_mode_is_restored_when_the_block_raises():
    with pytest.raises(RuntimeError), subnormals_flushed():
        raise RuntimeError("in the block")
    assert product_of_small_numbers()[0] != 0


def test_a_block_inside_a_block_leaves_the_outer_one_flushing():
    with subnormals_flushed():
        with subnormals_flushed():
            pass
        if SWITCHABLE:
            assert product_of_small_numbers()[0] == 0
    assert product_of_small_numbers()[0] != 0


def test_a_computation_without_subnormal_numbers_gives_the_same_bits():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((64, 300), dtype=np.float32), rng.standard_normal((300, 50), dtype=np.float32)
    outside = np.tanh(a @ b) * 1e-3 + np.exp(-np.abs(a[:, :50]))
    with subnormals_flushed():
        inside = np.tanh(a @ b) * 1e-3 + np.exp(-np.abs(a[:, :50]))
    assert inside.tobytes() == outside.tobytes()


def test_the_mode_belongs_to_the_thread_that_set_it():
    seen = []
    with subnormals_flushed():
        thread = threading.Thread(target=lambda: seen.append(product_of_small_numbers()[0]))
        thread.start()
        thread.join(timeout=10)
    assert not thread.is_alive()
    # A thread started inside the block copies its creator's mode (Linux copies the register).
    assert seen == [0] if SWITCHABLE else seen[0] != 0


def test_training_never_leaves_a_subnormal_weight():
    """A network whose weights are subnormal after a step keeps none: training with weight decay
    to zero stays at the processor's normal speed (the study's strong-α runs)."""
    from data import DataLayer
    from framework.models import build_lenet
    from framework.training import run_epoch

    rng = np.random.default_rng(1)
    network = build_lenet(optimizer="momentum", learning_rate=0.01, regularizer="l2", alpha=0.1, dtype=np.float32,
                          rng=rng)
    network.data_layer = DataLayer(rng.random((16, 1, 28, 28), dtype=np.float32), rng.integers(0, 10, 16), 8,
                                   rng=np.random.default_rng(2))
    kernels = [layer for layer in network.layers if getattr(layer, "trainable", False)]
    for layer in kernels:
        layer.weights = np.full_like(layer.weights, SUBNORMAL32)
    run_epoch(network, 2)
    if SWITCHABLE:
        for layer in kernels:
            magnitudes = np.abs(layer.weights)
            assert not np.any((magnitudes > 0) & (magnitudes < np.finfo(np.float32).tiny)), layer.name
    assert product_of_small_numbers()[0] != 0  # and the mode is as it was


def test_a_switch_that_was_on_before_the_block_stays_on_after_it():
    from framework import floating_point

    library = floating_point._libm()
    if library is None:
        assert not SWITCHABLE
        return
    before = floating_point._replace_mxcsr_bits(library, floating_point.FLUSH_TO_ZERO, floating_point.FLUSH_TO_ZERO)
    try:
        with subnormals_flushed():
            pass
        # FTZ (set before) is still on, DAZ (off before) is off again: a subnormal operand is read
        # as itself (1e-39 × 1e10 = 1e-29, a normal result), and a subnormal result is flushed.
        assert (np.array([SUBNORMAL32]) * np.float32(1e10))[0] == pytest.approx(1e-29, rel=1e-5)
        assert product_of_small_numbers()[0] == 0
    finally:
        floating_point._replace_mxcsr_bits(library, floating_point.FLUSH_TO_ZERO, before)
    assert product_of_small_numbers()[0] != 0
