"""PacGAN packing: D judges ``pack`` samples at once, which penalises mode collapse.

Lin et al. (2018): concatenating k samples (all real or all generated) along the feature or
channel axis lets D see the diversity of a set, not just the realism of one sample.
"""

from __future__ import annotations

from dataclasses import replace

import torch
from torch import nn

from gankit.models.base import DataSpec


def packed_spec(spec: DataSpec, pack: int) -> DataSpec:
    """The sample shape D sees: features (points) or channels (images) times ``pack``."""
    first, *rest = spec.sample_shape
    return replace(spec, sample_shape=(first * pack, *rest))


class PackedDiscriminator(nn.Module):
    """Reshapes ``(N, F, ...)`` to ``(N / pack, pack·F, ...)`` and scores each pack."""

    def __init__(self, inner: nn.Module, pack: int) -> None:
        super().__init__()
        self.inner, self.pack = inner, pack

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        if n % self.pack:
            raise ValueError(f"batch of {n} cannot be split into packs of {self.pack}")
        return self.inner(x.reshape(n // self.pack, self.pack * x.shape[1], *x.shape[2:]))
