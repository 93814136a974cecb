"""``curve``: noisy points (x, f(x)) of a known function, for recipes that fit a function.

x is uniform on [-3, 3] and y = sin(2x) + 0.3x plus Gaussian noise of std ``noise``; both are
columns of one ``(N, 2)`` tensor (2-D points, so ``gankit eval`` and the scatter plots apply).
"""

from __future__ import annotations

import torch
from pydantic import Field

from gankit.config import DataConfig
from gankit.data.base import DATASETS, Dataset, DataSource
from gankit.options import StrictModel


class CurveOptions(StrictModel):
    n_samples: int = Field(4096, ge=2, le=10_000_000)
    noise: float = Field(0.1, ge=0.0, le=10.0)
    seed: int = Field(0, ge=0, lt=2**63)


def curve(x: torch.Tensor) -> torch.Tensor:
    """The function the points lie around."""
    return torch.sin(2.0 * x) + 0.3 * x


def load_curve(cfg: DataConfig, options: CurveOptions) -> Dataset:
    gen = torch.Generator().manual_seed(options.seed)
    x = torch.rand(options.n_samples, 1, generator=gen) * 6.0 - 3.0
    y = curve(x) + options.noise * torch.randn(options.n_samples, 1, generator=gen)
    return Dataset(name="curve", x=torch.cat([x, y], dim=1), kind="points",
                   info={"function": "sin(2x) + 0.3x", "noise": options.noise,
                         "seed": options.seed})


DATASETS.add("curve", DataSource(load_curve, CurveOptions,
                                 "noisy points of y = sin(2x) + 0.3x on [-3, 3] (for fitting)"))
