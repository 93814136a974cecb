"""Random mini-batches of named tensors held on the device, resumable exactly.

A :class:`Sampler` yields dict batches (``{"x": ..., "labels": ...}``, ``{"a": ..., "b": ...}``)
and can save and restore its position. :class:`TensorSampler` draws the same rows of every field
(labelled images, paired images, table rows with their conditions); :class:`IndependentSamplers`
draws each group of fields in its own order (unpaired domains). Either may apply an
:class:`Augment` to each batch on the device, with its own checkpointed random generator.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import torch

from gankit.errors import GankitError

Batch = dict[str, torch.Tensor]


class Sampler(Protocol):
    """Where a recipe's batches come from."""

    def next(self) -> Batch: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


class Augment(Protocol):
    """A per-batch transform on the device, drawing its randomness from ``generator``."""

    def __call__(self, batch: Batch, generator: torch.Generator) -> Batch: ...


class TensorSampler:
    """Shuffles once per epoch (drop-last) with its own seeded generator; every field of a
    batch holds the same rows.

    With several processes, every rank draws the same global batch and keeps its own shard.
    Its state (epoch, position, generator state before the current shuffle, the augmentation
    generator) is enough to continue the exact same sequence of batches after a resume.
    """

    def __init__(self, fields: dict[str, torch.Tensor], batch_size: int, seed: int,
                 rank: int = 0, world_size: int = 1, augment: Augment | None = None,
                 decode: dict[str, Callable[[torch.Tensor], torch.Tensor]] | None = None
                 ) -> None:
        sizes = {len(t) for t in fields.values()}
        if len(sizes) != 1:
            raise ValueError(f"fields of different lengths: {sorted(sizes)}")
        self.n = sizes.pop()
        if batch_size > self.n:
            raise GankitError(f"Batch size {batch_size} is larger than the data set "
                              f"({self.n} samples); lower train.batch_size.")
        if batch_size % world_size:
            raise GankitError(f"Batch size {batch_size} cannot be split evenly over "
                              f"{world_size} processes; pick a multiple of {world_size}.")
        self.fields, self.batch_size = fields, batch_size
        self.rank, self.world_size = rank, world_size
        self.device = next(iter(fields.values())).device
        self.generator = torch.Generator().manual_seed(seed)
        self.augment, self.decode = augment, decode or {}
        self.augment_generator = torch.Generator().manual_seed(seed + 104_729)
        self.epoch, self.pos = 0, 0
        self._perm: torch.Tensor | None = None
        self._perm_state = self.generator.get_state()

    def _shuffle(self) -> None:
        self._perm_state = self.generator.get_state()
        self._perm = torch.randperm(self.n, generator=self.generator).to(self.device)
        self.epoch += 1
        self.pos = 0

    def next(self) -> Batch:
        if self._perm is None or self.pos + self.batch_size > self.n:
            self._shuffle()
        idx = self._perm[self.pos : self.pos + self.batch_size][self.rank :: self.world_size]
        self.pos += self.batch_size
        batch = {name: t[idx] for name, t in self.fields.items()}
        for name, decode in self.decode.items():  # stored compactly, decoded per batch
            batch[name] = decode(batch[name])
        return self.augment(batch, self.augment_generator) if self.augment else batch

    def state_dict(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "pos": self.pos, "perm_state": self._perm_state,
                "started": self._perm is not None,
                "augment_state": self.augment_generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state["started"]:
            self.generator.set_state(state["perm_state"])
            self._shuffle()
        self.epoch, self.pos = int(state["epoch"]), int(state["pos"])
        if "augment_state" in state:
            self.augment_generator.set_state(state["augment_state"])


class IndependentSamplers:
    """Several samplers drawn together, each in its own order (unpaired domains A and B)."""

    def __init__(self, samplers: dict[str, Sampler]) -> None:
        self.samplers = samplers

    def next(self) -> Batch:
        batch: Batch = {}
        for sampler in self.samplers.values():
            batch.update(sampler.next())
        return batch

    def state_dict(self) -> dict[str, Any]:
        return {name: s.state_dict() for name, s in self.samplers.items()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for name, sampler in self.samplers.items():
            sampler.load_state_dict(state[name])
