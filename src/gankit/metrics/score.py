"""Inception-Score formula applied to any classifier's softmax outputs.

Salimans et al. 2016 and their reference code: the samples are cut into ``splits`` consecutive
chunks; each chunk scores ``exp(mean_x KL(p(y|x) ‖ p(y)))`` with ``p(y)`` the chunk's mean
prediction (natural log, ``0 log 0 = 0``); the result is the mean and population std over chunks.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gankit.metrics.frechet import as_features


def classifier_score(probs: Any, splits: int = 10) -> dict[str, Any]:
    """Inception-style score of ``(N, K)`` class probabilities (rows summing to 1)."""
    p = as_features(probs, "probs")
    if (p < 0).any() or not np.allclose(p.sum(axis=1), 1.0, atol=1e-3):
        raise ValueError("probs must be non-negative with rows summing to 1 (softmax outputs)")
    if int(splits) != splits or not 1 <= splits <= len(p):
        raise ValueError(f"splits must be an integer from 1 to the {len(p)} samples, got {splits}")
    splits = int(splits)
    n = len(p)
    scores = []
    for i in range(splits):
        part = p[i * n // splits:(i + 1) * n // splits]
        marginal = part.mean(axis=0, keepdims=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = np.where(part > 0, part * (np.log(part) - np.log(marginal)), 0.0)
        scores.append(np.exp(terms.sum(axis=1).mean()))
    return {"score_mean": float(np.mean(scores)), "score_std": float(np.std(scores)),
            "splits": splits}
