"""CIFAR-10 image-translation tasks (how tasks load, pair and swap: :mod:`.tasks`).

B is the CIFAR-10 image (32×32 RGB, the ``cifar10`` loader's files and order). At the native size
both domains are kept as 8-bit pixels (``pixels8``, a quarter of the memory; decoded batch by
batch), so A is rounded to 8 bits as stated; with ``data.image_size`` B is resized first (float32)
and A is computed from it in float32, unrounded.

``cifar10-colour``: A = the ITU-R 601 luma of B, 1 channel: ``0.299 R + 0.587 G + 0.114 B``. On the
    8-bit pixels it is rounded to the nearest value, halves up, computed exactly in integers:
    ``A = (299 R + 587 G + 114 B + 500) // 1000``. B stays in colour (``data.channels=1`` is
    refused).
``cifar10-superres``: A = B down-scaled by ``scale`` (option, 2 or 4, default 2) and scaled back
    up: ``lo = F.interpolate(b, size=(H // scale, W // scale), mode="bicubic", antialias=True,
    align_corners=False).clamp(0, 1)``, ``A = F.interpolate(lo, size=(H, W), mode="bicubic",
    align_corners=False).clamp(0, 1)`` on the float32 [0, 1] image ``b`` (8-bit B: ``b = B / 255``,
    then ``A = round(255·A)`` as 8 bits, half to even); ``torch.nn.functional`` as ``F``.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F

from gankit.config import DataConfig
from gankit.data.base import DATASETS, Dataset, DataSource, Evaluation
from gankit.data.cifar import CifarOptions
from gankit.data.tasks import PairFields, chunked, load_source, pair_dataset
from gankit.errors import GankitError

_LUMA = (0.299, 0.587, 0.114)


class CifarTaskOptions(CifarOptions, PairFields):
    """Options of the CIFAR-10 tasks: ``split``, ``download``, ``mirror``, ``paired``,
    ``direction``."""


class SuperresOptions(CifarTaskOptions):
    """Options of ``cifar10-superres``; ``scale``: the down-scaling factor."""

    scale: Literal[2, 4] = 2


def luma(x: torch.Tensor) -> torch.Tensor:
    """ITU-R 601 luma ``(N, 1, H, W)`` of RGB images: float [0, 1] ones exactly, uint8 ones
    rounded (halves up) in integer arithmetic."""
    if x.dtype == torch.uint8:
        def grey8(part: torch.Tensor) -> torch.Tensor:
            r, g, b = part.to(torch.int32).unbind(1)
            return ((299 * r + 587 * g + 114 * b + 500) // 1000).to(torch.uint8).unsqueeze(1)

        return chunked(grey8, x)
    r, g, b = x.unbind(1)
    return (_LUMA[0] * r + _LUMA[1] * g + _LUMA[2] * b).unsqueeze(1)


def down_up(x: torch.Tensor, scale: int) -> torch.Tensor:
    """Images down-scaled by ``scale`` (antialiased bicubic) and up again (bicubic), clamped to
    [0, 1]; uint8 images (pixel values) in, uint8 out (rounded)."""
    def resample(b: torch.Tensor) -> torch.Tensor:
        h, w = b.shape[-2:]
        lo = F.interpolate(b, size=(h // scale, w // scale), mode="bicubic", antialias=True,
                           align_corners=False).clamp_(0.0, 1.0)
        return F.interpolate(lo, size=(h, w), mode="bicubic", align_corners=False).clamp_(0.0, 1.0)

    if x.dtype == torch.uint8:
        return chunked(lambda p: resample(p.float().div_(255.0)).mul_(255.0).round_()
                        .to(torch.uint8), x)
    return resample(x)


def load_colour(cfg: DataConfig, options: CifarTaskOptions) -> Dataset:
    """``cifar10-colour``: A = the luma of the colour image B (module docstring)."""
    if cfg.channels == 1:
        raise GankitError("cifar10-colour needs its colour images; remove data.channels=1.")
    source = load_source(cfg, "cifar10", options)
    return pair_dataset("cifar10-colour", cfg, options, source, source.x, lambda b, _: luma(b),
                        source.pixels8,
                        operator="ITU-R 601 luma 0.299 R + 0.587 G + 0.114 B" + (
                            ", 8-bit: (299 R + 587 G + 114 B + 500) // 1000"
                            if source.pixels8 else ""))


def load_superres(cfg: DataConfig, options: SuperresOptions) -> Dataset:
    """``cifar10-superres``: A = B down-scaled by ``scale`` and up again (module docstring)."""
    source = load_source(cfg, "cifar10", options)
    return pair_dataset("cifar10-superres", cfg, options, source, source.x,
                        lambda b, _: down_up(b, options.scale), source.pixels8, scale=options.scale,
                        operator=f"bicubic down x{options.scale} (antialiased), bicubic up, "
                                 "clamped" + (", rounded to 8 bits" if source.pixels8 else ""))


_CIFAR_EVAL = Evaluation(test_split=True, classifier="cifar10")
DATASETS.add("cifar10-colour", DataSource(
    load_colour, CifarTaskOptions,
    "CIFAR-10 colourisation: A = the ITU-R 601 luma (1 channel), B = the colour image, 32×32",
    _CIFAR_EVAL))
DATASETS.add("cifar10-superres", DataSource(
    load_superres, SuperresOptions,
    "CIFAR-10 super-resolution: A = the image bicubic-down-scaled by 2 or 4 and up again, B = the "
    "image, 32×32 RGB", _CIFAR_EVAL))
