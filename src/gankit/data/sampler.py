"""Random mini-batches from a data set held on the device as one tensor, resumable exactly."""

from __future__ import annotations

import torch

from gankit.errors import GankitError
from gankit.recipes.base import Batch


class BatchSampler:
    """Shuffles once per epoch (drop-last) with its own seeded generator.

    With several processes, every rank draws the same global batch and keeps its own shard.

    Its state (epoch, position, generator state before the current shuffle) is enough to
    continue the exact same sequence of batches after a resume.
    """

    def __init__(self, x: torch.Tensor, labels: torch.Tensor | None, batch_size: int,
                 seed: int, rank: int = 0, world_size: int = 1) -> None:
        if batch_size > x.shape[0]:
            raise GankitError(f"Batch size {batch_size} is larger than the data set "
                              f"({x.shape[0]} samples); lower train.batch_size.")
        if batch_size % world_size:
            raise GankitError(f"Batch size {batch_size} cannot be split evenly over "
                              f"{world_size} processes; pick a multiple of {world_size}.")
        self.x, self.labels, self.batch_size = x, labels, batch_size
        self.rank, self.world_size = rank, world_size
        self.generator = torch.Generator().manual_seed(seed)
        self.epoch, self.pos = 0, 0
        self._perm: torch.Tensor | None = None
        self._perm_state = self.generator.get_state()

    def _shuffle(self) -> None:
        self._perm_state = self.generator.get_state()
        self._perm = torch.randperm(self.x.shape[0], generator=self.generator).to(self.x.device)
        self.epoch += 1
        self.pos = 0

    def next(self) -> Batch:
        if self._perm is None or self.pos + self.batch_size > self.x.shape[0]:
            self._shuffle()
        idx = self._perm[self.pos : self.pos + self.batch_size][self.rank :: self.world_size]
        self.pos += self.batch_size
        return Batch(self.x[idx], None if self.labels is None else self.labels[idx])

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "pos": self.pos, "perm_state": self._perm_state,
                "started": self._perm is not None}

    def load_state_dict(self, state: dict) -> None:
        if state["started"]:
            self.generator.set_state(state["perm_state"])
            self._shuffle()
        self.epoch, self.pos = int(state["epoch"]), int(state["pos"])
