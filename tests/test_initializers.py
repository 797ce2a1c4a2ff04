"""Initializers: Constant, UniformRandom, Xavier and He.

The random ones are checked statistically on 60 000 samples. For N normal
samples the sample standard deviation has a relative standard error of about
1/sqrt(2N) = 1/sqrt(120 000) ≈ 0.29 %, and the sample mean a standard error of
σ/sqrt(N) ≈ 0.41 % of σ; the tolerances below are about 7 standard errors, so a
correct initializer fails with negligible probability (and the generators are
seeded anyway), while a wrong formula (e.g. Xavier without fan_out, or He with
1/fan_in instead of 2/fan_in: ≥ 29 % off) fails by far.
"""
import math

import numpy as np
import pytest

from framework.initializers import Constant, He, UniformRandom, Xavier

SHAPE = (200, 300)      # 60 000 samples
FAN_IN, FAN_OUT = 300, 200
STD_TOLERANCE = 0.02    # relative, ≈ 7 standard errors of the sample std
MEAN_TOLERANCE = 0.03   # in units of σ, ≈ 7 standard errors of the sample mean


def test_constant_default_is_0_1():
    values = Constant().initialize((3, 4), 4, 3)
    assert values.shape == (3, 4)
    np.testing.assert_array_equal(values, np.full((3, 4), 0.1))


def test_constant_custom_value_and_shapes():
    for shape in [(5,), (2, 3), (4, 2, 3, 3)]:
        values = Constant(-2.5).initialize(shape, 7, 9)
        assert values.shape == shape
        assert np.all(values == -2.5)


def test_uniform_random_range_and_moments():
    values = UniformRandom(rng=np.random.default_rng(0)).initialize(SHAPE, FAN_IN, FAN_OUT)
    assert values.shape == SHAPE
    assert values.min() >= 0.0 and values.max() < 1.0
    # U[0, 1): mean 1/2 (std error sqrt(1/12)/sqrt(60 000) ≈ 0.0012), std sqrt(1/12) ≈ 0.2887
    assert abs(values.mean() - 0.5) < 0.01
    assert values.std() == pytest.approx(math.sqrt(1 / 12), rel=STD_TOLERANCE)
    # it covers the interval: both ends are reached within 1 %
    assert values.min() < 0.01 and values.max() > 0.99


def test_xavier_standard_deviation():
    values = Xavier(rng=np.random.default_rng(1)).initialize(SHAPE, FAN_IN, FAN_OUT)
    sigma = math.sqrt(2 / (FAN_IN + FAN_OUT))  # sqrt(2 / 500) ≈ 0.06325
    assert values.shape == SHAPE
    assert values.std() == pytest.approx(sigma, rel=STD_TOLERANCE)
    assert abs(values.mean()) < MEAN_TOLERANCE * sigma


def test_xavier_depends_on_fan_out():
    # fan_in = 100, fan_out = 900: sqrt(2/1000) ≈ 0.0447, far from He's sqrt(2/100) ≈ 0.1414
    values = Xavier(rng=np.random.default_rng(2)).initialize(SHAPE, 100, 900)
    assert values.std() == pytest.approx(math.sqrt(2 / 1000), rel=STD_TOLERANCE)


def test_he_standard_deviation():
    values = He(rng=np.random.default_rng(3)).initialize(SHAPE, FAN_IN, FAN_OUT)
    sigma = math.sqrt(2 / FAN_IN)  # sqrt(2 / 300) ≈ 0.08165
    assert values.shape == SHAPE
    assert values.std() == pytest.approx(sigma, rel=STD_TOLERANCE)
    assert abs(values.mean()) < MEAN_TOLERANCE * sigma


def test_he_ignores_fan_out():
    rng_a, rng_b = np.random.default_rng(4), np.random.default_rng(4)
    np.testing.assert_array_equal(He(rng=rng_a).initialize((3, 4), 10, 1),
                                  He(rng=rng_b).initialize((3, 4), 10, 1000))


@pytest.mark.parametrize("initializer", [UniformRandom, Xavier, He])
def test_conv_shaped_weights(initializer):
    values = initializer(rng=np.random.default_rng(5)).initialize((6, 3, 5, 5), 75, 150)
    assert values.shape == (6, 3, 5, 5)
    assert np.all(np.isfinite(values))


@pytest.mark.parametrize("initializer", [UniformRandom, Xavier, He])
def test_rng_makes_draws_reproducible(initializer):
    first = initializer(rng=np.random.default_rng(42)).initialize((4, 5), 5, 4)
    second = initializer(rng=np.random.default_rng(42)).initialize((4, 5), 5, 4)
    other = initializer(rng=np.random.default_rng(43)).initialize((4, 5), 5, 4)
    np.testing.assert_array_equal(first, second)
    assert not np.array_equal(first, other)


@pytest.mark.parametrize("initializer", [UniformRandom, Xavier, He])
def test_np_random_seed_makes_draws_reproducible(initializer):
    np.random.seed(7)
    first = initializer().initialize((4, 5), 5, 4)
    np.random.seed(7)
    second = initializer().initialize((4, 5), 5, 4)
    third = initializer().initialize((4, 5), 5, 4)  # the global stream moved on
    np.testing.assert_array_equal(first, second)
    assert not np.array_equal(second, third)


@pytest.mark.parametrize("initializer", [UniformRandom, Xavier, He])
def test_an_rng_leaves_the_global_state_alone(initializer):
    np.random.seed(11)
    expected = np.random.random()
    np.random.seed(11)
    initializer(rng=np.random.default_rng(0)).initialize((4, 5), 5, 4)
    assert np.random.random() == expected


@pytest.mark.parametrize("initializer", [Xavier, He])
def test_non_positive_fans_are_rejected(initializer):
    with pytest.raises(ValueError, match=f"{initializer.__name__}.*fan_in"):
        initializer().initialize((2, 2), 0, 2)
