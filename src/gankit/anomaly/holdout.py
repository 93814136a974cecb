"""The validation split of the normal data: what detectors select on, never the test set."""

from __future__ import annotations

from dataclasses import replace

import torch

from gankit.data import Dataset
from gankit.errors import GankitError

#: offset of the split's seed from the run's seed (the split differs from the batch order)
SPLIT_SEED_OFFSET = 7919


def split_normal(dataset: Dataset, fraction: float, seed: int) -> tuple[Dataset, Dataset]:
    """``(training part, validation part)`` of ``dataset``: a seeded random ``fraction`` of its
    samples held out (at least one, and at least one left to train on). The same data, fraction
    and seed always give the same split, so later commands can rebuild it from the run's
    config."""
    n = len(dataset)
    held = max(1, round(fraction * n))
    if n < 2 or held >= n:
        raise GankitError(f"The normal data has {n} samples, too few to hold out "
                          f"{fraction:.0%} for validation; use more data or a smaller holdout.")
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed + SPLIT_SEED_OFFSET))
    val, train = perm[:held].sort().values, perm[held:].sort().values
    return _rows(dataset, train, "train"), _rows(dataset, val, "validation")


def _rows(dataset: Dataset, idx: torch.Tensor, part: str) -> Dataset:
    labels = dataset.labels[idx] if dataset.labels is not None else None
    return replace(dataset, x=dataset.x[idx], labels=labels,
                   info={**dataset.info, "normal_split": part})
