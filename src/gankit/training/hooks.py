"""What happens around training steps: logging, sample snapshots and checkpoints."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from gankit.models import DataSpec
from gankit.recipes.base import Recipe
from gankit.training import rundir
from gankit.training.checkpoint import checkpoint_paths, checkpoint_step, save_checkpoint
from gankit.training.distributed import World, all_mean
from gankit.viz import save_image_grid, save_scatter

SCATTER_POINTS = 2500


class MetricsLogger:
    """Averages the step scalars over each ``every`` steps, appends them to metrics.jsonl and
    shows them on the progress bar; prints a log line every ``print_every`` steps."""

    def __init__(self, path: Path, every: int, print_every: int, images_per_step: int,
                 keys: tuple[str, ...], bar: tqdm, total: int, world: World | None = None) -> None:
        self.path, self.every, self.print_every = path, every, print_every
        self.images_per_step, self.keys, self.bar, self.total = images_per_step, keys, bar, total
        self._sums: dict[str, torch.Tensor] = {}
        self._count = 0
        self._t0 = time.perf_counter()
        self._elapsed_before = 0.0
        self.world = world or World()
        self.last: dict[str, Any] = {}

    def __call__(self, step: int, scalars: dict[str, torch.Tensor]) -> None:
        for key, value in scalars.items():
            self._sums[key] = self._sums[key] + value if key in self._sums else value.clone()
        self._count += 1
        if step % self.every and step != self.total:
            return
        now = time.perf_counter()
        keys = list(self._sums)
        means = all_mean(torch.stack([self._sums[k].float() for k in keys]), self.world)
        record: dict[str, Any] = {"step": step}
        record.update({k: float(v) / self._count for k, v in zip(keys, means.tolist(),
                                                                   strict=True)})
        record["img_per_s"] = self._count * self.images_per_step / max(now - self._t0, 1e-9)
        self._elapsed_before += now - self._t0
        record["elapsed_s"] = round(self._elapsed_before, 3)
        self.last = record
        self._sums, self._count, self._t0 = {}, 0, time.perf_counter()
        if not self.world.is_main:
            return
        with self.path.open("a") as handle:
            handle.write(json.dumps(record) + "\n")
        self.bar.set_postfix_str(self.describe(record, short=True), refresh=False)
        if step % self.print_every == 0 or step == self.total:
            self.bar.write(self.describe(record))

    def describe(self, record: dict[str, Any], short: bool = False) -> str:
        names = {"d_loss": "D loss", "d_acc": "D acc", "g_loss": "G loss"}
        parts = []
        for key in self.keys:
            if key in record:
                value = record[key]
                text = f"{100 * value:.0f}%" if key.endswith("acc") else f"{value:.3f}"
                parts.append(f"{key if short else names.get(key, key)} {text}")
        parts.append(f"{record['img_per_s']:.0f} img/s")
        body = " | ".join(parts) if not short else " ".join(parts)
        return body if short else f"step {record['step']}/{self.total} | {body}"


class SampleWriter:
    """Writes samples from a fixed noise batch: image grids, or scatter plots for 2D points."""

    def __init__(self, run_dir: Path, recipe: Recipe, spec: DataSpec, every: int,
                 grid_size: int, seed: int, real_points: torch.Tensor | None,
                 centres: torch.Tensor | None) -> None:
        self.run_dir, self.recipe, self.spec, self.every = run_dir, recipe, spec, every
        self.real_points, self.centres = real_points, centres
        n = SCATTER_POINTS if spec.kind == "points" else grid_size
        self.fixed_labels, self.nrow = class_rows(n, recipe.num_classes)
        if self.fixed_labels is not None:
            n = len(self.fixed_labels)
        self.fixed_noise = recipe.noise(n, torch.Generator().manual_seed(seed + 1))
        self.seed = seed

    def __call__(self, step: int, scalars: dict[str, torch.Tensor] | None = None) -> None:
        if step % self.every == 0:
            self.write(self.recipe.generate(self.fixed_noise, labels=self.fixed_labels),
                       self.run_dir / rundir.SAMPLES / f"step_{step:06d}.png", f"step {step}",
                       self.nrow)

    def write(self, samples: torch.Tensor, path: Path, title: str,
              nrow: int | None = None) -> Path:
        samples = samples.float().cpu()
        if self.spec.kind == "points":
            return save_scatter(samples, self.real_points, path, self.centres, title=title)
        return save_image_grid(samples, path, normalize=self.spec.normalize, nrow=nrow)

    def final(self, n: int) -> Path:
        """The final grid (``grid_final.png``, n samples; one row per class for conditional
        runs) or scatter (``scatter_final.png``)."""
        labels, nrow = None, None
        if self.spec.kind == "points":
            z, name = self.fixed_noise, "scatter_final.png"
        else:
            labels, nrow = class_rows(n, self.recipe.num_classes)
            n = n if labels is None else len(labels)
            z, name = self.recipe.noise(n, torch.Generator().manual_seed(self.seed + 2)), \
                "grid_final.png"
        parts = [self.recipe.generate(chunk, labels=None if labels is None else labels[i:i + 512])
                 for i, chunk in zip(range(0, len(z), 512), z.split(512), strict=True)]
        return self.write(torch.cat(parts), self.run_dir / name, "final samples", nrow)


def class_rows(n: int, num_classes: int) -> tuple[torch.Tensor | None, int | None]:
    """Labels for a grid with one row per class (``n // K`` per row), and the row length."""
    if not num_classes:
        return None, None
    per_class = max(1, n // num_classes)
    return torch.arange(num_classes).repeat_interleave(per_class), per_class


class Checkpointer:
    """Saves the full training state every ``every`` steps (and on demand)."""

    def __init__(self, folder: Path, every: int, keep: int,
                 state_fn: Callable[[int], dict[str, Any]], write: bool = True) -> None:
        self.folder, self.every, self.keep, self.state_fn = folder, every, keep, state_fn
        self.write = write  # False on ranks other than 0: they take part, rank 0 writes
        self.last_step = -1
        self.before_save: Callable[[], None] = lambda: None

    def __call__(self, step: int, scalars: dict[str, torch.Tensor] | None = None) -> None:
        if step % self.every == 0:
            self.save(step)

    def save(self, step: int) -> Path | None:
        if step == self.last_step:
            return None
        self.before_save()  # never checkpoint weights that have diverged
        self.last_step = step
        state = self.state_fn(step)
        return save_checkpoint(self.folder, step, state, self.keep) if self.write else None

    def last_good(self) -> tuple[int, Path] | None:
        """(step, path) of the newest checkpoint on disk, if any."""
        paths = checkpoint_paths(self.folder)
        return (checkpoint_step(paths[-1]), paths[-1]) if paths else None
