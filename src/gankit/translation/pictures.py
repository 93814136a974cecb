"""What a translation run shows: rows of input / output / target for a fixed set of images.

Each sample interval writes one grid: for a one-way translator (pix2pix) the rows are the inputs
A, their outputs G(A) and the targets B; for CycleGAN A → G_AB(A) → G_BA(G_AB(A)) and
B → G_BA(B) → G_AB(G_BA(B)). The images are the first ``COLUMNS`` of the training data; grey
rows are shown in grey next to colour ones. ``translation_final.png`` is the last such grid.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import torch

from gankit.viz import save_image_grid

if TYPE_CHECKING:
    from gankit.data import Dataset
    from gankit.recipes.translation import TranslationRecipe

COLUMNS = 8


def as_rgb(rows: list[torch.Tensor]) -> list[torch.Tensor]:
    """The rows with grey images repeated to three channels when any row is in colour."""
    if all(r.shape[1] == rows[0].shape[1] for r in rows):
        return rows
    return [r.expand(-1, 3, -1, -1) if r.shape[1] == 1 else r for r in rows]


class TranslationPictures:
    """Input / output / target rows of a :class:`TranslationRecipe`."""

    def __init__(self, recipe: TranslationRecipe, dataset: Dataset) -> None:
        self.recipe, self.normalize = recipe, dataset.normalize
        n = min(COLUMNS, len(dataset), len(dataset.a))
        self.a, self.b = dataset.inputs(slice(0, n)), dataset.rows(slice(0, n))
        self.paired = dataset.paired

    def rows(self) -> list[torch.Tensor]:
        t = self.recipe.translate
        fake_b = t(self.a, "AtoB")
        if "BtoA" not in self.recipe.directions:
            return [self.a, fake_b, self.b] if self.paired else [self.a, fake_b]
        fake_a = t(self.b, "BtoA")
        return [self.a, fake_b, t(fake_b, "BtoA"), self.b, fake_a, t(fake_a, "AtoB")]

    def progress(self, path: Path, step: int) -> Path:
        rows = as_rgb(self.rows())
        return save_image_grid(torch.cat(rows), path, normalize=self.normalize,
                               nrow=len(self.a))

    def final(self, run_dir: Path) -> list[Path]:
        return [self.progress(run_dir / "translation_final.png", -1)]
