"""``curve-fit``: one network fitting a function y = f(x) to 2-D points — deliberately not a GAN.

It shows the whole recipe contract in a page (``docs/architecture.md`` walks through it): its
own config sections (``model.hidden``, ``model.activation``, ``optim.lr``), one network and one
optimiser with a cosine schedule, one piece of extra state (the lowest batch loss so far, kept
on the device and checkpointed), a sampler of its own (each point split into an ``input`` and a
``target`` field), two declared scalars and its own pictures (the points and the fitted curve).
It has none of the capabilities of :mod:`gankit.recipes.capabilities`, so ``gankit sample``
refuses it. Train it with ``gankit train --preset curve-fit``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from gankit.config import RunConfig, ScheduleConfig
from gankit.data import Dataset
from gankit.data.sampler import Sampler, TensorSampler
from gankit.errors import GankitError
from gankit.models import DataSpec
from gankit.models.layers import eval_mode
from gankit.options import StrictModel, Width
from gankit.recipes.base import RECIPES, Batch, OneNetworkRecipe, Scalar, decay_schedule, use_bf16
from gankit.training.distributed import World
from gankit.viz import new_figure, save_figure


class FitModelConfig(StrictModel):
    hidden: list[Width] = Field(default_factory=lambda: [64, 64], min_length=1)
    activation: Literal["tanh", "relu", "silu"] = "tanh"


class FitOptimConfig(ScheduleConfig):
    lr: float = Field(3e-3, gt=0.0, le=1.0)


class CurveFitConfig(RunConfig):
    """A function fit: the shared sections plus ``model`` and ``optim``."""

    model: FitModelConfig = Field(default_factory=FitModelConfig)
    optim: FitOptimConfig = Field(default_factory=FitOptimConfig)


def mlp(hidden: list[int], activation: str) -> nn.Sequential:
    act = {"tanh": nn.Tanh, "relu": nn.ReLU, "silu": nn.SiLU}[activation]
    layers: list[nn.Module] = []
    width = 1
    for h in hidden:
        layers += [nn.Linear(width, h), act()]
        width = h
    return nn.Sequential(*layers, nn.Linear(width, 1))


@RECIPES.register("curve-fit")
class CurveFitRecipe(OneNetworkRecipe):
    """Least squares: minimise the mean of (f(x) − y)² over batches of points."""

    Config = CurveFitConfig
    scalars = (Scalar("loss", "MSE", group="fit"),
               Scalar("best", "lowest batch MSE so far", group="fit", progress=False))
    cfg: CurveFitConfig

    def __init__(self, cfg: CurveFitConfig, spec: DataSpec, device: torch.device) -> None:
        super().__init__(cfg, spec, device)
        if spec.kind != "points" or spec.sample_shape != (2,):
            raise GankitError(f"The curve-fit recipe fits y = f(x) to 2-D points, and "
                              f"{spec.name!r} holds {spec.kind} of shape {spec.sample_shape}; "
                              "use --data curve.")
        self.net = mlp(cfg.model.hidden, cfg.model.activation).to(device)
        self.net_train = self.net
        self.opt = torch.optim.Adam(self.net.parameters(), lr=cfg.optim.lr)
        o = cfg.optim
        self.sched = torch.optim.lr_scheduler.LambdaLR(
            self.opt, decay_schedule(o.lr_decay, o.lr_decay_start, cfg.train.steps))
        self.best = torch.tensor(float("inf"), device=device)
        self.amp = use_bf16(cfg.train.amp, device)

    def sampler(self, dataset: Dataset, batch_size: int, seed: int, world: World,
                device: torch.device) -> Sampler:
        points = dataset.x.to(device)
        return TensorSampler({"input": points[:, :1], "target": points[:, 1:]}, batch_size,
                             seed, world.rank, world.size)

    def train_step(self, batches: list[Batch]) -> dict[str, torch.Tensor]:
        batch = batches[0]
        with self.autocast():
            pred = self.net_train(batch["input"])
        loss = F.mse_loss(pred.float(), batch["target"])
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        self.sched.step()
        self.best = torch.minimum(self.best, loss.detach())
        return {"loss": loss.detach(), "best": self.best.clone()}

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best = state["best"].to(self.device)

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        with eval_mode(self.net):
            return self.net(x.to(self.device)).float().cpu()

    def pictures(self, dataset: Dataset) -> CurvePictures:
        return CurvePictures(self, dataset)


class CurvePictures:
    """The data points and the fitted curve on one plot."""

    def __init__(self, recipe: CurveFitRecipe, dataset: Dataset) -> None:
        self.recipe = recipe
        self.points = dataset.x[:2000].numpy()
        lo, hi = float(dataset.x[:, 0].min()), float(dataset.x[:, 0].max())
        self.grid = torch.linspace(lo, hi, 200).unsqueeze(1)

    def progress(self, path: Path, step: int) -> Path:
        return self._plot(path, f"step {step}")

    def final(self, run_dir: Path) -> list[Path]:
        return [self._plot(run_dir / "fit_final.png", "final fit")]

    def _plot(self, path: Path, title: str) -> Path:
        fig = new_figure(6.0, 4.0)
        ax = fig.add_subplot()
        ax.scatter(self.points[:, 0], self.points[:, 1], s=3, alpha=0.3, color="grey",
                   label="data")
        ax.plot(self.grid.numpy().ravel(), np.asarray(self.recipe.predict(self.grid)).ravel(),
                color="tab:red", lw=2, label="fit")
        ax.set_title(title)
        ax.set_xlabel("x")
        ax.set_ylabel("y")
        ax.legend(frameon=False)
        return save_figure(fig, path)
