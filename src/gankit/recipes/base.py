"""The contract between the trainer and a recipe: what one training step means.

A recipe declares everything the trainer, the hooks, the checkpoints and the report use, and
nothing outside it reads or sets anything else:

- ``Config``: its own validated configuration (a :class:`gankit.config.RunConfig` subclass
  with the sections that apply to it);
- :meth:`networks`, :meth:`optimizers`, :meth:`schedulers` (``torch.optim.lr_scheduler``) and
  :meth:`state_dict` / :meth:`load_state_dict` for any other state: all of it is checkpointed,
  so a resumed run continues bit-identically;
- :meth:`train_step`: ``batches_per_step`` dict batches in, a dict of 0-d tensors out (no host
  sync); ``scalars`` says how each is labelled and grouped in the curves;
- :meth:`pictures`: what the run folder shows while it trains and at the end;
- :meth:`sampler`: where its batches come from (by default the data set's own sampler).

What a trained recipe can do beyond training (sample from noise, encode, translate, classify, a
discriminator to reuse) are the small interfaces of :mod:`gankit.recipes.capabilities`.
"""

from __future__ import annotations

import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol

import torch
from torch import nn

from gankit.registry import Registry

if TYPE_CHECKING:
    from gankit.config import RunConfig
    from gankit.data import Dataset
    from gankit.data.sampler import Sampler
    from gankit.models import DataSpec
    from gankit.training.distributed import World

#: a batch: named tensors that share their first dimension (``x``, ``labels``, ``a``, ``b``, ...)
Batch = dict[str, torch.Tensor]


@dataclass(frozen=True)
class Scalar:
    """How one logged scalar is shown: its label, the curves panel it joins, and its kind
    (``value`` on the panel's left axis; ``share`` in per cent on its right axis)."""

    key: str
    label: str
    group: str = "training"
    kind: Literal["value", "share"] = "value"
    progress: bool = True  # shown on the progress bar and the log line


class Pictures(Protocol):
    """What a run shows: one picture per sample interval and the final ones."""

    def progress(self, path: Path, step: int) -> Path:
        """Write the picture of the state after ``step`` to ``path`` (a PNG)."""

    def final(self, run_dir: Path) -> list[Path]:
        """Write the final pictures (``*_final.png``) into ``run_dir``; returns their paths."""


@dataclass
class HookContext:
    """What a recipe's own loop hooks may use (:meth:`Recipe.hooks`)."""

    dataset: Dataset
    run_dir: Path
    progress: bool
    #: print one line beside the progress bar
    say: Callable[[str], None]
    #: whether this process writes files (rank 0)
    is_main: bool = True
    #: log one record (``{"step": step, "key": number, ...}``) as MetricsLogger's are logged:
    #: a line of metrics.jsonl plus any logger the config switches on (TensorBoard); it does
    #: nothing on ranks other than 0. By default: metrics.jsonl of ``run_dir`` only.
    record: Callable[[dict[str, Any]], None] | None = None

    def __post_init__(self) -> None:
        if self.record is None:
            from gankit.layout import METRICS
            from gankit.training.records import RecordLog

            self.record = RecordLog(self.run_dir / METRICS, write=self.is_main)


class Recipe(ABC):
    """A trainable model: its networks, optimisers, schedulers, state and training step."""

    #: the recipe's own configuration model
    Config: ClassVar[type[RunConfig]]
    #: the scalars :meth:`train_step` returns, in the order they are shown
    scalars: ClassVar[tuple[Scalar, ...]] = ()
    #: batches the loop draws for one step
    batches_per_step: int = 1
    #: whether the networks' forwards run under bf16 autocast (``train.amp`` resolved)
    amp: bool = False

    def __init__(self, cfg: RunConfig, spec: DataSpec, device: torch.device) -> None:
        self.cfg, self.spec, self.device = cfg, spec, device

    # ------------------------------------------------------------------ training

    @abstractmethod
    def train_step(self, batches: list[Batch]) -> dict[str, torch.Tensor]:
        """Update the networks on ``batches_per_step`` batches; return 0-d tensors."""

    @abstractmethod
    def networks(self) -> dict[str, nn.Module]:
        """Every network whose weights are checkpointed (EMA copies included), by name."""

    @abstractmethod
    def optimizers(self) -> dict[str, torch.optim.Optimizer]: ...

    def schedulers(self) -> dict[str, torch.optim.lr_scheduler.LRScheduler]:
        """Learning-rate schedulers, stepped by the recipe and checkpointed."""
        return {}

    def state_dict(self) -> dict[str, Any]:
        """Any other state a resumed run needs (tensors, numbers, strings, lists, dicts)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:  # noqa: B027 (no state by default)
        """Restore what :meth:`state_dict` returned."""

    @abstractmethod
    def distribute(self, wrap: Callable[[nn.Module], nn.Module]) -> None:
        """Wrap the trained networks for multi-process training (``wrap`` adds DDP)."""

    def scale_learning_rates(self, factor: float) -> None:
        """Multiply every learning rate by ``factor`` from now on (a rollback after divergence)."""
        for opt in self.optimizers().values():
            for group in opt.param_groups:
                group["lr"] *= factor
        for scheduler in self.schedulers().values():
            scheduler.base_lrs = [lr * factor for lr in scheduler.base_lrs]

    # ------------------------------------------------------------------ data and pictures

    def sampler(self, dataset: Dataset, batch_size: int, seed: int, world: World,
                device: torch.device) -> Sampler:
        """Where the batches come from: by default the data set's own sampler."""
        return dataset.sampler(batch_size, seed, world, device)

    @abstractmethod
    def pictures(self, dataset: Dataset) -> Pictures:
        """What the run folder shows while this recipe trains (drawn on rank 0 only)."""

    def hooks(self, context: HookContext) -> list[Callable[[int, dict[str, torch.Tensor]], None]]:
        """Extra loop hooks of this recipe (evaluation while training, ...): none by default."""
        return []

    # ------------------------------------------------------------------ description

    @property
    def progress_keys(self) -> tuple[str, ...]:
        return tuple(s.key for s in self.scalars if s.progress)

    def describe(self) -> dict[str, int]:
        """Trainable parameter counts per network, for the log and the report."""
        counts = {name: sum(p.numel() for p in m.parameters() if p.requires_grad)
                  for name, m in self.networks().items()}
        return {name: n for name, n in counts.items() if n}

    def autocast(self) -> torch.autocast:
        """bf16 autocast of the networks' forwards when ``train.amp`` asks for it."""
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp)


class OneNetworkRecipe(Recipe):
    """A recipe that trains one network ``net`` with one optimiser ``opt`` and one scheduler
    ``sched`` (``net_train`` is ``net``, DDP-wrapped when distributed)."""

    net: nn.Module
    net_train: nn.Module
    opt: torch.optim.Optimizer
    sched: torch.optim.lr_scheduler.LRScheduler

    def networks(self) -> dict[str, nn.Module]:
        return {"net": self.net}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"opt": self.opt}

    def schedulers(self) -> dict[str, torch.optim.lr_scheduler.LRScheduler]:
        return {"sched": self.sched}

    def distribute(self, wrap: Callable[[nn.Module], nn.Module]) -> None:
        self.net_train = wrap(self.net)


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


def decay_schedule(kind: str, start_share: float, total: int,
                   warmup_share: float = 0.0) -> Callable[[int], float]:
    """A ``LambdaLR`` factor: linear from 0 to 1 over the first ``warmup_share · total`` steps
    (none by default), 1 until ``start_share · total`` steps, then linear or cosine to 0 at
    ``total`` (``kind`` ``none``: no decay)."""
    import math

    start, warmup = start_share * total, warmup_share * total

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        if kind == "none" or step <= start:
            return 1.0
        frac = min((step - start) / max(total - start, 1.0), 1.0)
        return 1.0 - frac if kind == "linear" else 0.5 * (1.0 + math.cos(math.pi * frac))

    return factor


RECIPES: Registry[type[Recipe]] = Registry("recipe")
