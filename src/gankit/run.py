"""A finished (or checkpointed) run, loaded back from its folder for sampling."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from gankit.config import RunConfig
from gankit.errors import GankitError
from gankit.models import DataSpec
from gankit.recipes import RECIPES, Recipe
from gankit.training import rundir
from gankit.training.checkpoint import load_latest
from gankit.training.trainer import resolve_device
from gankit.viz import save_image_grid, save_scatter


class Run:
    """A run folder with its trained networks: ``run.sample(n)`` draws new samples."""

    def __init__(self, path: Path, config: RunConfig, spec: DataSpec, facts: dict,
                 recipe: Recipe, step: int) -> None:
        self.path, self.config, self.spec, self.facts = path, config, spec, facts
        self.recipe, self.step = recipe, step

    def sample(self, n: int, seed: int | None = None, use_ema: bool = True,
               batch_size: int = 500) -> torch.Tensor:
        """``n`` samples on the CPU in the data's range (EMA generator weights when present)."""
        if n < 1:
            raise GankitError(f"The number of samples must be at least 1 (got {n}).")
        gen = torch.Generator().manual_seed(seed) if seed is not None else None
        chunks = []
        for start in range(0, n, batch_size):
            z = self.recipe.noise(min(batch_size, n - start), gen)
            chunks.append(self.recipe.generate(z, use_ema=use_ema).float().cpu())
        return torch.cat(chunks)

    def save_samples(self, path: str | Path, n: int, seed: int | None = None,
                     use_ema: bool = True) -> Path:
        """Write ``n`` samples as a PNG grid (or scatter for 2D points) or an ``.npz``."""
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix not in (".png", ".npz"):
            raise GankitError(f"Output {str(path)!r} must end in .png or .npz.")
        samples = self.sample(n, seed, use_ema)
        if suffix == ".npz":
            path.parent.mkdir(parents=True, exist_ok=True)
            np.savez_compressed(path, x=samples.numpy(), normalize=self.spec.normalize)
            return path
        if self.spec.kind == "points":
            centres = self.facts.get("mode_centres")
            return save_scatter(samples, None, path,
                                torch.tensor(centres) if centres else None, title=f"{n} samples")
        return save_image_grid(samples, path, normalize=self.spec.normalize)


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
