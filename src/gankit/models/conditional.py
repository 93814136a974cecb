"""Class-conditional wrappers around any family's G and D.

* :class:`ConditionalGenerator`: the class enters G as a one-hot vector concatenated to z
  (Mirza & Osindero, 2014), so the inner G is built for ``z_dim + num_classes`` inputs.
* :class:`ConditionalDiscriminator`: ``projection`` adds ``⟨embed(y), φ(x)⟩`` to the score,
  φ being the inner D's features under its last layer (Miyato & Koyama, 2018); ``acgan`` adds a
  class head on φ(x) whose cross-entropy both players also minimise (Odena et al., 2017).
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

Conditioning = Literal["none", "projection", "acgan"]


class ConditionalGenerator(nn.Module):
    """``G(z, y) = inner([z, one_hot(y)])``."""

    def __init__(self, inner: nn.Module, num_classes: int) -> None:
        super().__init__()
        self.inner, self.num_classes = inner, num_classes

    def forward(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        code = F.one_hot(labels.long(), self.num_classes).to(z.dtype)
        return self.inner(torch.cat([z, code], dim=1))


class ConditionalDiscriminator(nn.Module):
    """Scores ``(x, y)`` pairs; returns ``(scores (N,), class logits (N, K) or None)``.

    The inner D must expose ``features(x)`` and ``head`` (both families do).
    """

    def __init__(self, inner: nn.Module, num_classes: int, mode: Conditioning) -> None:
        super().__init__()
        if mode not in ("projection", "acgan"):
            raise ValueError(f"unknown conditioning {mode!r}")
        self.inner, self.num_classes, self.mode = inner, num_classes, mode
        width = inner.head.in_features
        if mode == "projection":
            self.embed = nn.Embedding(num_classes, width)
            nn.init.normal_(self.embed.weight, std=0.02)
        else:
            self.classes = nn.Linear(width, num_classes)

    def forward(self, x: torch.Tensor,
                labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        h = self.inner.features(x)
        scores = self.inner.head(h).squeeze(1)
        if self.mode == "projection":
            return scores + (self.embed(labels.long()) * h).sum(dim=1), None
        return scores, self.classes(h)
