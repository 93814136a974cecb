"""2-D Gaussian mixtures for mode-collapse studies (PacGAN's ring of 8 and grid of 25)."""

from __future__ import annotations

import math

import torch
from pydantic import Field

from gankit.config import DataConfig
from gankit.data.base import DATASETS, Dataset, DataSource, Evaluation
from gankit.options import StrictModel


class _MixtureOptions(StrictModel):
    n_samples: int = Field(100_000, ge=1, le=100_000_000)
    seed: int = Field(0, ge=0, lt=2**63)


class RingOptions(_MixtureOptions):
    """``modes`` Gaussians of std ``std`` evenly spaced on a circle of ``radius``."""

    modes: int = Field(8, ge=1, le=100_000)
    radius: float = Field(1.0, gt=0.0, le=1e6)
    std: float = Field(0.01, gt=0.0, le=1e6)


class GridOptions(_MixtureOptions):
    """``side × side`` Gaussians of std ``std`` on a grid of ``spacing``, centred at 0."""

    side: int = Field(5, ge=1, le=1_000)
    spacing: float = Field(2.0, gt=0.0, le=1e6)
    std: float = Field(0.05, gt=0.0, le=1e6)


def ring_centres(modes: int, radius: float) -> torch.Tensor:
    """``(modes, 2)`` centres at angles ``2πk/modes``, k = 0..modes-1 (all distinct)."""
    angles = 2.0 * math.pi * torch.arange(modes, dtype=torch.float64) / modes
    return (radius * torch.stack([angles.cos(), angles.sin()], dim=1)).float()


def grid_centres(side: int, spacing: float) -> torch.Tensor:
    """``(side², 2)`` centres ``(i - (side-1)/2) · spacing`` for each pair of i, row-major."""
    coords = (torch.arange(side, dtype=torch.float64) - (side - 1) / 2.0) * spacing
    gx, gy = torch.meshgrid(coords, coords, indexing="ij")
    return torch.stack([gx.reshape(-1), gy.reshape(-1)], dim=1).float()


def sample_mixture(name: str, centres: torch.Tensor, std: float, n: int, seed: int) -> Dataset:
    """``n`` points, each from a uniformly chosen mode (own generator: global RNG untouched)."""
    gen = torch.Generator().manual_seed(seed)
    labels = torch.randint(len(centres), (n,), generator=gen)
    x = centres[labels] + std * torch.randn(n, 2, generator=gen)
    return Dataset(
        name=name,
        x=x.float(),
        kind="points",
        labels=labels,
        class_names=[str(i) for i in range(len(centres))],
        mode_centres=centres,
        mode_std=float(std),
        info={"modes": len(centres), "std": float(std), "seed": seed},
    )


def load_ring(cfg: DataConfig, options: RingOptions) -> Dataset:
    centres = ring_centres(options.modes, options.radius)
    return sample_mixture("ring8", centres, options.std, options.n_samples, options.seed)


def load_grid(cfg: DataConfig, options: GridOptions) -> Dataset:
    centres = grid_centres(options.side, options.spacing)
    return sample_mixture("grid25", centres, options.std, options.n_samples, options.seed)


#: modes counted on 2,500 samples, as VEEGAN and PacGAN do
MIXTURE = Evaluation(modes="mixture", mode_samples=2500)

DATASETS.add(
    "ring8",
    DataSource(
        load_ring, RingOptions, "8 Gaussians on a unit circle, std 0.01 (2-D toy, PacGAN setting)",
        MIXTURE,
    ),
)
DATASETS.add(
    "grid25",
    DataSource(
        load_grid, GridOptions, "25 Gaussians on a 5×5 grid {-4..4}², std 0.05 (2-D toy, PacGAN)",
        MIXTURE,
    ),
)
