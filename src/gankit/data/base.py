"""What every data source returns, and the registry the sources join."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import torch
from pydantic import BaseModel

from gankit.options import StrictModel
from gankit.registry import Registry

if TYPE_CHECKING:
    from gankit.config import DataConfig
    from gankit.data.sampler import Augment, Sampler
    from gankit.training.distributed import World


class NoOptions(StrictModel):
    """Options model for sources that take none (unknown keys are rejected)."""


@dataclass
class Dataset:
    """A whole data set as one tensor, ready to live on the training device.

    ``x`` holds images as float32 ``(N, C, H, W)`` scaled to [-1, 1] (``normalize="symmetric"``)
    or [0, 1] (``"unit"``), or points as float32 ``(N, D)`` in their own units.
    """

    name: str
    x: torch.Tensor
    kind: Literal["image", "points"]
    normalize: str = "symmetric"
    labels: torch.Tensor | None = None
    class_names: list[str] | None = None
    mode_centres: torch.Tensor | None = None
    mode_std: float | None = None
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return tuple(self.x.shape[1:])

    def fields(self) -> dict[str, torch.Tensor]:
        """The named tensors a batch holds: ``x``, and ``labels`` when the data has them."""
        return {"x": self.x} if self.labels is None else {"x": self.x, "labels": self.labels}

    def sampler(self, batch_size: int, seed: int, world: World, device: torch.device,
                augment: Augment | None = None) -> Sampler:
        """Mini-batches of :meth:`fields`, moved to ``device`` once."""
        from gankit.data.sampler import TensorSampler

        fields = {k: v.to(device) for k, v in self.fields().items()}
        return TensorSampler(fields, batch_size, seed, world.rank, world.size, augment)

    @property
    def num_classes(self) -> int:
        return len(self.class_names) if self.class_names else 0

    def __len__(self) -> int:
        return int(self.x.shape[0])


@dataclass(frozen=True)
class Evaluation:
    """How samples of a source are judged, declared by the source (read by ``gankit eval`` and
    by evaluation while training).

    - ``test_split``: the source has a held-out split (``data.options.split=test``) to compare
      with and to test its classifier on; otherwise a fixed 20 % of it is held out.
    - ``classifier``: the source whose labelled images train the evaluation classifier (None:
      this source's own labels); with ``per_channel`` that classifier reads each channel.
    - ``modes``: how modes are counted — ``mixture`` (mode centres of a Gaussian mixture, 3 σ),
      ``channel-classes`` (the per-channel classes, e.g. Stacked MNIST's 1,000) or ``none``;
      ``mode_samples`` generated samples do it (the standard protocol's count).
    """

    test_split: bool = False
    classifier: str | None = None
    per_channel: bool = False
    modes: Literal["none", "mixture", "channel-classes"] = "none"
    mode_samples: int = 0


@dataclass(frozen=True)
class DataSource:
    """A registered source: how to load it, which per-source options it accepts and how its
    samples are evaluated."""

    load: Callable[[DataConfig, BaseModel], Dataset]
    options: type[BaseModel] = NoOptions
    description: str = ""
    evaluation: Evaluation = field(default_factory=Evaluation)


DATASETS: Registry[DataSource] = Registry("data set")


def evaluation_of(name: str) -> Evaluation:
    """How the samples of the source ``name`` are evaluated."""
    return DATASETS.get(name).evaluation
