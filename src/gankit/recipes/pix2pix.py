"""pix2pix (Isola et al. 2017, "Image-to-Image Translation with Conditional Adversarial Networks").

A U-Net G maps an input image a to an output G(a); a PatchGAN D judges (input, output) pairs,
a map of patch logits. Each step, on one batch of pairs (a, b):

- D: ½ [BCE(D(a, b), 1) + BCE(D(a, G(a)), 0)], averaged over the patches;
- G: BCE(D(a, G(a)), 1) + λ · ‖b − G(a)‖₁ (λ = ``loss.l1_weight``, 100).

``loss.variant`` picks the paper's ablation: ``l1+cgan`` (the default), ``l1`` (no D at all:
a U-Net regressed on L1) or ``cgan`` (λ = 0). Dropout in the U-Net is the only noise, as in the
paper. Adam 2e-4, β = (0.5, 0.999); the learning rate is constant for the first half of
``train.steps`` and decays linearly to 0 over the second (``optim.lr_decay``).
"""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field, model_validator
from torch import nn

from gankit.config import RunConfig, TrainConfig
from gankit.errors import GankitError
from gankit.models import DataSpec
from gankit.models.translation import (
    Norm,
    init_normal,
    patch_discriminator,
    size_defaults,
    unet_generator,
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


class Pix2PixModelConfig(StrictModel):
    """Network sizes; None follows the image size (:func:`size_defaults`)."""

    g_width: int | None = Field(None, ge=1, le=1024, description="U-Net's first width")
    d_width: int | None = Field(None, ge=1, le=1024, description="PatchGAN's first width")
    unet_depth: int | None = Field(None, ge=1, le=12, description="U-Net levels (halvings)")
    d_layers: int | None = Field(None, ge=1, le=8, description="PatchGAN's strided layers")
    norm: Norm = "batch"
    dropout: float = Field(0.5, ge=0.0, lt=1.0)


class Pix2PixLossConfig(StrictModel):
    variant: Literal["l1+cgan", "l1", "cgan"] = Field(
        "l1+cgan", description="the paper's ablation: L1 + cGAN, L1 alone or cGAN alone")
    l1_weight: float = Field(100.0, ge=0.0, le=1e6, description="λ of the L1 term")
    gan: Literal["vanilla", "lsgan"] = "vanilla"


class Pix2PixConfig(RunConfig):
    model: Pix2PixModelConfig = Field(default_factory=Pix2PixModelConfig)
    loss: Pix2PixLossConfig = Field(default_factory=Pix2PixLossConfig)
    optim: TranslationOptimConfig = Field(default_factory=TranslationOptimConfig)
    augment: AugmentConfig = Field(default_factory=AugmentConfig)
    train: TrainConfig = Field(default_factory=lambda: TrainConfig(batch_size=1))

    @model_validator(mode="after")
    def _paired(self) -> Pix2PixConfig:
        if self.data.options.get("paired") is False:
            raise ValueError("pix2pix learns from paired images; drop data.options.paired=false "
                             "(unpaired data: use the cyclegan recipe)")
        return self


@RECIPES.register("pix2pix")
class Pix2PixRecipe(TranslationRecipe):
    Config = Pix2PixConfig
    scalars = (Scalar("g_gan", "G_GAN"), Scalar("g_l1", "G_L1"),
               Scalar("d_real", "D_real", group="D losses"),
               Scalar("d_fake", "D_fake", group="D losses"))
    cfg: Pix2PixConfig

    def __init__(self, cfg: Pix2PixConfig, spec: DataSpec, device: torch.device) -> None:
        super().__init__(cfg, spec, device)
        if not spec.codec.get("paired", True):
            raise GankitError(f"pix2pix learns from paired images, and {spec.name!r} is "
                              "unpaired; use the cyclegan recipe.")
        m, o, sizes = cfg.model, cfg.optim, size_defaults(self.size)
        c_a, c_b = self.shape_a[0], self.shape_b[0]
        self.G = unet_generator(c_a, c_b, self.size, m.g_width or sizes["width"], m.unet_depth,
                                m.norm, m.dropout).to(device)
        self.D = init_normal(patch_discriminator(c_a + c_b, m.d_width or sizes["width"],
                                                 m.d_layers or sizes["patch_layers"],
                                                 m.norm)).to(device)
        self.G_train, self.D_train = self.G, self.D
        self.adversarial = cfg.loss.variant != "l1"
        self.l1_weight = 0.0 if cfg.loss.variant == "cgan" else cfg.loss.l1_weight
        self.criterion = gan_criterion(cfg.loss.gan)
        fused = device.type in ("cpu", "cuda")
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=o.g_lr, betas=(o.beta1, o.beta2),
                                      fused=fused)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=o.d_lr, betas=(o.beta1, o.beta2),
                                      fused=fused)
        schedule = decay_schedule(o.lr_decay, o.lr_decay_start, cfg.train.steps)
        self.sched_g = torch.optim.lr_scheduler.LambdaLR(self.opt_g, schedule)
        self.sched_d = torch.optim.lr_scheduler.LambdaLR(self.opt_d, schedule)
        self.amp = use_bf16(cfg.train.amp, device)

    def train_step(self, batches: list[Batch]) -> dict[str, torch.Tensor]:
        a, b = batches[0]["a"], batches[0]["b"]
        with self.autocast():
            fake = self.G_train(a)
        out: dict[str, torch.Tensor] = {}
        if self.adversarial:
            with self.autocast():
                real_scores = self.D_train(torch.cat([a, b], dim=1))
                fake_scores = self.D_train(torch.cat([a, fake.detach()], dim=1))
            d_real, d_fake = self.criterion(real_scores, 1.0), self.criterion(fake_scores, 0.0)
            self.opt_d.zero_grad(set_to_none=True)
            (0.5 * (d_real + d_fake)).backward()
            self.opt_d.step()
            out.update(d_real=d_real.detach(), d_fake=d_fake.detach())
        loss = fake.new_zeros((), dtype=torch.float32)
        if self.adversarial:
            self.D.requires_grad_(False)
            with self.autocast():
                g_gan = self.criterion(self.D_train(torch.cat([a, fake], dim=1)), 1.0)
            self.D.requires_grad_(True)
            loss = loss + g_gan
            out["g_gan"] = g_gan.detach()
        g_l1 = (fake.float() - b).abs().mean()
        loss = loss + self.l1_weight * g_l1
        self.opt_g.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_g.step()
        self.sched_g.step()
        if self.adversarial:
            self.sched_d.step()
        out["g_l1"] = g_l1.detach()
        return out

    # ------------------------------------------------------------------ the contract

    def translator(self, direction: Direction = "AtoB") -> nn.Module:
        self.check_direction(direction)
        return self.G

    def distribute(self, wrap) -> None:  # noqa: ANN001
        self.G_train = wrap(self.G)
        if self.adversarial:
            self.D_train = wrap(self.D)

    def networks(self) -> dict[str, nn.Module]:
        return {"G": self.G, "D": self.D}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"opt_g": self.opt_g, "opt_d": self.opt_d}

    def schedulers(self) -> dict:
        return {"sched_g": self.sched_g, "sched_d": self.sched_d}
