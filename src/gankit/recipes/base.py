"""The interface between the training loop and what one training step means."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import NamedTuple

import torch
from torch import nn

from gankit.registry import Registry


class Batch(NamedTuple):
    x: torch.Tensor
    labels: torch.Tensor | None = None


class Recipe(ABC):
    """A trainable generative model: networks, optimisers and the step that updates them.

    The loop calls :meth:`train_step` with ``batches_per_step`` batches and receives a dict of
    0-d tensors (no host sync); it checkpoints what :meth:`modules` and :meth:`optimizers`
    return and samples with :meth:`generate`.
    """

    batches_per_step: int = 1
    #: the scalars the progress bar shows, in order
    progress_keys: tuple[str, ...] = ()

    @abstractmethod
    def train_step(self, batches: list[Batch]) -> dict[str, torch.Tensor]: ...

    @abstractmethod
    def generate(self, z: torch.Tensor, use_ema: bool = True) -> torch.Tensor:
        """Samples (in the data's range) from a latent batch, in eval mode, without grads."""

    @abstractmethod
    def noise(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """A latent batch of ``n`` codes on the recipe's device."""

    @abstractmethod
    def modules(self) -> dict[str, nn.Module]: ...

    @abstractmethod
    def optimizers(self) -> dict[str, torch.optim.Optimizer]: ...

    @abstractmethod
    def distribute(self, wrap: Callable[[nn.Module], nn.Module]) -> None:
        """Wrap the trained networks for multi-process training (``wrap`` adds DDP)."""

    def describe(self) -> dict[str, int]:
        """Trainable parameter counts per network, for the log and the report."""
        counts = {name: sum(p.numel() for p in m.parameters() if p.requires_grad)
                  for name, m in self.modules().items()}
        return {name: n for name, n in counts.items() if n}


RECIPES: Registry[type[Recipe]] = Registry("recipe")
