"""Precision, recall, density and coverage from k-nearest-neighbour balls in feature space.

Definitions of Naeem et al. 2020 (the official ``prdc`` package), precision and recall being those
of Kynkäänniemi et al. 2019. A point's radius is the distance to its k-th nearest neighbour in its
own set (itself excluded); a point is *inside* a ball when its distance is strictly less than the
radius, as in ``prdc``. Distances are Euclidean, float64, computed in row chunks so that 10k × 10k
sets never need the full matrix at once.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from gankit.metrics.frechet import as_features, check_same_dim

CHUNK = 1000


def knn_radii(x: torch.Tensor, k: int, chunk_size: int = CHUNK) -> torch.Tensor:
    """Distance from each row of ``x`` to its k-th nearest other row."""
    # The k + 1 smallest distances include the row itself at distance 0.
    return torch.cat([torch.cdist(x[i:i + chunk_size], x).topk(k + 1, largest=False).values[:, -1]
                      for i in range(0, len(x), chunk_size)])


def prdc(real_features: Any, fake_features: Any, k: int = 5,
         chunk_size: int = CHUNK) -> dict[str, float]:
    """Precision, recall, density and coverage of fake features against real ones."""
    real, fake = _tensors(real_features, fake_features, k)
    k = int(k)
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")
    real_radii, fake_radii = knn_radii(real, k, chunk_size), knn_radii(fake, k, chunk_size)
    balls_per_fake = torch.zeros(len(fake), dtype=torch.int64)  # real balls holding each fake
    real_recalled = torch.zeros(len(real), dtype=torch.bool)
    real_covered = torch.zeros(len(real), dtype=torch.bool)
    for i in range(0, len(real), chunk_size):
        dist = torch.cdist(real[i:i + chunk_size], fake)  # (chunk, M)
        radii = real_radii[i:i + chunk_size]
        balls_per_fake += (dist < radii[:, None]).sum(dim=0)
        real_recalled[i:i + chunk_size] = (dist < fake_radii[None, :]).any(dim=1)
        real_covered[i:i + chunk_size] = dist.min(dim=1).values < radii
    return {
        "precision": float((balls_per_fake > 0).double().mean()),
        "recall": float(real_recalled.double().mean()),
        "density": float(balls_per_fake.double().mean() / k),
        "coverage": float(real_covered.double().mean()),
    }


def precision_recall(real_features: Any, fake_features: Any, k: int = 3,
                     chunk_size: int = CHUNK) -> dict[str, float]:
    """Improved precision and recall (Kynkäänniemi et al. 2019; their default ``k = 3``)."""
    scores = prdc(real_features, fake_features, k, chunk_size)
    return {"precision": scores["precision"], "recall": scores["recall"]}


def _tensors(real_features: Any, fake_features: Any, k: int) -> tuple[torch.Tensor, ...]:
    real = as_features(real_features, "real_features")
    fake = as_features(fake_features, "fake_features")
    check_same_dim(real, fake)
    if int(k) != k or k < 1:
        raise ValueError(f"k must be a positive integer, got {k}")
    smallest = min(len(real), len(fake))
    if k >= smallest:
        raise ValueError(f"k = {k} needs more than k samples in each set, got {len(real)} real "
                         f"and {len(fake)} fake")
    return tuple(torch.from_numpy(np.ascontiguousarray(x)) for x in (real, fake))
