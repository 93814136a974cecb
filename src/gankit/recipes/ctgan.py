"""CTGAN (Xu et al. 2019, "Modeling Tabular Data using Conditional GAN") for tables.

Rows are encoded by the data's :class:`~gankit.tables.TableTransformer` (mode-specific
normalisation of numeric columns, one-hot categories). Each step:

- the critic (:class:`~gankit.models.tabular.PackedCritic`, ``model.pack`` rows a pack) scores
  real rows, drawn by training-by-sampling with their condition vectors
  (:mod:`gankit.tables.conditions`), against generated rows with theirs; WGAN loss plus the
  gradient penalty (weight ``loss.gp_weight``, mixing and gradient norm per pack);
- the generator (:class:`~gankit.models.tabular.TableGenerator`, residual layers) makes rows
  for fresh conditions; its loss is −critic score plus the cross-entropy between the category
  each condition asks for and the generated row's logits of that column (the generator must
  honour its condition).

Outputs go through tanh (scalars) and Gumbel-softmax with τ = 0.2 (one-hot blocks). Adam with
``optim.g_lr``/``d_lr``, betas (0.5, 0.9) and weight decay 1e-6, batch 500 and pack 10 are the
paper's defaults. Samples are drawn in eval mode with conditions at their real frequencies (or
fixed by ``where``), one-hot blocks by the Gumbel-max trick, from an exponential moving average
of G's weights when ``train.ema_decay`` asks for one.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from pydantic import Field, model_validator
from torch import nn

from gankit.config import RunConfig, ScheduleConfig, TrainConfig
from gankit.data import Dataset
from gankit.losses import gradient_penalty
from gankit.models import DataSpec
from gankit.models.layers import eval_mode
from gankit.models.tabular import PackedCritic, TableGenerator, activate, gumbel_max
from gankit.options import StrictModel
from gankit.recipes.base import RECIPES, Batch, Scalar, decay_schedule, use_bf16
from gankit.recipes.tabular import TableRecipe, table_transformer
from gankit.tables.conditions import ConditionalRowSampler, ConditionSpace
from gankit.training.distributed import World
from gankit.training.ema import make_ema, update_ema


class CTGANModelConfig(StrictModel):
    """The generator's and critic's sizes, and the packing."""

    z_dim: int = Field(128, ge=1, le=4096)
    g_hidden: list[int] = Field(default_factory=lambda: [256, 256], min_length=1)
    d_hidden: list[int] = Field(default_factory=lambda: [256, 256], min_length=1)
    pack: int = Field(10, ge=1, le=64, description="rows the critic judges together (PacGAN)")
    d_dropout: float = Field(0.5, ge=0.0, lt=1.0)


class CTGANOptimConfig(ScheduleConfig):
    g_lr: float = Field(2e-4, gt=0.0, le=1.0)
    d_lr: float = Field(2e-4, gt=0.0, le=1.0)
    beta1: float = Field(0.5, ge=0.0, lt=1.0)
    beta2: float = Field(0.9, ge=0.0, lt=1.0)
    weight_decay: float = Field(1e-6, ge=0.0, le=1.0)
    d_steps: int = Field(1, ge=1, le=100)


class CTGANLossConfig(StrictModel):
    gp_weight: float = Field(10.0, ge=0.0, le=1e6)


class CTGANTrainConfig(TrainConfig):
    ema_decay: float = Field(0.0, ge=0.0, lt=1.0, description="EMA of G's weights for sampling "
                             "(0: none)")


class CTGANConfig(RunConfig):
    model: CTGANModelConfig = Field(default_factory=CTGANModelConfig)
    optim: CTGANOptimConfig = Field(default_factory=CTGANOptimConfig)
    loss: CTGANLossConfig = Field(default_factory=CTGANLossConfig)
    train: CTGANTrainConfig = Field(default_factory=lambda: CTGANTrainConfig(batch_size=500))

    @model_validator(mode="after")
    def _batch_fits_packs(self) -> CTGANConfig:
        if self.train.batch_size % self.model.pack:
            raise ValueError(f"train.batch_size ({self.train.batch_size}) must be a multiple of "
                             f"model.pack ({self.model.pack})")
        return self


@RECIPES.register("ctgan")
class CTGANRecipe(TableRecipe):
    Config = CTGANConfig
    scalars = (Scalar("d_loss", "critic loss"), Scalar("g_loss", "G loss"),
               Scalar("cond_ce", "condition cross-entropy"),
               Scalar("gp", "gradient penalty", group="penalties", progress=False),
               Scalar("d_real", "critic(real)", group="critic scores", progress=False),
               Scalar("d_fake", "critic(fake)", group="critic scores", progress=False))
    cfg: CTGANConfig

    def __init__(self, cfg: CTGANConfig, spec: DataSpec, device: torch.device) -> None:
        super().__init__(cfg, spec, device)
        self.transformer = table_transformer(spec, "ctgan")
        t, m, o = self.transformer, cfg.model, cfg.optim
        blocks = [(d.start, d.width) for d in t.discrete_spans]
        self.space = ConditionSpace(blocks, spec.codec.get("category_counts") or
                                    [0] * sum(w for _, w in blocks))
        self.G = TableGenerator(m.z_dim, self.space.dim, t.output_width, m.g_hidden).to(device)
        self.D = PackedCritic(t.output_width + self.space.dim, m.pack, m.d_hidden,
                              m.d_dropout).to(device)
        self.G_train, self.D_train = self.G, self.D
        self.G_ema = make_ema(self.G) if cfg.train.ema_decay > 0 else None
        self.steps_done = 0
        fused = device.type in ("cpu", "cuda")
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=o.g_lr, betas=(o.beta1, o.beta2),
                                      weight_decay=o.weight_decay, fused=fused)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=o.d_lr, betas=(o.beta1, o.beta2),
                                      weight_decay=o.weight_decay, fused=fused)
        schedule = decay_schedule(o.lr_decay, o.lr_decay_start, cfg.train.steps)
        self.sched_g = torch.optim.lr_scheduler.LambdaLR(self.opt_g, schedule)
        self.sched_d = torch.optim.lr_scheduler.LambdaLR(self.opt_d, schedule)
        self.batches_per_step = o.d_steps + 1  # the last batch's conditions are G's
        self.amp = use_bf16(cfg.train.amp, device)

    # ------------------------------------------------------------------ the game

    def sampler(self, dataset: Dataset, batch_size: int, seed: int, world: World,
                device: torch.device) -> ConditionalRowSampler:
        self.space.index_rows(dataset.x)
        return ConditionalRowSampler(dataset.x.to(device), self.space, batch_size, seed,
                                     world.rank, world.size)

    def _fake(self, net: nn.Module, cond: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Raw generated rows for ``cond`` and the rows after their output activations."""
        z = torch.randn(cond.shape[0], self.cfg.model.z_dim, device=self.device)
        raw = net(z, cond)
        return raw, activate(raw, self.transformer.spans)

    def d_step(self, batch: Batch) -> dict[str, torch.Tensor]:
        with torch.no_grad(), self.autocast():
            _, fake = self._fake(self.G, batch["cond"])
        real = torch.cat([batch["x"], batch["cond_real"]], dim=1)
        fake = torch.cat([fake.float(), batch["cond"]], dim=1)
        with self.autocast():
            real_scores, fake_scores = self.D_train(real).float(), self.D_train(fake).float()
        loss = fake_scores.mean() - real_scores.mean()
        out = {"d_loss": loss.detach(), "d_real": real_scores.detach().mean(),
               "d_fake": fake_scores.detach().mean()}
        if self.cfg.loss.gp_weight > 0:  # mixed and normed per pack, as the critic sees them
            with self.autocast():
                penalty = gradient_penalty(self.D.score_packs, self.D.packed(real),
                                           self.D.packed(fake)).float()
            loss = loss + self.cfg.loss.gp_weight * penalty
            out["gp"] = penalty.detach()
        self.opt_d.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_d.step()
        return out

    def condition_loss(self, raw: torch.Tensor, col: torch.Tensor,
                       opt: torch.Tensor) -> torch.Tensor:
        """Mean cross-entropy between the category each row was asked for and its logits."""
        if not self.space.columns:
            return raw.new_zeros(())
        total = raw.new_zeros(raw.shape[0])
        for j, (start, width) in enumerate(self.space.blocks):
            chosen = col == j
            ce = F.cross_entropy(raw[:, start:start + width], opt.clamp_max(width - 1),
                                 reduction="none")
            total = total + ce * chosen
        return total.mean()

    def g_step(self, batch: Batch) -> dict[str, torch.Tensor]:
        with self.autocast():
            raw, fake = self._fake(self.G_train, batch["cond"])
            self.D.requires_grad_(False)
            scores = self.D(torch.cat([fake, batch["cond"]], dim=1)).float()
            self.D.requires_grad_(True)
        ce = self.condition_loss(raw.float(), batch["col"], batch["opt"])
        loss = -scores.mean() + ce
        self.opt_g.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_g.step()
        return {"g_loss": loss.detach(), "cond_ce": ce.detach()}

    def train_step(self, batches: list[Batch]) -> dict[str, torch.Tensor]:
        for batch in batches[:-1]:
            out = self.d_step(batch)
        out.update(self.g_step(batches[-1]))
        self.sched_g.step()
        self.sched_d.step()
        self.steps_done += 1
        if self.G_ema is not None:
            update_ema(self.G_ema, self.G, self.cfg.train.ema_decay, self.steps_done)
        return out

    # ------------------------------------------------------------------ sampling

    @torch.no_grad()
    def generate_rows(self, n: int, condition: tuple[int, int] | None,
                      generator: torch.Generator) -> torch.Tensor:
        if self.space.columns and condition is None:
            col, opt = self.space.draw(n, generator, real_frequencies=True)
        elif self.space.columns:
            col, opt = (torch.full((n,), v, dtype=torch.long) for v in condition)
        cond = self.space.vector(col, opt) if self.space.columns else torch.zeros(n, 0)
        z = torch.randn(n, self.cfg.model.z_dim, generator=generator)
        net = self.G if self.G_ema is None else self.G_ema
        with eval_mode(net), self.autocast():
            raw = net(z.to(self.device), cond.to(self.device)).float().cpu()
        return gumbel_max(raw, self.transformer.spans, generator)

    # ------------------------------------------------------------------ the contract

    def distribute(self, wrap) -> None:  # noqa: ANN001
        self.G_train, self.D_train = wrap(self.G), wrap(self.D)

    def networks(self) -> dict[str, nn.Module]:
        nets = {"G": self.G, "D": self.D}
        return nets if self.G_ema is None else {**nets, "G_ema": self.G_ema}

    def state_dict(self) -> dict[str, Any]:
        return {"steps_done": self.steps_done}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.steps_done = int(state.get("steps_done", 0))

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"opt_g": self.opt_g, "opt_d": self.opt_d}

    def schedulers(self) -> dict[str, Any]:
        return {"sched_g": self.sched_g, "sched_d": self.sched_d}
