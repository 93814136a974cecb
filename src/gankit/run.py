"""A finished (or checkpointed) run, loaded back from its folder for sampling."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from gankit.config import RunConfig
from gankit.errors import GankitError
from gankit.models import DataSpec
from gankit.recipes import RECIPES, Recipe
from gankit.recipes.base import balanced_labels
from gankit.training import rundir
from gankit.training.checkpoint import load_latest
from gankit.training.hooks import class_rows
from gankit.training.trainer import resolve_device
from gankit.viz import save_image_grid, save_scatter


class Run:
    """A run folder with its trained networks: ``run.sample(n)`` draws new samples."""

    def __init__(self, path: Path, config: RunConfig, spec: DataSpec, facts: dict,
                 recipe: Recipe, step: int) -> None:
        self.path, self.config, self.spec, self.facts = path, config, spec, facts
        self.recipe, self.step = recipe, step

    @property
    def num_classes(self) -> int:
        """Classes the generator is conditioned on (0 for an unconditional run)."""
        return self.recipe.num_classes

    def labels_for(self, n: int, labels: int | torch.Tensor | None) -> torch.Tensor | None:
        """Check and expand requested classes: one class for all, one per sample, or balanced."""
        if labels is None:
            return balanced_labels(n, self.num_classes) if self.num_classes else None
        if not self.num_classes:
            raise GankitError(f"Run {str(self.path)!r} is not class-conditional; labels need a "
                              "run trained with model.conditional=projection or acgan.")
        labels = torch.as_tensor(labels, dtype=torch.long).cpu()
        labels = labels.expand(n) if labels.ndim == 0 else labels
        if labels.shape != (n,) or labels.min() < 0 or labels.max() >= self.num_classes:
            raise GankitError(f"Labels must be class numbers from 0 to {self.num_classes - 1} "
                              f"({', '.join(self.spec.class_names)}), one or one per sample.")
        return labels

    def sample(self, n: int, seed: int | None = None, use_ema: bool = True,
               batch_size: int = 500, labels: int | torch.Tensor | None = None) -> torch.Tensor:
        """``n`` samples on the CPU in the data's range (EMA generator weights when present).

        Conditional runs draw class ``labels`` (an int for all samples, or one per sample;
        default every class equally often, in the order 0, 1, …, K−1, 0, …).
        """
        if n < 1:
            raise GankitError(f"The number of samples must be at least 1 (got {n}).")
        classes = self.labels_for(n, labels)
        gen = torch.Generator().manual_seed(seed) if seed is not None else None
        chunks = []
        for start in range(0, n, batch_size):
            z = self.recipe.noise(min(batch_size, n - start), gen)
            part = None if classes is None else classes[start : start + len(z)].to(z.device)
            chunks.append(self.recipe.generate(z, use_ema=use_ema, labels=part).float().cpu())
        return torch.cat(chunks)

    def save_samples(self, path: str | Path, n: int, seed: int | None = None,
                     use_ema: bool = True, labels: int | torch.Tensor | None = None) -> Path:
        """Write ``n`` samples as a PNG grid (or scatter for 2D points) or an ``.npz``.

        A conditional run's grid has one row per class unless ``labels`` picks the classes;
        its ``.npz`` also holds the ``labels``.
        """
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix not in (".png", ".npz"):
            raise GankitError(f"Output {str(path)!r} must end in .png or .npz.")
        nrow = None
        if labels is None and self.num_classes and suffix == ".png":
            labels, nrow = class_rows(n, self.num_classes)
            n = len(labels)
        classes = self.labels_for(n, labels)
        samples = self.sample(n, seed, use_ema, labels=classes)
        if suffix == ".npz":
            path.parent.mkdir(parents=True, exist_ok=True)
            extra = {} if classes is None else {"labels": classes.numpy()}
            np.savez_compressed(path, x=samples.numpy(), normalize=self.spec.normalize, **extra)
            return path
        if self.spec.kind == "points":
            centres = self.facts.get("mode_centres")
            return save_scatter(samples, None, path,
                                torch.tensor(centres) if centres else None, title=f"{n} samples")
        return save_image_grid(samples, path, normalize=self.spec.normalize, nrow=nrow)


def load(run_dir: str | Path, device: str = "cpu") -> Run:
    """Load a run folder's config and its latest checkpoint."""
    path = Path(run_dir)
    cfg, spec, facts = rundir.read_run_dir(path)
    recipe = RECIPES.get(cfg.recipe)(cfg, spec, resolve_device(device))
    found = load_latest(path / rundir.CHECKPOINTS)
    if found is None:
        raise GankitError(f"Run folder {str(path)!r} has no checkpoint yet; train it first.")
    step, state, _ = found
    for name, module in recipe.modules().items():
        module.load_state_dict(state["modules"][name])
    return Run(path, cfg, spec, facts, recipe, step)
