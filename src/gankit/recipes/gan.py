"""The adversarial game: alternating D and G steps with a registered loss.

Each step: for ``optim.d_steps`` real batches, D learns to score real data high and generated
data low (G's output detached); then D is frozen and G learns to make D score the last D step's
generated batch as real (one G forward per step, as the tutorials do). With the ``ns`` loss
this is the non-saturating game of Goodfellow et al. (2014).

With ``model.conditional`` both networks see the class: generated samples take the labels of
the real batch beside them, D scores (sample, class) pairs (projection), or also predicts the
class with a cross-entropy that both players minimise (acgan).
"""

from __future__ import annotations

from typing import Any, Literal

import torch
import torch.nn.functional as F
from pydantic import Field, field_validator, model_validator
from torch import nn

from gankit.config import (
    EvalConfig,
    GenerativeTrainConfig,
    ModelFamilyConfig,
    RunConfig,
    ScheduleConfig,
)
from gankit.errors import GankitError
from gankit.losses import LOSSES, gradient_penalty, r1_penalty
from gankit.models import DataSpec, build_models
from gankit.models.layers import eval_mode
from gankit.options import StrictModel
from gankit.recipes.base import RECIPES, Batch, Scalar, decay_schedule, use_bf16
from gankit.recipes.capabilities import HasDiscriminator, ScoresAnomalies
from gankit.recipes.generative import GenerativeRecipe


class GANModelConfig(ModelFamilyConfig):
    """G and D from a model family, the latent distribution, packing and conditioning."""

    noise: Literal["gaussian", "uniform", "mixture"] = "gaussian"
    noise_components: int = Field(64, ge=1, le=100_000, description="mixture noise: number of "
                                  "components (fixed N(0, I) centres)")
    noise_spread: float = Field(0.1, gt=0.0, le=10.0, description="mixture noise: std of each "
                                "component around its centre")
    pack: int = Field(1, ge=1, le=16, description="PacGAN: samples per D input")
    conditional: Literal["none", "projection", "acgan"] = Field(
        "none", description="class-conditional G and D for labelled data: a projection D or an "
        "auxiliary classifier D (AC-GAN)")


class LossConfig(StrictModel):
    """The adversarial loss and its regularisers."""

    name: str = "ns"
    gp_weight: float = Field(0.0, ge=0.0, le=1e6)
    r1_gamma: float = Field(0.0, ge=0.0, le=1e6,
                            description="R1 penalty γ: γ/2 · E‖∇D(real)‖² (0 = off)")
    class_weight: float = Field(1.0, ge=0.0, le=1e6, description="AC-GAN: weight of the class "
                                "cross-entropy in both players' losses")

    @field_validator("name")
    @classmethod
    def _known(cls, name: str) -> str:
        LOSSES.get(name)
        return name


class GANOptimConfig(ScheduleConfig):
    """Adam settings for G and D, and how many D steps come before each G step."""

    g_lr: float = Field(2e-4, gt=0.0, le=1.0)
    d_lr: float = Field(2e-4, gt=0.0, le=1.0)
    beta1: float = Field(0.5, ge=0.0, lt=1.0)
    beta2: float = Field(0.999, ge=0.0, lt=1.0)
    d_steps: int = Field(1, ge=1, le=100)


class GANConfig(RunConfig):
    """A GAN run: the shared sections plus model, loss, optim and evaluation while training."""

    model: GANModelConfig = Field(default_factory=GANModelConfig)
    loss: LossConfig = Field(default_factory=LossConfig)
    optim: GANOptimConfig = Field(default_factory=GANOptimConfig)
    train: GenerativeTrainConfig = Field(default_factory=GenerativeTrainConfig)
    eval: EvalConfig = Field(default_factory=EvalConfig)

    @model_validator(mode="after")
    def _batch_fits_packs(self) -> GANConfig:
        if self.train.batch_size % self.model.pack:
            raise ValueError(f"train.batch_size ({self.train.batch_size}) must be a multiple of "
                             f"model.pack ({self.model.pack})")
        if self.model.pack > 1 and self.model.conditional != "none":
            raise ValueError("model.pack cannot be combined with model.conditional; set one of "
                             "them back to its default")
        return self


@RECIPES.register("gan")
class GANRecipe(GenerativeRecipe, HasDiscriminator, ScoresAnomalies):
    Config = GANConfig
    anomaly_score_name = "−D(x), the discriminator's score of being fake"
    scalars = (Scalar("d_loss", "D loss"), Scalar("d_acc", "D accuracy", kind="share"),
               Scalar("g_loss", "G loss"),
               Scalar("d_real", "D(real)", group="D scores", progress=False),
               Scalar("d_fake", "D(fake)", group="D scores", progress=False),
               Scalar("d_class", "D class loss", group="class losses", progress=False),
               Scalar("g_class", "G class loss", group="class losses", progress=False),
               Scalar("gp", "gradient penalty", group="penalties", progress=False),
               Scalar("r1", "R1 penalty", group="penalties", progress=False))
    cfg: GANConfig

    def __init__(self, cfg: GANConfig, spec: DataSpec, device: torch.device) -> None:
        super().__init__(cfg, spec, device)
        self.z_dim = cfg.model.z_dim
        # mixture noise: fixed N(0, I) component centres, derived from the config alone
        self.latent_centres = torch.randn(
            cfg.model.noise_components, self.z_dim,
            generator=torch.Generator().manual_seed(cfg.seed + 7919),
        ) if cfg.model.noise == "mixture" else None
        self.conditional = cfg.model.conditional
        if self.conditional != "none" and spec.num_classes < 2:
            raise GankitError(f"model.conditional={self.conditional} needs labelled data with at "
                              f"least 2 classes, and {spec.name!r} has none; use a labelled data "
                              "set (digits, mnist, an image folder with class sub-folders).")
        self.num_classes = spec.num_classes if self.conditional != "none" else 0
        self.G, self.D = build_models(cfg.model.arch, cfg.model.g, cfg.model.d, self.z_dim, spec,
                                      cfg.model.init, cfg.model.pack, self.conditional)
        self.G.to(device).train()
        self.D.to(device).train()
        self.G_train, self.D_train = self.G, self.D  # DDP-wrapped when distributed
        self.generator_net = self.G
        self.init_ema()
        o = cfg.optim
        fused = device.type in ("cpu", "cuda")  # measured faster (docs/benchmarks.md)
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=o.g_lr, betas=(o.beta1, o.beta2),
                                      fused=fused)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=o.d_lr, betas=(o.beta1, o.beta2),
                                      fused=fused)
        schedule = decay_schedule(o.lr_decay, o.lr_decay_start, cfg.train.steps)
        self.sched_g = torch.optim.lr_scheduler.LambdaLR(self.opt_g, schedule)
        self.sched_d = torch.optim.lr_scheduler.LambdaLR(self.opt_d, schedule)
        self.loss = LOSSES.get(cfg.loss.name)
        self.batches_per_step = o.d_steps
        self.amp = use_bf16(cfg.train.amp, device)

    # ------------------------------------------------------------------ latent codes

    @property
    def latent_kind(self) -> str:
        return self.cfg.model.noise

    def noise(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return self._draw(n, generator, torch.device("cpu")).to(self.device)

    def _noise_like(self, n: int) -> torch.Tensor:
        """Training noise drawn on the device from the global RNG (checkpointed by the loop)."""
        return self._draw(n, None, self.device)

    def _draw(self, n: int, generator: torch.Generator | None,
              device: torch.device) -> torch.Tensor:
        """``n`` latent codes of ``model.noise``'s distribution."""
        shape, m = (n, self.z_dim), self.cfg.model
        if m.noise == "uniform":
            return torch.rand(shape, generator=generator, device=device)
        z = torch.randn(shape, generator=generator, device=device)
        if self.latent_centres is not None:
            which = torch.randint(len(self.latent_centres), (n,), generator=generator,
                                  device=device)
            z = self.latent_centres.to(device)[which] + m.noise_spread * z
        return z

    # ------------------------------------------------------------------ the game

    def _d(self, net: nn.Module, x: torch.Tensor,
           labels: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """D's scores (float32) and, for AC-GAN, its class logits."""
        if labels is None:
            return net(x).float(), None
        scores, logits = net(x, labels)
        return scores.float(), None if logits is None else logits.float()

    def _labels(self, batch: Batch) -> torch.Tensor | None:
        return batch["labels"] if self.num_classes else None

    def d_step(self, batch: Batch, keep_fake: bool) -> tuple[dict, torch.Tensor]:
        """One D update on a real batch and as many generated samples (of the same classes).

        With ``keep_fake`` the samples keep their graph so that G's step can reuse them (one G
        forward per step, as in the tutorials); D itself only ever sees them detached.
        """
        real = batch["x"]
        labels = self._labels(batch)
        z = self._noise_like(real.shape[0])
        with self.autocast():
            if keep_fake:
                fake = self.forward_generator(self.G_train, z, labels)
            else:
                with torch.no_grad():
                    fake = self.forward_generator(self.G, z, labels)
            real_scores, real_logits = self._d(self.D_train, real, labels)
            fake_scores, fake_logits = self._d(self.D_train, fake.detach(), labels)
        loss = self.loss.d_loss(real_scores, fake_scores)
        out = {"d_loss": loss.detach()}

        def critic(x: torch.Tensor) -> torch.Tensor:  # D's scores of x with the batch's classes
            return self._d(self.D, x, labels)[0]

        if real_logits is not None:
            class_loss = F.cross_entropy(real_logits, labels) + F.cross_entropy(fake_logits, labels)
            loss = loss + self.cfg.loss.class_weight * class_loss
            out["d_class"] = class_loss.detach()
        if self.cfg.loss.gp_weight > 0:
            penalty = gradient_penalty(critic, real, fake.detach().float())
            loss = loss + self.cfg.loss.gp_weight * penalty
            out["gp"] = penalty.detach()
        if self.cfg.loss.r1_gamma > 0:
            penalty = r1_penalty(critic, real)
            loss = loss + 0.5 * self.cfg.loss.r1_gamma * penalty
            out["r1"] = penalty.detach()
        self.opt_d.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_d.step()
        out["d_acc"] = self.loss.accuracy(real_scores.detach(), fake_scores.detach())
        out["d_real"] = real_scores.detach().mean()
        out["d_fake"] = fake_scores.detach().mean()
        return out, fake

    def g_step(self, fake: torch.Tensor, labels: torch.Tensor | None) -> dict[str, torch.Tensor]:
        """One G update: make the (just updated, now frozen) D call G's samples real."""
        self.D.requires_grad_(False)  # frozen D, called without DDP: no gradient to sync
        with self.autocast():
            scores, logits = self._d(self.D, fake, labels)
        loss = self.loss.g_loss(scores)
        out = {"g_loss": loss.detach()}
        if logits is not None:
            class_loss = F.cross_entropy(logits, labels)
            loss = loss + self.cfg.loss.class_weight * class_loss
            out["g_class"] = class_loss.detach()
        self.opt_g.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_g.step()
        self.D.requires_grad_(True)
        return out

    def train_step(self, batches: list[Batch]) -> dict[str, torch.Tensor]:
        for i, batch in enumerate(batches):
            out, fake = self.d_step(batch, keep_fake=i == len(batches) - 1)
        out.update(self.g_step(fake, self._labels(batch)))
        self.sched_g.step()
        self.sched_d.step()
        self.step_done()
        return out

    # ------------------------------------------------------------------ the contract

    def distribute(self, wrap) -> None:  # noqa: ANN001
        self.G_train, self.D_train = wrap(self.G), wrap(self.D)

    def networks(self) -> dict[str, nn.Module]:
        nets: dict[str, nn.Module] = {"G": self.G, "D": self.D}
        if self.generator_ema is not None:
            nets["G_ema"] = self.generator_ema
        return nets

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"opt_g": self.opt_g, "opt_d": self.opt_d}

    def schedulers(self) -> dict[str, torch.optim.lr_scheduler.LRScheduler]:
        return {"sched_g": self.sched_g, "sched_d": self.sched_d}

    def discriminator(self) -> nn.Module:
        return self.D

    @torch.no_grad()
    def anomaly_scores(self, x: torch.Tensor) -> torch.Tensor:
        """−D(x): the trained discriminator's own score as an anomaly score (the baseline of
        anomaly detection; unconditional, unpacked discriminators only)."""
        if self.num_classes or self.cfg.model.pack > 1:
            raise GankitError("The discriminator score needs an unconditional discriminator "
                              "that judges one sample at a time (model.conditional=none, "
                              "model.pack=1).")
        with eval_mode(self.D):
            return -self._d(self.D, x.to(self.device), None)[0].flatten().cpu()

    def discriminator_facts(self) -> dict[str, Any]:
        m = self.cfg.model
        return {"arch": m.arch, "d": m.d, "init": m.init, "pack": m.pack,
                "conditional": m.conditional}
