"""The training loop. It knows nothing about GANs: it moves batches and fires hooks."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from tqdm.auto import tqdm

from gankit.data.sampler import Sampler
from gankit.recipes.base import Recipe

Hook = Callable[[int, dict[str, torch.Tensor]], None]


def run_loop(recipe: Recipe, sampler: Sampler, start: int, stop: int,
             hooks: Sequence[Hook], bar: tqdm) -> int:
    """Train from step ``start`` (done) to ``stop``; after each step call every hook.

    A hook receives the step number and the recipe's dict of 0-d tensors, and decides itself
    whether this step is one it acts on (log, sample, checkpoint, ...).
    """
    for step in range(start + 1, stop + 1):
        batches = [sampler.next() for _ in range(recipe.batches_per_step)]
        scalars = recipe.train_step(batches)
        for hook in hooks:
            hook(step, scalars)
        bar.update(1)
    return stop
