"""Kernel Inception Distance: unbiased MMD² with a polynomial kernel, averaged over subsets.

Bińkowski et al. 2018, as in torch-fidelity and clean-fid: ``k(x, y) = (γ x·y + c)^d`` with
``γ = 1/D``, ``c = 1``, ``d = 3``; each subset draws ``subset_size`` rows without replacement from
each set; the score is the mean (and population std) of the per-subset estimates.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gankit.metrics.frechet import as_features, check_same_dim


def polynomial_kernel(x: np.ndarray, y: np.ndarray, degree: int, gamma: float,
                      coef0: float) -> np.ndarray:
    """``(γ x·y + coef0)^degree`` for all row pairs: an ``(len(x), len(y))`` matrix."""
    return (gamma * (x @ y.T) + coef0) ** degree


def mmd2_unbiased(kxx: np.ndarray, kyy: np.ndarray, kxy: np.ndarray) -> float:
    """Unbiased MMD² from the three kernel matrices of two sets of ``m`` rows each."""
    m = kxx.shape[0]
    within = (kxx.sum() - np.trace(kxx) + kyy.sum() - np.trace(kyy)) / (m * (m - 1))
    return float(within - 2 * kxy.mean())


def kid(features_a: Any, features_b: Any, subsets: int = 100, subset_size: int = 1000,
        degree: int = 3, gamma: float | None = None, coef0: float = 1,
        seed: int = 0) -> dict[str, Any]:
    """KID between two ``(N, D)`` feature sets; ``subset_size`` shrinks to the smaller set."""
    a, b = as_features(features_a, "features_a"), as_features(features_b, "features_b")
    check_same_dim(a, b)
    if subsets < 1:
        raise ValueError(f"subsets must be at least 1, got {subsets}")
    if subset_size < 2:
        raise ValueError(f"subset_size must be at least 2, got {subset_size}")
    if int(degree) != degree or degree < 1:
        raise ValueError(f"degree must be a positive integer, got {degree}")
    if gamma is None:
        gamma = 1.0 / a.shape[1]
    m = min(subset_size, len(a), len(b))
    rng = np.random.default_rng(seed)
    scores = np.empty(subsets)
    for i in range(subsets):
        x = a[rng.choice(len(a), m, replace=False)]
        y = b[rng.choice(len(b), m, replace=False)]
        kernel = [polynomial_kernel(p, q, int(degree), gamma, coef0)
                  for p, q in ((x, x), (y, y), (x, y))]
        scores[i] = mmd2_unbiased(*kernel)
    return {"kid_mean": float(scores.mean()), "kid_std": float(scores.std()),
            "subsets": int(subsets), "subset_size": int(m)}
