"""The one loop that trains a small classifier on labelled tensors held in memory.

Used by the evaluation classifier (:func:`gankit.metrics.classifier.train_classifier`) and by
the few-label benchmarks (augment-bench, finetune-d). :func:`fit_classifier`: cross-entropy,
Adam on the given parameter groups, exactly ``steps`` steps on batches of
``min(batch_size, n)`` taken from seeded random permutations (a new permutation whenever the
rest of the current one holds less than a batch, i.e. the remainder of an epoch is dropped),
each batch optionally augmented. Learning-rate schedules (every group from its own ``lr``):

* ``"cosine"``: a cosine from ``lr`` down to 0 at ``steps``;
* ``"one-cycle"``: PyTorch's :class:`~torch.optim.lr_scheduler.OneCycleLR` with peak ``lr``
  and 20% warm-up (it also cycles Adam's β1 between 0.95 and 0.85).

Seeded: ``torch.manual_seed(seed)`` (dropout) and one ``torch.Generator`` seeded with ``seed``
for the batch order and the augmentation, both inside ``fork_rng``, so the global RNG (and on
CUDA the device's) is left untouched.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

SCHEDULES = ("cosine", "one-cycle")
ONE_CYCLE_WARMUP = 0.2
LOSS_EVERY = 50  # steps between the losses kept (and shown on the bar with show_loss)

#: a batch augmentation: (images, the loop's generator) → images
Augment = Callable[[torch.Tensor, torch.Generator], torch.Tensor]


def _scheduler(opt: torch.optim.Optimizer, schedule: str,
               steps: int) -> torch.optim.lr_scheduler.LRScheduler:
    if schedule == "cosine":
        return torch.optim.lr_scheduler.LambdaLR(
            opt, lambda s: 0.5 * (1.0 + math.cos(math.pi * s / steps)))
    if schedule == "one-cycle":
        return torch.optim.lr_scheduler.OneCycleLR(
            opt, max_lr=[g["lr"] for g in opt.param_groups], total_steps=steps,
            pct_start=ONE_CYCLE_WARMUP)
    raise ValueError(f"schedule must be one of {SCHEDULES}, not {schedule!r}")


def fit_classifier(model: nn.Module, groups: Iterable[dict[str, Any]], x: torch.Tensor,
                   labels: torch.Tensor, steps: int, batch_size: int, seed: int,
                   device: torch.device | str = "cpu", bar: tqdm | None = None, *,
                   schedule: str = "cosine", augment: Augment | None = None,
                   show_loss: bool = False) -> dict[str, Any]:
    """Train ``model`` (logits out) in place; see the module docstring.

    ``groups`` are Adam parameter groups, each with its own ``lr``. ``model`` is moved to
    ``device`` and trained in train mode (dropout and batch norm as configured), then put in
    eval mode. ``bar`` is advanced once per step (with ``show_loss``, the loss is shown on it).
    Returns the number of steps, the batch size and the last loss.
    """
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {SCHEDULES}, not {schedule!r}")
    device = torch.device(device)
    n = len(x)
    batch = min(batch_size, n)
    x, labels = x.to(device), labels.to(device)
    fork = [device] if device.type == "cuda" else []
    losses: list[float] = []
    with torch.random.fork_rng(devices=fork):
        torch.manual_seed(seed)
        gen = torch.Generator().manual_seed(seed)
        model.to(device).train()
        opt = torch.optim.Adam(list(groups))
        sched = _scheduler(opt, schedule, steps)
        perm, pos = torch.randperm(n, generator=gen), 0
        for step in range(steps):
            if pos + batch > n:
                perm, pos = torch.randperm(n, generator=gen), 0
            idx = perm[pos:pos + batch].to(device)
            pos += batch
            xb = x[idx] if augment is None else augment(x[idx], gen)
            loss = F.cross_entropy(model(xb), labels[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            if step == steps - 1 or step % LOSS_EVERY == 0:
                losses.append(float(loss.detach()))
                if show_loss and bar is not None:
                    bar.set_postfix(loss=f"{losses[-1]:.3f}")
            if bar is not None:
                bar.update()
    model.eval()
    return {"steps": steps, "batch_size": batch, "final_loss": losses[-1]}
