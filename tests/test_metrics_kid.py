"""KID against a brute-force loop over pairs with the same subset draws, plus sanity checks."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from gankit.metrics.kid import kid

RNG = np.random.default_rng(0)


def brute_force_kid(a, b, subsets, subset_size, degree=3, gamma=None, coef0=1.0, seed=0):
    """Per-subset unbiased MMD² written as explicit sums over index pairs."""
    d = len(a[0])
    gamma = 1.0 / d if gamma is None else gamma

    def k(x, y):
        return (gamma * sum(xi * yi for xi, yi in zip(x, y, strict=True)) + coef0) ** degree

    m = min(subset_size, len(a), len(b))
    rng = np.random.default_rng(seed)  # the draws the spec prescribes: a's rows, then b's
    scores = []
    for _ in range(subsets):
        xs = [list(a[i]) for i in rng.choice(len(a), m, replace=False)]
        ys = [list(b[i]) for i in rng.choice(len(b), m, replace=False)]
        xx = sum(k(xs[i], xs[j]) for i in range(m) for j in range(m) if i != j)
        yy = sum(k(ys[i], ys[j]) for i in range(m) for j in range(m) if i != j)
        xy = sum(k(xs[i], ys[j]) for i in range(m) for j in range(m))
        scores.append(xx / (m * (m - 1)) + yy / (m * (m - 1)) - 2 * xy / (m * m))
    mean = sum(scores) / len(scores)
    std = math.sqrt(sum((s - mean) ** 2 for s in scores) / len(scores))
    return mean, std, m


def test_matches_brute_force_on_tiny_inputs():
    a, b = RNG.standard_normal((9, 3)), RNG.standard_normal((8, 3)) + 0.5
    got = kid(a, b, subsets=2, subset_size=6, seed=3)
    mean, std, m = brute_force_kid(a, b, subsets=2, subset_size=6, seed=3)
    assert got == {"kid_mean": pytest.approx(mean, rel=1e-10),
                   "kid_std": pytest.approx(std, rel=1e-10), "subsets": 2, "subset_size": 6}
    assert type(got["kid_mean"]) is float and type(got["kid_std"]) is float


def test_kernel_parameters_are_used():
    a, b = RNG.standard_normal((7, 2)), RNG.standard_normal((7, 2)) * 2
    got = kid(torch.from_numpy(a), b, subsets=3, subset_size=5, degree=2, gamma=0.3, coef0=0.5)
    mean, std, _ = brute_force_kid(a, b, 3, 5, degree=2, gamma=0.3, coef0=0.5)
    assert got["kid_mean"] == pytest.approx(mean, rel=1e-10)
    assert got["kid_std"] == pytest.approx(std, rel=1e-10)


def test_subset_size_shrinks_to_the_smaller_set_and_is_recorded():
    a, b = RNG.standard_normal((5, 3)), RNG.standard_normal((9, 3))
    got = kid(a, b, subsets=2)
    mean, _, m = brute_force_kid(a, b, subsets=2, subset_size=1000)
    assert m == 5 and got["subset_size"] == 5
    assert got["kid_mean"] == pytest.approx(mean, rel=1e-10)


def test_same_distribution_near_zero_shifted_clearly_positive():
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((800, 8)), rng.standard_normal((800, 8))
    same = kid(a, b, subsets=20, subset_size=200)
    shifted = kid(a, b + 0.5, subsets=20, subset_size=200)
    assert abs(same["kid_mean"]) < 0.02
    assert shifted["kid_mean"] > 0.2
    assert shifted["kid_mean"] > 10 * (abs(same["kid_mean"]) + same["kid_std"])


def test_seed_makes_it_reproducible():
    a, b = RNG.standard_normal((30, 3)), RNG.standard_normal((30, 3))
    assert kid(a, b, subsets=3, subset_size=10, seed=5) == kid(a, b, subsets=3, subset_size=10,
                                                                seed=5)
    assert kid(a, b, subsets=3, subset_size=10, seed=5) != kid(a, b, subsets=3, subset_size=10,
                                                                seed=6)


def test_bad_inputs_raise_value_error():
    x = np.zeros((5, 3))
    with pytest.raises(ValueError, match="dimensions differ"):
        kid(x, np.zeros((5, 4)))
    with pytest.raises(ValueError, match="at least 2"):
        kid(np.zeros((1, 3)), x)
    with pytest.raises(ValueError, match="subsets"):
        kid(x, x, subsets=0)
    with pytest.raises(ValueError, match="subset_size"):
        kid(x, x, subset_size=1)
    with pytest.raises(ValueError, match="degree"):
        kid(x, x, degree=0)
