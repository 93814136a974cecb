"""Paths between latent codes: linear (lerp) and spherical (slerp) interpolation.

``slerp`` moves the *direction* along the great circle between ``a`` and ``b`` and the *norm*
linearly from ``|a|`` to ``|b|``; for vectors of equal norm this is the textbook formula
``sin((1−t)Ω)/sin Ω · a + sin(tΩ)/sin Ω · b`` (Shoemake, 1985), whose norm stays constant,
instead of dipping towards the origin as lerp does between two Gaussian codes.
Nearly parallel vectors fall back to lerp of the directions; exactly opposite ones turn through a
fixed perpendicular direction, so no NaN appears.
"""

from __future__ import annotations

import math
from typing import Literal

import torch

Mode = Literal["linear", "spherical"]
MODES: tuple[Mode, ...] = ("linear", "spherical")
_PARALLEL = 1e-6  # angles (radians) this close to 0 or π count as parallel / opposite


def lerp(a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
    """``(1 − t)·a + t·b`` for batches of vectors (..., D)."""
    return (1.0 - t) * a + t * b


def slerp(a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
    """Spherical interpolation of batches of vectors (..., D); see the module docstring."""
    dtype = a.dtype
    a64, b64 = a.double(), b.double()
    na, nb = a64.norm(dim=-1, keepdim=True), b64.norm(dim=-1, keepdim=True)
    ua, ub = a64 / na.clamp_min(1e-300), b64 / nb.clamp_min(1e-300)
    cos = (ua * ub).sum(-1, keepdim=True).clamp(-1.0, 1.0)
    omega = torch.arccos(cos)
    sin = torch.sin(omega)
    safe_sin = torch.where(sin > 1e-12, sin, torch.ones_like(sin))
    direction = (torch.sin((1.0 - t) * omega) * ua + torch.sin(t * omega) * ub) / safe_sin
    parallel = omega < _PARALLEL
    if parallel.any():
        flat = lerp(ua, ub, t)
        direction = torch.where(parallel, flat / flat.norm(dim=-1, keepdim=True).clamp_min(1e-300),
                                direction)
    opposite = omega > math.pi - _PARALLEL
    if opposite.any():
        perp = _perpendicular(ua)
        turned = math.cos(t * math.pi) * ua + math.sin(t * math.pi) * perp
        direction = torch.where(opposite, turned, direction)
    norm = lerp(na, nb, t)
    # a zero endpoint has no direction: use the other one's
    direction = torch.where(na == 0, ub, torch.where(nb == 0, ua, direction))
    return (direction * norm).to(dtype)


def _perpendicular(u: torch.Tensor) -> torch.Tensor:
    """A unit vector perpendicular to each unit vector ``u`` (the least aligned axis, made
    orthogonal); for one-dimensional vectors there is none and ``u`` itself is returned."""
    if u.shape[-1] < 2:
        return u
    axis = torch.zeros_like(u).scatter_(-1, u.abs().argmin(-1, keepdim=True), 1.0)
    p = axis - (axis * u).sum(-1, keepdim=True) * u
    return p / p.norm(dim=-1, keepdim=True)


def interpolation_path(a: torch.Tensor, b: torch.Tensor, steps: int,
                       mode: Mode = "spherical") -> torch.Tensor:
    """``steps`` points from ``a`` to ``b`` (both ends included): shape ``(steps, *a.shape)``."""
    if steps < 2:
        raise ValueError(f"an interpolation needs at least 2 steps, got {steps}")
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    fn = lerp if mode == "linear" else slerp
    ts = torch.linspace(0.0, 1.0, steps, dtype=torch.float64).tolist()
    points = [fn(a, b, t) for t in ts]
    points[0], points[-1] = a.clone(), b.clone()  # the ends exactly, whatever the rounding
    return torch.stack(points)
