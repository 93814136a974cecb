"""Small tensor transforms shared by the image sources (data ranges: :mod:`.ranges`)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def resize_images(x: torch.Tensor, size: int) -> torch.Tensor:
    """Resize a float ``(N, C, H, W)`` batch to ``size × size`` (antialiased bilinear)."""
    if x.shape[-2:] == (size, size):
        return x
    antialias = size < x.shape[-1]
    return F.interpolate(x, size=(size, size), mode="bilinear", antialias=antialias,
                         align_corners=False).clamp(0.0, 1.0)


def center_crop_square(x: torch.Tensor) -> torch.Tensor:
    """Crop a ``(N, C, H, W)`` batch to its central ``min(H, W)`` square."""
    h, w = x.shape[-2:]
    s = min(h, w)
    top, left = (h - s) // 2, (w - s) // 2
    return x[..., top : top + s, left : left + s]


def to_channels(x: torch.Tensor, channels: int | None) -> torch.Tensor:
    """Convert a ``(N, C, H, W)`` batch to 1 (ITU-R 601 luma) or 3 (repeated grey) channels."""
    if channels is None or x.shape[1] == channels:
        return x
    if channels == 3:
        return x.expand(-1, 3, -1, -1).contiguous()
    weights = torch.tensor([0.299, 0.587, 0.114], dtype=x.dtype).view(1, 3, 1, 1)
    return (x * weights).sum(dim=1, keepdim=True)
