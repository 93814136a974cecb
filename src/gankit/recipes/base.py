"""The interface between the training loop and what one training step means."""

from __future__ import annotations

import warnings
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

    #: classes the generator is conditioned on (0 = unconditional)
    num_classes: int = 0
    #: whether the networks' forwards run under bf16 autocast (``train.amp`` resolved)
    amp: bool = False

    @abstractmethod
    def generate(self, z: torch.Tensor, use_ema: bool = True,
                 labels: torch.Tensor | None = None) -> torch.Tensor:
        """Samples (in the data's range) from a latent batch, in eval mode, without grads.

        Conditional recipes draw class ``labels[i]`` for ``z[i]``; without labels they use
        :func:`balanced_labels`. Unconditional recipes ignore ``labels``.
        """

    @abstractmethod
    def generator(self, use_ema: bool = True) -> nn.Module:
        """The network that maps codes to samples (``net(z)``, or ``net(z, labels)`` when
        conditional), differentiable, for latent tools such as projecting images onto codes."""

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


def native_bf16(device: torch.device) -> bool:
    """Whether ``device`` runs bf16 natively (CUDA with bf16, or a CPU with AVX512-BF16/AMX)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return device.type == "cpu" and torch.ops.mkldnn._is_mkldnn_bf16_supported()


def use_bf16(amp: str, device: torch.device) -> bool:
    """Resolve ``train.amp``: ``auto`` means bf16 where the device runs it natively."""
    if amp == "auto":
        return native_bf16(device)
    if amp == "bf16" and device.type == "cpu" and not native_bf16(device):
        warnings.warn("train.amp=bf16 on this CPU has no native bf16 support and runs many "
                      "times slower (16-22x measured, docs/benchmarks.md); set train.amp=off "
                      "or auto.", stacklevel=3)
    return amp == "bf16"


def balanced_labels(n: int, num_classes: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """``0, 1, …, K−1, 0, 1, …``: every class equally often (to within one)."""
    return torch.arange(n, device=device) % num_classes


RECIPES: Registry[type[Recipe]] = Registry("recipe")
