"""The Inception-Score formula against closed forms, a hand-computed case and plain loops."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from gankit.metrics.score import classifier_score


def loop_score(probs: list[list[float]], splits: int) -> tuple[float, float]:
    n, scores = len(probs), []
    for s in range(splits):
        part = probs[s * n // splits:(s + 1) * n // splits]
        marginal = [sum(row[c] for row in part) / len(part) for c in range(len(part[0]))]
        kls = [sum(p * math.log(p / q) for p, q in zip(row, marginal, strict=True) if p > 0)
               for row in part]
        scores.append(math.exp(sum(kls) / len(kls)))
    mean = sum(scores) / splits
    return mean, math.sqrt(sum((s - mean) ** 2 for s in scores) / splits)


def test_one_hot_spread_uniformly_over_k_classes_gives_k():
    probs = np.eye(4)[np.arange(40) % 4]
    got = classifier_score(probs, splits=2)
    assert got == {"score_mean": pytest.approx(4.0), "score_std": pytest.approx(0.0, abs=1e-12),
                   "splits": 2}
    assert type(got["score_mean"]) is float and type(got["score_std"]) is float


def test_identical_probabilities_give_one():
    probs = np.tile([0.2, 0.5, 0.3], (12, 1))
    got = classifier_score(torch.from_numpy(probs), splits=3)
    assert got["score_mean"] == pytest.approx(1.0) and got["score_std"] == pytest.approx(0.0)


def test_hand_computed_example():
    # p(y) = (3/4, 1/4); KLs log(4/3) and ½ log(4/3): exp of their mean is (4/3)^(3/4).
    got = classifier_score([[1.0, 0.0], [0.5, 0.5]], splits=1)
    assert got["score_mean"] == pytest.approx((4 / 3) ** 0.75, rel=1e-12)


def test_splits_are_consecutive_chunks_at_i_n_over_splits():
    probs = [[1.0, 0.0], [0.0, 1.0], [0.3, 0.7], [0.3, 0.7], [0.3, 0.7]]  # chunks 0:2 and 2:5
    got = classifier_score(probs, splits=2)
    assert got["score_mean"] == pytest.approx(1.5) and got["score_std"] == pytest.approx(0.5)


def test_matches_plain_loops_on_random_softmax():
    logits = np.random.default_rng(0).standard_normal((11, 5)) * 2
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    probs[3] = [0.0, 0.5, 0.5, 0.0, 0.0]  # exercises 0 log 0 = 0
    mean, std = loop_score(probs.tolist(), 3)
    got = classifier_score(probs, splits=3)
    assert got["score_mean"] == pytest.approx(mean, rel=1e-12)
    assert got["score_std"] == pytest.approx(std, rel=1e-10)


def test_bad_inputs_raise_value_error():
    good = np.full((6, 3), 1 / 3)
    with pytest.raises(ValueError, match="at least 2"):
        classifier_score(good[:1], splits=1)
    with pytest.raises(ValueError, match="summing to 1"):
        classifier_score(good * 2)
    with pytest.raises(ValueError, match="non-negative"):
        classifier_score(np.array([[1.5, -0.5], [0.5, 0.5]]), splits=1)
    for splits in (0, 7, 2.5):
        with pytest.raises(ValueError, match="splits"):
            classifier_score(good, splits=splits)
