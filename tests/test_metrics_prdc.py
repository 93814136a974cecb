"""PRDC against a brute-force version with plain loops and sorted lists, plus sanity checks."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from gankit.metrics.prdc import prdc, precision_recall

RNG = np.random.default_rng(0)
REAL = RNG.standard_normal((30, 4))
FAKE = 0.7 * np.random.default_rng(1).standard_normal((25, 4)) + 1.2


def brute_force_prdc(real, fake, k):
    real, fake = real.tolist(), fake.tolist()

    def dist(p, q):
        return math.sqrt(sum((a - b) ** 2 for a, b in zip(p, q, strict=True)))

    def radii(points):
        return [sorted(dist(p, q) for j, q in enumerate(points) if j != i)[k - 1]
                for i, p in enumerate(points)]

    r_real, r_fake = radii(real), radii(fake)
    precision = recall = density = coverage = 0
    for f in fake:
        inside = [dist(f, r) < rad for r, rad in zip(real, r_real, strict=True)]
        precision += any(inside)
        density += sum(inside)
    for r, rad in zip(real, r_real, strict=True):
        recall += any(dist(r, f) < frad for f, frad in zip(fake, r_fake, strict=True))
        coverage += min(dist(r, f) for f in fake) < rad
    return {"precision": precision / len(fake), "recall": recall / len(real),
            "density": density / (k * len(fake)), "coverage": coverage / len(real)}


@pytest.mark.parametrize("k", [1, 3, 5])
@pytest.mark.parametrize("chunk_size", [7, 1000])
def test_matches_brute_force(k, chunk_size):
    expected = brute_force_prdc(REAL, FAKE, k)
    got = prdc(REAL, FAKE, k=k, chunk_size=chunk_size)
    assert got == pytest.approx(expected, abs=1e-12)
    assert all(type(v) is float for v in got.values())
    assert 0 < got["precision"] < 1 and 0 < got["recall"] < 1  # a non-trivial case


def test_precision_recall_is_the_first_half_of_prdc_with_k3_default():
    expected = brute_force_prdc(FAKE, REAL, 3)
    got = precision_recall(torch.from_numpy(FAKE), torch.from_numpy(REAL))
    assert got == pytest.approx({"precision": expected["precision"],
                                 "recall": expected["recall"]}, abs=1e-12)


def test_hand_computed_one_dimensional_example_with_a_boundary_tie():
    real = np.array([[0.0], [1.0], [2.0], [3.0]])  # k = 1: every radius is 1
    fake = np.array([[0.5], [4.0], [10.0]])  # 4.0 lies exactly on real 3's ball: outside
    got = prdc(real, fake, k=1)
    assert got == pytest.approx({"precision": 1 / 3, "recall": 1.0, "density": 2 / 3,
                                 "coverage": 0.5})


def test_identical_sets_score_one():
    got = prdc(REAL, REAL.copy(), k=5)
    assert got["precision"] == got["recall"] == got["coverage"] == 1.0
    assert got["density"] == pytest.approx(1.0)  # self plus k - 1 strictly closer neighbours


def test_disjoint_far_apart_sets_score_zero():
    got = prdc(REAL, FAKE + 100.0, k=3)
    assert got == {"precision": 0.0, "recall": 0.0, "density": 0.0, "coverage": 0.0}


def test_bad_inputs_raise_value_error():
    with pytest.raises(ValueError, match="dimensions differ"):
        prdc(REAL, FAKE[:, :3])
    with pytest.raises(ValueError, match="k = 5"):
        prdc(REAL, FAKE[:5])
    with pytest.raises(ValueError, match="k = 30"):
        precision_recall(REAL, FAKE, k=30)
    with pytest.raises(ValueError, match="positive integer"):
        prdc(REAL, FAKE, k=0)
    with pytest.raises(ValueError, match="at least 2"):
        prdc(REAL[:1], FAKE, k=1)
    with pytest.raises(ValueError, match="chunk_size"):
        prdc(REAL, FAKE, chunk_size=0)
