"""Per-pixel residuals between images and their reconstructions, for scores and heat maps."""

from __future__ import annotations

import torch

from gankit.data.ranges import to_unit


def residual_map(x: torch.Tensor, x_hat: torch.Tensor, normalize: str) -> torch.Tensor:
    """``(N, 1, H, W)``: |x − x̂| in [0, 1] units, averaged over the channels."""
    diff = to_unit(x, normalize, clamp=False) - to_unit(x_hat, normalize, clamp=False)
    return diff.abs().mean(1, keepdim=True).cpu()
