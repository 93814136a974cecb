"""What the recipes that sample from noise share: an EMA copy of the generator, sampling in eval
mode, sample pictures and evaluation while training."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from gankit.errors import GankitError
from gankit.recipes.base import HookContext, Recipe, balanced_labels
from gankit.recipes.capabilities import SamplesFromNoise
from gankit.training.ema import make_ema, update_ema

if TYPE_CHECKING:
    from gankit.config import RunConfig
    from gankit.data import Dataset
    from gankit.models import DataSpec
    from gankit.pictures import NoiseSamplePictures


class GenerativeRecipe(Recipe, SamplesFromNoise):
    """A recipe whose ``generator_net`` maps codes to samples, with an optional EMA copy
    (``train.ema_decay``) that sampling uses by default."""

    z_dim: int
    generator_net: nn.Module
    generator_ema: nn.Module | None = None
    steps_done: int = 0

    def __init__(self, cfg: RunConfig, spec: DataSpec, device: torch.device) -> None:
        if spec.kind not in ("image", "points"):
            other = {"pair": "pix2pix or cyclegan (e.g. --preset pix2pix)",
                     "table": "ctgan or tvae (e.g. --preset ctgan)"}.get(spec.kind, "another")
            raise GankitError(f"The {cfg.recipe} recipe draws images or points from noise, and "
                              f"{spec.name!r} holds {spec.kind}s; use the {other} recipe.")
        super().__init__(cfg, spec, device)

    def init_ema(self) -> None:
        """Make the EMA copy of ``generator_net`` when ``train.ema_decay`` asks for one."""
        self.generator_ema = make_ema(self.generator_net) if self.cfg.train.ema_decay > 0 \
            else None

    def step_done(self) -> None:
        """Count a finished step and update the EMA copy."""
        self.steps_done += 1
        if self.generator_ema is not None:
            update_ema(self.generator_ema, self.generator_net, self.cfg.train.ema_decay,
                       self.steps_done)

    def state_dict(self) -> dict[str, Any]:
        return {"steps_done": self.steps_done}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.steps_done = int(state["steps_done"])

    @property
    def has_ema(self) -> bool:
        return self.generator_ema is not None

    def noise(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Codes from N(0, I), drawn on the CPU (reproducible anywhere), then moved."""
        return torch.randn((n, self.z_dim), generator=generator).to(self.device)

    def generator(self, use_ema: bool = True) -> nn.Module:
        return self.generator_ema if (use_ema and self.generator_ema is not None) \
            else self.generator_net

    def forward_generator(self, net: nn.Module, z: torch.Tensor,
                          labels: torch.Tensor | None) -> torch.Tensor:
        return net(z) if labels is None else net(z, labels)

    @torch.no_grad()
    def generate(self, z: torch.Tensor, use_ema: bool = True,
                 labels: torch.Tensor | None = None) -> torch.Tensor:
        net = self.generator(use_ema)
        z = z.to(self.device)
        if self.num_classes:
            labels = balanced_labels(len(z), self.num_classes) if labels is None else labels
            labels = labels.to(self.device)
        was_training = net.training
        net.eval()
        out = self.forward_generator(net, z, labels if self.num_classes else None)
        net.train(was_training)
        return out

    def pictures(self, dataset: Dataset) -> NoiseSamplePictures:
        from gankit.pictures import NoiseSamplePictures

        t = self.cfg.train
        return NoiseSamplePictures(self, dataset, self.cfg.seed, t.sample_grid, t.final_grid)

    def hooks(self, context: HookContext) -> list:
        """Evaluation every ``eval.every`` steps (rank 0), when asked for."""
        if not (self.cfg.eval.every and context.is_main):
            return []
        from gankit.metrics.periodic import PeriodicEval

        with torch.random.fork_rng(devices=[]):  # evaluating never changes the training
            return [PeriodicEval(self.cfg, self, context)]
