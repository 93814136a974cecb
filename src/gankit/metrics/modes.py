"""Mode-collapse metrics: modes captured, high-quality share, KL of the mode histogram.

The protocol of the 2-D mixture benchmarks (VEEGAN, PacGAN): a sample is *high quality* if it lies
within ``3 σ`` of its nearest mode centre; a mode is *captured* if at least one high-quality
sample has it as nearest centre. The KL divergence compares the histogram of high-quality samples
over the modes with the uniform distribution (natural log).
"""

from __future__ import annotations

from typing import Any

import torch


def kl_to_uniform(counts: torch.Tensor) -> float:
    """KL(p ‖ uniform) in nats for a histogram of counts over K modes (0 log 0 = 0).

    Returns ``inf`` for an empty histogram: nothing was generated on any mode.
    """
    counts = counts.double()
    total = counts.sum()
    if total <= 0:
        return float("inf")
    p = counts / total
    k = counts.numel()
    nz = p > 0
    return float((p[nz] * (p[nz] * k).log()).sum())


def mixture_modes(samples: torch.Tensor, centres: torch.Tensor, std: float,
                  threshold: float = 3.0) -> dict[str, Any]:
    """Mode metrics of 2-D ``samples`` against a mixture's ``centres`` of std ``std``."""
    samples, centres = samples.double().cpu(), centres.double().cpu()
    dist = torch.cdist(samples, centres)
    nearest_dist, nearest = dist.min(dim=1)
    high_quality = nearest_dist <= threshold * std
    counts = torch.bincount(nearest[high_quality], minlength=len(centres))
    return {
        "modes": int((counts > 0).sum()),
        "modes_total": len(centres),
        "high_quality": float(high_quality.double().mean()) if len(samples) else 0.0,
        "kl_uniform": kl_to_uniform(counts),
        "counts": counts.tolist(),
    }
