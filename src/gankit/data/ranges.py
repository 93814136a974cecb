"""The data ranges of images and the one place that converts between them and [0, 1].

A config's ``data.normalize`` names the range images are kept and generated in:
``"symmetric"`` = [-1, 1] (x = 2u − 1) or ``"unit"`` = [0, 1] (x = u). Everything that shows,
measures or reads images converts through :func:`to_unit` and :func:`from_unit`.
"""

from __future__ import annotations

import torch

NORMALIZE = ("symmetric", "unit")


def _check(normalize: str) -> None:
    if normalize not in NORMALIZE:
        raise ValueError(f"normalize must be 'symmetric' or 'unit', not {normalize!r}")


def to_unit(x: torch.Tensor, normalize: str, *, clamp: bool = True,
            detach: bool = True) -> torch.Tensor:
    """Images from the data range ``normalize`` to [0, 1], as float32.

    ``clamp`` clips the result to [0, 1] (against rounding and generator overshoot);
    ``detach=False`` keeps the result differentiable (for losses; with ``clamp`` the gradient is
    zero where the clip is active).
    """
    _check(normalize)
    x = x.float()
    if detach:
        x = x.detach()
    if normalize == "symmetric":
        x = (x + 1.0) / 2.0
    return x.clamp(0.0, 1.0) if clamp else x


def from_unit(x: torch.Tensor, normalize: str, *, clamp: bool = True) -> torch.Tensor:
    """Images in [0, 1] to the data range ``normalize`` (input clamped to [0, 1] first).

    Differentiable; the dtype is kept.
    """
    _check(normalize)
    if clamp:
        x = x.clamp(0.0, 1.0)
    return x * 2.0 - 1.0 if normalize == "symmetric" else x


def from_unit_(x: torch.Tensor, normalize: str) -> torch.Tensor:
    """:func:`from_unit` in place, for data sets being loaded (``x`` already in [0, 1]): no copy
    of a large tensor is made."""
    _check(normalize)
    return x.mul_(2.0).sub_(1.0) if normalize == "symmetric" else x
