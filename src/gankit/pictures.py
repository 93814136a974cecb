"""What a recipe that samples from noise shows: grids of samples, or scatter plots of 2-D points.

:class:`NoiseSamplePictures` draws from one fixed noise batch every sample interval (so that
progress from noise to data is visible), one row per class for a conditional generator, and a
final grid (``grid_final.png``) or scatter (``scatter_final.png``).
"""

from __future__ import annotations

from pathlib import Path

import torch

from gankit.data import Dataset
from gankit.recipes.capabilities import SamplesFromNoise
from gankit.viz import save_image_grid, save_scatter

SCATTER_POINTS = 2500
_CHUNK = 512


def class_rows(n: int, num_classes: int) -> tuple[torch.Tensor | None, int | None]:
    """Labels for a grid with one row per class (``n // K`` per row), and the row length."""
    if not num_classes:
        return None, None
    per_class = max(1, n // num_classes)
    return torch.arange(num_classes).repeat_interleave(per_class), per_class


class NoiseSamplePictures:
    """Sample grids (or scatter plots for points) of a :class:`SamplesFromNoise` recipe."""

    def __init__(self, sampler: SamplesFromNoise, dataset: Dataset, seed: int, grid: int,
                 final_grid: int) -> None:
        self.sampler, self.seed, self.final_grid = sampler, seed, final_grid
        self.kind, self.normalize = dataset.kind, dataset.normalize
        self.real_points = dataset.x[:5000] if dataset.kind == "points" else None
        self.centres = dataset.mode_centres
        n = SCATTER_POINTS if dataset.kind == "points" else grid
        self.fixed_labels, self.nrow = class_rows(n, sampler.num_classes)
        if self.fixed_labels is not None:
            n = len(self.fixed_labels)
        self.fixed_noise = sampler.noise(n, torch.Generator().manual_seed(seed + 1))

    def progress(self, path: Path, step: int) -> Path:
        samples = self._draw(self.fixed_noise, self.fixed_labels)
        return self._write(samples, path, f"step {step}", self.nrow)

    def final(self, run_dir: Path) -> list[Path]:
        """``grid_final.png`` (one row per class when conditional) or ``scatter_final.png``."""
        if self.kind == "points":
            samples = self._draw(self.fixed_noise, None)
            return [self._write(samples, run_dir / "scatter_final.png", "final samples")]
        labels, nrow = class_rows(self.final_grid, self.sampler.num_classes)
        n = self.final_grid if labels is None else len(labels)
        z = self.sampler.noise(n, torch.Generator().manual_seed(self.seed + 2))
        return [self._write(self._draw(z, labels), run_dir / "grid_final.png", "final samples",
                            nrow)]

    def _draw(self, z: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        parts = [self.sampler.generate(chunk, labels=None if labels is None else
                                       labels[i:i + _CHUNK]).float().cpu()
                 for i, chunk in zip(range(0, len(z), _CHUNK), z.split(_CHUNK), strict=True)]
        return torch.cat(parts)

    def _write(self, samples: torch.Tensor, path: Path, title: str,
               nrow: int | None = None) -> Path:
        if self.kind == "points":
            return save_scatter(samples, self.real_points, path, self.centres, title=title)
        return save_image_grid(samples, path, normalize=self.normalize, nrow=nrow)
