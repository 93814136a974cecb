"""CycleGAN (Zhu et al. 2017, "Unpaired Image-to-Image Translation using Cycle-Consistent
Adversarial Networks").

Two ResNet generators, G_AB: A → B and G_BA: B → A, and two PatchGAN discriminators, D_A (is this
an A image?) and D_B, all with instance norm. Each step, on a batch a of domain A and a batch b
of domain B (unpaired: drawn in their own orders):

- G: LSGAN (D_B(G_AB(a)) − 1)² + (D_A(G_BA(b)) − 1)², the cycle losses
  λ · ‖G_BA(G_AB(a)) − a‖₁ + λ · ‖G_AB(G_BA(b)) − b‖₁ (λ = ``loss.cycle_weight``, 10) and the
  identity losses ``loss.identity`` · λ · (‖G_AB(b) − b‖₁ + ‖G_BA(a) − a‖₁) (0.5; skipped when
  the domains' channels differ);
- D_A: ½ [(D_A(a) − 1)² + D_A(ã)²] where ã comes from a history pool of 50 generated A images
  (:mod:`gankit.translation.pool`, checkpointed); D_B likewise.

Adam 2e-4, β = (0.5, 0.999), constant for the first half of ``train.steps`` and decaying
linearly to 0 over the second. The papers' batch is 1.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
from pydantic import Field
from torch import nn

from gankit.config import RunConfig, TrainConfig
from gankit.models import DataSpec
from gankit.models.translation import (
    Norm,
    init_normal,
    patch_discriminator,
    resnet_translator,
    size_defaults,
)
from gankit.options import StrictModel
from gankit.recipes.base import RECIPES, Batch, Scalar, decay_schedule, use_bf16
from gankit.recipes.translation import (
    AugmentConfig,
    Direction,
    TranslationOptimConfig,
    TranslationRecipe,
    gan_criterion,
)
from gankit.translation.pool import ImagePool


class CycleGANModelConfig(StrictModel):
    """Network sizes; None follows the image size (:func:`size_defaults`)."""

    g_width: int | None = Field(None, ge=1, le=1024)
    d_width: int | None = Field(None, ge=1, le=1024)
    blocks: int | None = Field(None, ge=0, le=32, description="residual blocks of each G")
    d_layers: int | None = Field(None, ge=1, le=8)
    norm: Norm = "instance"


class CycleGANLossConfig(StrictModel):
    cycle_weight: float = Field(10.0, ge=0.0, le=1e6, description="λ of the cycle losses")
    identity: float = Field(0.5, ge=0.0, le=100.0, description="identity weight, times λ")
    gan: Literal["vanilla", "lsgan"] = "lsgan"
    pool_size: int = Field(50, ge=0, le=10_000, description="generated images D learns from")


class CycleGANConfig(RunConfig):
    model: CycleGANModelConfig = Field(default_factory=CycleGANModelConfig)
    loss: CycleGANLossConfig = Field(default_factory=CycleGANLossConfig)
    optim: TranslationOptimConfig = Field(default_factory=TranslationOptimConfig)
    augment: AugmentConfig = Field(default_factory=AugmentConfig)
    train: TrainConfig = Field(default_factory=lambda: TrainConfig(batch_size=1))


@RECIPES.register("cyclegan")
class CycleGANRecipe(TranslationRecipe):
    Config = CycleGANConfig
    directions = ("AtoB", "BtoA")
    scalars = (Scalar("g_gan_ab", "G_GAN A→B", group="G_GAN"),
               Scalar("g_gan_ba", "G_GAN B→A", group="G_GAN"),
               Scalar("cycle_a", "cycle A→B→A", group="cycle"),
               Scalar("cycle_b", "cycle B→A→B", group="cycle"),
               Scalar("idt_a", "identity G_BA(a)", group="identity", progress=False),
               Scalar("idt_b", "identity G_AB(b)", group="identity", progress=False),
               Scalar("d_a", "D_A", group="D losses"), Scalar("d_b", "D_B", group="D losses"))
    cfg: CycleGANConfig

    def __init__(self, cfg: CycleGANConfig, spec: DataSpec, device: torch.device) -> None:
        super().__init__(cfg, spec, device)
        m, o, sizes = cfg.model, cfg.optim, size_defaults(self.size)
        c_a, c_b = self.shape_a[0], self.shape_b[0]
        g_width, blocks = m.g_width or sizes["width"], sizes["resnet_blocks"] \
            if m.blocks is None else m.blocks
        d_width, d_layers = m.d_width or sizes["width"], m.d_layers or sizes["patch_layers"]
        self.G_AB = resnet_translator(c_a, c_b, g_width, blocks, m.norm).to(device)
        self.G_BA = resnet_translator(c_b, c_a, g_width, blocks, m.norm).to(device)
        self.D_A = init_normal(patch_discriminator(c_a, d_width, d_layers, m.norm)).to(device)
        self.D_B = init_normal(patch_discriminator(c_b, d_width, d_layers, m.norm)).to(device)
        self.train_nets = {"G_AB": self.G_AB, "G_BA": self.G_BA, "D_A": self.D_A,
                           "D_B": self.D_B}
        self.identity = cfg.loss.identity if c_a == c_b else 0.0
        self.criterion = gan_criterion(cfg.loss.gan)
        self.pool_a = ImagePool(cfg.loss.pool_size, cfg.seed + 31)
        self.pool_b = ImagePool(cfg.loss.pool_size, cfg.seed + 37)
        fused = device.type in ("cpu", "cuda")
        betas = (o.beta1, o.beta2)
        self.opt_g = torch.optim.Adam([*self.G_AB.parameters(), *self.G_BA.parameters()],
                                      lr=o.g_lr, betas=betas, fused=fused)
        self.opt_d = torch.optim.Adam([*self.D_A.parameters(), *self.D_B.parameters()],
                                      lr=o.d_lr, betas=betas, fused=fused)
        schedule = decay_schedule(o.lr_decay, o.lr_decay_start, cfg.train.steps)
        self.sched_g = torch.optim.lr_scheduler.LambdaLR(self.opt_g, schedule)
        self.sched_d = torch.optim.lr_scheduler.LambdaLR(self.opt_d, schedule)
        self.amp = use_bf16(cfg.train.amp, device)

    def _g_step(self, a: torch.Tensor, b: torch.Tensor) -> tuple[dict, torch.Tensor, torch.Tensor]:
        n, lam = self.train_nets, self.cfg.loss.cycle_weight
        for d in (self.D_A, self.D_B):
            d.requires_grad_(False)
        with self.autocast():
            fake_b, fake_a = n["G_AB"](a), n["G_BA"](b)
            rec_a, rec_b = n["G_BA"](fake_b), n["G_AB"](fake_a)
            g_gan_ab = self.criterion(n["D_B"](fake_b), 1.0)
            g_gan_ba = self.criterion(n["D_A"](fake_a), 1.0)
        cycle_a = (rec_a.float() - a).abs().mean()
        cycle_b = (rec_b.float() - b).abs().mean()
        loss = g_gan_ab + g_gan_ba + lam * (cycle_a + cycle_b)
        out = {"g_gan_ab": g_gan_ab, "g_gan_ba": g_gan_ba, "cycle_a": cycle_a,
               "cycle_b": cycle_b}
        if self.identity > 0:
            with self.autocast():
                idt_b, idt_a = n["G_AB"](b), n["G_BA"](a)
            out["idt_b"] = (idt_b.float() - b).abs().mean()
            out["idt_a"] = (idt_a.float() - a).abs().mean()
            loss = loss + self.identity * lam * (out["idt_a"] + out["idt_b"])
        self.opt_g.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_g.step()
        for d in (self.D_A, self.D_B):
            d.requires_grad_(True)
        return {k: v.detach() for k, v in out.items()}, fake_a.detach().float(), \
            fake_b.detach().float()

    def _d_loss(self, net: nn.Module, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        with self.autocast():
            real_scores, fake_scores = net(real), net(fake)
        return 0.5 * (self.criterion(real_scores, 1.0) + self.criterion(fake_scores, 0.0))

    def train_step(self, batches: list[Batch]) -> dict[str, torch.Tensor]:
        a, b = batches[0]["a"], batches[0]["b"]
        out, fake_a, fake_b = self._g_step(a, b)
        d_a = self._d_loss(self.train_nets["D_A"], a, self.pool_a.query(fake_a))
        d_b = self._d_loss(self.train_nets["D_B"], b, self.pool_b.query(fake_b))
        self.opt_d.zero_grad(set_to_none=True)
        (d_a + d_b).backward()
        self.opt_d.step()
        self.sched_g.step()
        self.sched_d.step()
        return {**out, "d_a": d_a.detach(), "d_b": d_b.detach()}

    # ------------------------------------------------------------------ the contract

    def translator(self, direction: Direction = "AtoB") -> nn.Module:
        return self.G_AB if self.check_direction(direction) == "AtoB" else self.G_BA

    def distribute(self, wrap) -> None:  # noqa: ANN001
        self.train_nets = {name: wrap(net) for name, net in self.networks().items()}

    def networks(self) -> dict[str, nn.Module]:
        return {"G_AB": self.G_AB, "G_BA": self.G_BA, "D_A": self.D_A, "D_B": self.D_B}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"opt_g": self.opt_g, "opt_d": self.opt_d}

    def schedulers(self) -> dict[str, Any]:
        return {"sched_g": self.sched_g, "sched_d": self.sched_d}

    def state_dict(self) -> dict[str, Any]:
        return {"pool_a": self.pool_a.state_dict(), "pool_b": self.pool_b.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.pool_a.load_state_dict(state["pool_a"], self.device)
        self.pool_b.load_state_dict(state["pool_b"], self.device)
