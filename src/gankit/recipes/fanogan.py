"""f-AnoGAN (Schlegl et al. 2019): fast unsupervised anomaly detection with a GAN and an encoder.

One run, two phases switched by the step (so the trainer, checkpoints and exact resume are
those of every recipe):

1. steps 1 … ``anomaly.gan_steps`` (a step count, so a run resumed with more ``train.steps``
   keeps its switch): a WGAN-GP (Gulrajani et al. 2017) on the normal training images —
   ``anomaly.n_critic`` critic updates (Wasserstein loss + ``anomaly.gp_weight`` × gradient
   penalty, :func:`gankit.losses.gradient_penalty`) per generator update, Adam for both at
   constant learning rates; with ``train.ema_decay`` an EMA copy of G, which phase 2 and the
   scores then use;
2. the remaining steps: G and D frozen (eval mode, no gradients, their optimisers idle), an
   encoder E learns to map images to codes, one batch a step, with the *izi_f* objective

       L(x) = (1/n) ‖x − G(E(x))‖² + κ · (1/n_d) ‖f(x) − f(G(E(x)))‖²,

   with n pixels, f the critic's last hidden features (``D.features``, n_d of them) and κ
   ``anomaly.kappa``; pixels are in the data's range.

The anomaly score of an image is the same L(x) (computed in eval mode, each image on its own):
a normal image is reconstructed well and its features match; an anomalous one is not.
Pictures: samples from fixed noise in phase 1, then rows of fixed validation images, their
reconstructions G(E(x)) and the residuals |x − G(E(x))|; ``grid_final.png`` and
``reconstruction_final.png`` at the end. Capabilities: :class:`ScoresAnomalies` (scores and
residual maps), :class:`SamplesFromNoise` (``gankit sample``) and :class:`Encodes` (E).

The networks come from a model family (``model.arch``, DCGAN by default): G is the family's
generator, D its discriminator (best without BatchNorm, as the gradient penalty asks), E the
body of a second discriminator (``model.e``, by default ``model.d``'s options) with a dense
layer to the code. The normal data (``data.classes``) is split by
:func:`gankit.anomaly.holdout.split_normal`: the networks train on the training part only, and
the izi_f loss on the held-out *normal* validation part is logged during phase 2 (``val_*``
keys of metrics.jsonl) — nothing is ever chosen on test data.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import torch
from pydantic import Field, model_validator
from torch import nn

from gankit.anomaly.holdout import split_normal
from gankit.anomaly.residuals import residual_map
from gankit.config import (
    MAX_STEPS,
    GenerativeTrainConfig,
    ModelFamilyConfig,
    RunConfig,
    ScheduleConfig,
    _validate_options,
)
from gankit.data import Dataset
from gankit.data.ranges import to_unit
from gankit.data.sampler import Sampler
from gankit.errors import GankitError
from gankit.losses import LOSSES, gradient_penalty
from gankit.models import MODELS, DataSpec, build_models
from gankit.models.encoder import CodeEncoder
from gankit.models.layers import MinibatchStd, eval_mode, init_weights
from gankit.options import StrictModel
from gankit.recipes.base import RECIPES, Batch, HookContext, Scalar, decay_schedule, use_bf16
from gankit.recipes.capabilities import Encodes, ScoresAnomalies
from gankit.recipes.generative import GenerativeRecipe
from gankit.training.distributed import World
from gankit.viz import save_image_grid

#: images scored at a time (memory)
CHUNK = 256
#: validation images shown in the reconstruction pictures
SHOWN = 32


class FAnoGANModelConfig(ModelFamilyConfig):
    """G and D from a model family, and the encoder's body (a discriminator of the family)."""

    arch: str = "dcgan"
    e: dict[str, Any] | None = Field(None, description="the encoder's body: options of the "
                                     "family's discriminator, over those of model.d (default: "
                                     "model.d's)")
    e_output: Literal["linear", "tanh"] = Field(
        "linear", description="the encoder's last activation: linear codes, or tanh (codes "
        "in (−1, 1), as the reference code)")

    @model_validator(mode="after")
    def _check_encoder(self) -> FAnoGANModelConfig:
        if self.e is not None:
            self.e = _validate_options(MODELS, self.arch, {**self.d, **self.e}, "d_options",
                                       "model.e")
        return self


class FAnoGANOptimConfig(ScheduleConfig):
    """Adam for G and D (phase 1, constant learning rates as in the references) and for the
    encoder (phase 2, whose learning rate ``lr_decay`` may decay over phase 2's steps)."""

    g_lr: float = Field(1e-4, gt=0.0, le=1.0)
    d_lr: float = Field(1e-4, gt=0.0, le=1.0)
    beta1: float = Field(0.0, ge=0.0, lt=1.0)
    beta2: float = Field(0.9, ge=0.0, lt=1.0)
    e_lr: float = Field(1e-4, gt=0.0, le=1.0)
    e_beta1: float = Field(0.5, ge=0.0, lt=1.0)
    e_beta2: float = Field(0.999, ge=0.0, lt=1.0)


class FAnoGANAnomalyConfig(StrictModel):
    """The detector: the normal validation split, the two phases and the izi_f score."""

    holdout: float = Field(0.1, gt=0.0, le=0.5, description="share of the normal data held "
                           "out for validation (never trained on)")
    gan_steps: int = Field(2000, ge=0, le=MAX_STEPS, description="steps of phase 1 (the "
                           "WGAN-GP); the encoder trains for the rest of train.steps")
    kappa: float = Field(1.0, ge=0.0, le=1e6, description="weight of the feature residual in "
                         "the izi_f loss and the score")
    n_critic: int = Field(5, ge=1, le=100, description="critic updates per generator update")
    gp_weight: float = Field(10.0, ge=0.0, le=1e6, description="λ of the gradient penalty")
    val_every: int = Field(500, ge=0, le=MAX_STEPS, description="phase-2 steps between "
                           "validation izi_f losses (0 = only at the last step)")


class FAnoGANConfig(RunConfig):
    """An f-AnoGAN run: the shared sections plus model, optim and anomaly."""

    model: FAnoGANModelConfig = Field(default_factory=FAnoGANModelConfig)
    optim: FAnoGANOptimConfig = Field(default_factory=FAnoGANOptimConfig)
    train: GenerativeTrainConfig = Field(default_factory=GenerativeTrainConfig)
    anomaly: FAnoGANAnomalyConfig = Field(default_factory=FAnoGANAnomalyConfig)


@RECIPES.register("fanogan")
class FAnoGANRecipe(GenerativeRecipe, Encodes, ScoresAnomalies):
    """WGAN-GP, then an izi_f encoder; scores pixel + κ · feature residuals."""

    Config = FAnoGANConfig
    scalars = (Scalar("d_loss", "critic loss", group="phase 1: WGAN-GP"),
               Scalar("g_loss", "G loss", group="phase 1: WGAN-GP"),
               Scalar("w_dist", "Wasserstein estimate", group="phase 1: WGAN-GP",
                      progress=False),
               Scalar("gp", "gradient penalty", group="phase 1: WGAN-GP", progress=False),
               Scalar("e_loss", "izi_f loss", group="phase 2: encoder"),
               Scalar("e_pixel", "pixel residual", group="phase 2: encoder", progress=False),
               Scalar("e_feature", "feature residual", group="phase 2: encoder",
                      progress=False),
               Scalar("val_izif", "validation izi_f loss", group="phase 2: validation",
                      progress=False),
               Scalar("val_pixel", "validation pixel residual", group="phase 2: validation",
                      progress=False),
               Scalar("val_feature", "validation feature residual",
                      group="phase 2: validation", progress=False))
    cfg: FAnoGANConfig

    def __init__(self, cfg: FAnoGANConfig, spec: DataSpec, device: torch.device) -> None:
        super().__init__(cfg, spec, device)
        if spec.kind != "image":
            raise GankitError(f"f-AnoGAN scores images, and {spec.name!r} holds {spec.kind}; "
                              "use an image data set (digits, mnist, a folder).")
        m, a, o = cfg.model, cfg.anomaly, cfg.optim
        self.z_dim, self.num_classes = m.z_dim, 0
        self.G, self.D = build_models(m.arch, m.g, m.d, self.z_dim, spec, m.init)
        family = MODELS.get(m.arch)
        body = family.build_d(family.d_options.model_validate(m.e if m.e is not None else m.d),
                              spec)
        self.E = CodeEncoder(body, self.z_dim, m.e_output)
        if any(isinstance(mod, MinibatchStd) for net in (self.D, self.E) for mod in net.modules()):
            raise GankitError("f-AnoGAN scores every image on its own, and a minibatch-std "
                              "layer makes D's features depend on the batch; set "
                              "model.d.minibatch_std=0 (and model.e's).")
        init_weights(self.E, m.init)
        for net in (self.G, self.D, self.E):
            net.to(device).train()
        self.G_train, self.D_train, self.E_train = self.G, self.D, self.E  # DDP when distributed
        self.generator_net = self.G
        self.init_ema()
        fused = device.type in ("cpu", "cuda")
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=o.g_lr, betas=(o.beta1, o.beta2),
                                      fused=fused)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=o.d_lr, betas=(o.beta1, o.beta2),
                                      fused=fused)
        self.opt_e = torch.optim.Adam([p for p in self.E.parameters() if p.requires_grad],
                                      lr=o.e_lr, betas=(o.e_beta1, o.e_beta2), fused=fused)
        self.sched_e = torch.optim.lr_scheduler.LambdaLR(self.opt_e, decay_schedule(
            o.lr_decay, o.lr_decay_start, max(cfg.train.steps - a.gan_steps, 1)))
        self.wasserstein = LOSSES.get("wasserstein")
        # without BatchNorm the critic scores each image on its own: real and fake can share
        # one forward
        self.joint_critic = not any(isinstance(mod, nn.modules.batchnorm._BatchNorm)
                                    for mod in self.D.modules())
        self.amp = use_bf16(cfg.train.amp, device)
        self.kappa = a.kappa
        self.anomaly_score_name = f"pixel + {a.kappa:g} · feature residual (izi_f)"
        self.val_x: torch.Tensor | None = None

    # ------------------------------------------------------------------ phases

    @property
    def in_gan_phase(self) -> bool:
        """Whether the next step belongs to phase 1 (the WGAN-GP)."""
        return self.steps_done < self.cfg.anomaly.gan_steps

    @property
    def batches_per_step(self) -> int:  # type: ignore[override]
        return self.cfg.anomaly.n_critic if self.in_gan_phase else 1

    def train_step(self, batches: list[Batch]) -> dict[str, torch.Tensor]:
        if self.in_gan_phase:
            out = self.gan_step(batches)
            self.step_done()  # counts the step, updates the EMA copy of G
        else:
            out = self.encoder_step(batches[0]["x"])
            self.steps_done += 1  # G (and its EMA copy) stay as phase 1 left them
        return out

    def critic_step(self, real: torch.Tensor) -> dict[str, torch.Tensor]:
        """One critic update: E[D(fake)] − E[D(real)] + λ · gradient penalty."""
        z = self.noise_on_device(real.shape[0])
        with torch.no_grad(), self.autocast():
            fake = self.G_train(z)
        with self.autocast():
            if self.joint_critic:  # one forward of both halves (the same scores, faster)
                real_scores, fake_scores = self.D_train(torch.cat([real, fake])).float().chunk(2)
            else:
                real_scores, fake_scores = self.D_train(real).float(), self.D_train(fake).float()
        loss = self.wasserstein.d_loss(real_scores, fake_scores)
        out = {"d_loss": loss.detach(), "w_dist": -loss.detach()}
        if self.cfg.anomaly.gp_weight > 0:
            penalty = gradient_penalty(lambda x: self.D(x).float(), real, fake.float())
            loss = loss + self.cfg.anomaly.gp_weight * penalty
            out["gp"] = penalty.detach()
        self.opt_d.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_d.step()
        return out

    def gan_step(self, batches: list[Batch]) -> dict[str, torch.Tensor]:
        """``n_critic`` critic updates, then one G update against the frozen critic."""
        for batch in batches:
            out = self.critic_step(batch["x"])
        self.D.requires_grad_(False)
        try:
            with self.autocast():
                scores = self.D(self.G_train(self.noise_on_device(len(batch["x"])))).float()
            loss = self.wasserstein.g_loss(scores)
            self.opt_g.zero_grad(set_to_none=True)
            loss.backward()
            self.opt_g.step()
        finally:
            self.D.requires_grad_(True)
        return {**out, "g_loss": loss.detach()}

    def noise_on_device(self, n: int) -> torch.Tensor:
        """Training codes from N(0, I), drawn on the device from the global RNG (checkpointed)."""
        return torch.randn((n, self.z_dim), device=self.device)

    def encoder_step(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """One izi_f update of E; G and D are frozen and in eval mode."""
        G, D = self.generator(), self.D
        G.requires_grad_(False)
        D.requires_grad_(False)
        try:
            with eval_mode(G), eval_mode(D):
                pixel, feature, _ = self.residuals(x, self.E_train, G)
            loss = (pixel + self.kappa * feature).mean()
            self.opt_e.zero_grad(set_to_none=True)
            loss.backward()
            self.opt_e.step()
        finally:
            G.requires_grad_(G is self.G)  # the EMA copy is always frozen
            D.requires_grad_(True)
        self.sched_e.step()
        return {"e_loss": loss.detach(), "e_pixel": pixel.detach().mean(),
                "e_feature": feature.detach().mean()}

    def residuals(self, x: torch.Tensor, encoder: nn.Module, generator: nn.Module
                  ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Per-image ``(N,)`` pixel and feature residuals of izi_f, and G(E(x))."""
        with self.autocast():
            x_hat = generator(encoder(x))
            f_real, f_fake = self.D.features(x), self.D.features(x_hat)
        pixel = (x_hat.float() - x.float()).pow(2).flatten(1).mean(1)
        feature = (f_fake.float() - f_real.float()).pow(2).flatten(1).mean(1)
        return pixel, feature, x_hat

    # ------------------------------------------------------------------ data

    def split(self, dataset: Dataset) -> tuple[Dataset, Dataset]:
        """(training part, validation part) of the normal data; keeps the validation images."""
        train, val = split_normal(dataset, self.cfg.anomaly.holdout, self.cfg.seed)
        self.val_x = val.rows().to(self.device)
        return train, val

    def sampler(self, dataset: Dataset, batch_size: int, seed: int, world: World,
                device: torch.device) -> Sampler:
        """Batches of the normal training part only (the validation part is kept aside)."""
        train, _ = self.split(dataset)
        return train.sampler(batch_size, seed, world, device)

    def hooks(self, context: HookContext) -> list:
        return [Validation(self, context)] if context.is_main else []

    # ------------------------------------------------------------------ capabilities

    @torch.no_grad()
    def score_parts(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Pixel and feature residuals ``(N,)`` and reconstructions of ``x`` (eval mode, no
        grads, :data:`CHUNK` images at a time), on the recipe's device."""
        G = self.generator()
        parts = []
        with eval_mode(self.E), eval_mode(G), eval_mode(self.D):
            for chunk in x.to(self.device).split(CHUNK):
                parts.append(self.residuals(chunk, self.E, G))
        pixel, feature, x_hat = (torch.cat(p) for p in zip(*parts, strict=True))
        return pixel, feature, x_hat.float()

    def anomaly_scores(self, x: torch.Tensor) -> torch.Tensor:
        """izi_f per image: pixel MSE + κ · MSE of the critic's features (higher = anomalous)."""
        pixel, feature, _ = self.score_parts(x)
        return (pixel + self.kappa * feature).float().cpu()

    def residual_maps(self, x: torch.Tensor) -> torch.Tensor:
        """|x − G(E(x))| in [0, 1] units, averaged over channels: ``(N, 1, H, W)`` on the CPU."""
        return residual_map(x.to(self.device), self.reconstruct(x), self.spec.normalize)

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """G(E(x)) in the data's range (eval mode, no grads), on the recipe's device."""
        return self.score_parts(x)[2]

    @torch.no_grad()
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """E(x): the codes ``(N, z_dim)`` of images in the data's range (eval mode)."""
        with eval_mode(self.E):
            return torch.cat([self.E(c).float() for c in x.to(self.device).split(CHUNK)])

    # ------------------------------------------------------------------ the contract

    def distribute(self, wrap) -> None:  # noqa: ANN001
        self.G_train, self.D_train, self.E_train = wrap(self.G), wrap(self.D), wrap(self.E)

    def networks(self) -> dict[str, nn.Module]:
        nets: dict[str, nn.Module] = {"G": self.G, "D": self.D, "E": self.E}
        if self.generator_ema is not None:
            nets["G_ema"] = self.generator_ema
        return nets

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"opt_g": self.opt_g, "opt_d": self.opt_d, "opt_e": self.opt_e}

    def schedulers(self) -> dict[str, torch.optim.lr_scheduler.LRScheduler]:
        return {"sched_e": self.sched_e}

    def pictures(self, dataset: Dataset) -> FAnoGANPictures:
        if self.val_x is None:
            self.split(dataset)
        return FAnoGANPictures(self, dataset)


class Validation:
    """In phase 2, every ``anomaly.val_every`` steps and at the last step: the mean izi_f loss
    and its two residuals on the normal validation split, as ``val_*`` records."""

    def __init__(self, recipe: FAnoGANRecipe, context: HookContext) -> None:
        self.recipe, self.context = recipe, context

    def __call__(self, step: int, scalars: dict[str, torch.Tensor]) -> None:
        r = self.recipe
        every, last = r.cfg.anomaly.val_every, r.cfg.train.steps
        if step <= r.cfg.anomaly.gan_steps or r.val_x is None:
            return
        if step != last and (not every or (step - r.cfg.anomaly.gan_steps) % every):
            return
        pixel, feature, _ = r.score_parts(r.val_x)
        result = {"val_izif": float((pixel + r.kappa * feature).mean()),
                  "val_pixel": float(pixel.mean()), "val_feature": float(feature.mean())}
        self.context.record({"step": step, **result})
        self.context.say(f"validation at step {step} | izi_f {result['val_izif']:.4f} "
                         f"(pixel {result['val_pixel']:.4f}, feature "
                         f"{result['val_feature']:.4f}) on {len(r.val_x)} normal images")


class FAnoGANPictures:
    """Phase 1: samples from fixed noise. Phase 2: fixed validation images in row blocks of
    input / G(E(x)) / residual |x − G(E(x))|. Final: ``grid_final.png`` (samples) and
    ``reconstruction_final.png``."""

    def __init__(self, recipe: FAnoGANRecipe, dataset: Dataset) -> None:
        self.recipe, self.normalize = recipe, dataset.normalize
        t = recipe.cfg.train
        self.noise = recipe.noise(t.sample_grid, torch.Generator().manual_seed(recipe.cfg.seed + 1))
        self.final_noise = recipe.noise(t.final_grid,
                                        torch.Generator().manual_seed(recipe.cfg.seed + 2))
        shown = min(SHOWN, len(recipe.val_x))
        self.per_row = min(16, shown)
        self.images = recipe.val_x[: shown - shown % self.per_row]  # whole rows only

    def progress(self, path: Path, step: int) -> Path:
        if step <= self.recipe.cfg.anomaly.gan_steps:
            return self._samples(self.noise, path)
        return self._reconstructions(path)

    def final(self, run_dir: Path) -> list[Path]:
        return [self._samples(self.final_noise, run_dir / "grid_final.png"),
                self._reconstructions(run_dir / "reconstruction_final.png")]

    def _samples(self, z: torch.Tensor, path: Path) -> Path:
        samples = torch.cat([self.recipe.generate(c).float().cpu() for c in z.split(CHUNK)])
        return save_image_grid(samples, path, normalize=self.normalize)

    def _reconstructions(self, path: Path) -> Path:
        x = self.images
        x_hat = self.recipe.reconstruct(x)
        residual = residual_map(x, x_hat, self.normalize)
        rows = []
        for a, b, c in zip(x.split(self.per_row), x_hat.split(self.per_row),
                           residual.split(self.per_row), strict=True):
            rows += [to_unit(a, self.normalize).cpu(), to_unit(b, self.normalize).cpu(),
                     c.clamp(0.0, 1.0).expand_as(a.cpu())]
        return save_image_grid(torch.cat(rows), path, normalize="unit", nrow=self.per_row)
