"""Attributes measured on images in [0, 1] (ink is bright, as in MNIST): one number per image.

* ``thickness``: stroke width in pixels, ``2 · ink area / ink perimeter``. The area is the sum
  of the intensities; the perimeter their total variation (summed absolute differences between
  4-neighbours, the image framed by blank pixels), which for a binary stroke counts its boundary
  edges. A straight bar of width w and length L gives ``wL / (w + L)`` ≈ w (no skeleton needed).
  Diagonal strokes count a staircase boundary, so they measure thinner by up to √2.
* ``slant``: the second-moment shear of the ink, ``cov(x, y) / var(y)`` with x to the right and
  y upwards (the quantity MNIST deskewing removes): the horizontal shift per pixel of height,
  positive for strokes leaning right (``/``), 0 for upright ones.
* ``ink``: the mean intensity (ink mass per pixel).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

_EPS = 1e-8


def _grey(images: torch.Tensor) -> torch.Tensor:
    """``(N, C, H, W)`` or ``(N, H, W)`` images → float64 ``(N, H, W)`` (channel mean)."""
    if images.ndim == 4:
        images = images.mean(dim=1)
    if images.ndim != 3:
        raise ValueError(f"images must be (N, C, H, W) or (N, H, W), got {tuple(images.shape)}")
    return images.detach().double().cpu()


def ink(images: torch.Tensor) -> torch.Tensor:
    """Mean intensity of each image."""
    return _grey(images).flatten(1).mean(1)


def thickness(images: torch.Tensor) -> torch.Tensor:
    """Stroke width in pixels, ``2 · area / perimeter`` (0 for a blank image)."""
    g = torch.nn.functional.pad(_grey(images), (1, 1, 1, 1))
    area = g.flatten(1).sum(1)
    perimeter = ((g[:, :, 1:] - g[:, :, :-1]).abs().flatten(1).sum(1)
                 + (g[:, 1:, :] - g[:, :-1, :]).abs().flatten(1).sum(1))
    return torch.where(perimeter > _EPS, 2.0 * area / perimeter.clamp_min(_EPS),
                       torch.zeros_like(area))


def slant(images: torch.Tensor) -> torch.Tensor:
    """Horizontal shift per pixel of height of the ink, ``cov(x, y) / var(y)`` (y upwards)."""
    g = _grey(images).clamp_min(0.0)
    _, h, w = g.shape
    y = -torch.arange(h, dtype=torch.float64)[:, None].expand(h, w)
    x = torch.arange(w, dtype=torch.float64)[None, :].expand(h, w)
    mass = g.flatten(1).sum(1).clamp_min(_EPS)

    def mean(v: torch.Tensor) -> torch.Tensor:
        return (g * v).flatten(1).sum(1) / mass

    my, mx = mean(y), mean(x)
    cov = mean(x * y) - mx * my
    var = mean(y * y) - my * my
    return torch.where(var > _EPS, cov / var.clamp_min(_EPS), torch.zeros_like(var))


ATTRIBUTES: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "thickness": thickness,
    "slant": slant,
    "ink": ink,
}


def measure(name: str, images: torch.Tensor) -> torch.Tensor:
    """Attribute ``name`` of images in [0, 1]: a float64 ``(N,)`` tensor."""
    if name not in ATTRIBUTES:
        raise ValueError(f"unknown attribute {name!r}; known: {', '.join(ATTRIBUTES)}")
    return ATTRIBUTES[name](images)
