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

import math

import torch
import torch.nn.functional as F
from torch import nn

from gankit.config import RunConfig
from gankit.errors import GankitError
from gankit.losses import LOSSES, gradient_penalty, r1_penalty
from gankit.models import DataSpec, build_models
from gankit.recipes.base import RECIPES, Batch, Recipe, balanced_labels, use_bf16
from gankit.training.ema import make_ema, update_ema


@RECIPES.register("gan")
class GANRecipe(Recipe):
    progress_keys = ("d_loss", "d_acc", "g_loss")

    def __init__(self, cfg: RunConfig, spec: DataSpec, device: torch.device) -> None:
        self.cfg, self.spec, self.device = cfg, spec, device
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
        self.G_ema = make_ema(self.G) if cfg.train.ema_decay > 0 else None
        o = cfg.optim
        fused = device.type in ("cpu", "cuda")  # measured faster (docs/benchmarks.md)
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=o.g_lr, betas=(o.beta1, o.beta2),
                                      fused=fused)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=o.d_lr, betas=(o.beta1, o.beta2),
                                      fused=fused)
        for opt in (self.opt_g, self.opt_d):
            for group in opt.param_groups:
                group["base_lr"] = group["lr"]  # saved with the optimiser; the schedule scales it
        self.loss = LOSSES.get(cfg.loss.name)
        self.batches_per_step = o.d_steps
        self.amp = use_bf16(cfg.train.amp, device)
        self.steps_done = 0

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

    def _autocast(self) -> torch.autocast:
        """bf16 autocast of the networks' forwards when ``train.amp`` asks for it."""
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp)

    def _g(self, net: nn.Module, z: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        return net(z) if labels is None else net(z, labels)

    def _d(self, net: nn.Module, x: torch.Tensor,
           labels: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """D's scores (float32) and, for AC-GAN, its class logits."""
        if labels is None:
            return net(x).float(), None
        scores, logits = net(x, labels)
        return scores.float(), None if logits is None else logits.float()

    def d_step(self, batch: Batch, keep_fake: bool) -> tuple[dict, torch.Tensor]:
        """One D update on a real batch and as many generated samples (of the same classes).

        With ``keep_fake`` the samples keep their graph so that G's step can reuse them (one G
        forward per step, as in the tutorials); D itself only ever sees them detached.
        """
        real = batch.x
        labels = batch.labels if self.num_classes else None
        z = self._noise_like(real.shape[0])
        with self._autocast():
            if keep_fake:
                fake = self._g(self.G_train, z, labels)
            else:
                with torch.no_grad():
                    fake = self._g(self.G, z, labels)
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
        with self._autocast():
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

    def lr_factor(self, step: int) -> float:
        """The learning-rate schedule: 1 until ``optim.lr_decay_start``, then down to 0."""
        o, total = self.cfg.optim, self.cfg.train.steps
        start = o.lr_decay_start * total
        if o.lr_decay == "none" or step <= start:
            return 1.0
        frac = min((step - start) / max(total - start, 1.0), 1.0)
        return 1.0 - frac if o.lr_decay == "linear" else 0.5 * (1.0 + math.cos(math.pi * frac))

    def train_step(self, batches: list[Batch]) -> dict[str, torch.Tensor]:
        if self.cfg.optim.lr_decay != "none":
            factor = self.lr_factor(self.steps_done)
            for opt in (self.opt_g, self.opt_d):
                for group in opt.param_groups:
                    group["lr"] = group["base_lr"] * factor
        for i, batch in enumerate(batches):
            out, fake = self.d_step(batch, keep_fake=i == len(batches) - 1)
        out.update(self.g_step(fake, batch.labels if self.num_classes else None))
        self.steps_done += 1
        if self.G_ema is not None:
            update_ema(self.G_ema, self.G, self.cfg.train.ema_decay, self.steps_done)
        return out

    def distribute(self, wrap) -> None:  # noqa: ANN001
        self.G_train, self.D_train = wrap(self.G), wrap(self.D)

    def generator(self, use_ema: bool = True) -> nn.Module:
        return self.G_ema if (use_ema and self.G_ema is not None) else self.G

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
        out = self._g(net, z, labels if self.num_classes else None)
        net.train(was_training)
        return out

    def modules(self) -> dict[str, nn.Module]:
        mods: dict[str, nn.Module] = {"G": self.G, "D": self.D}
        if self.G_ema is not None:
            mods["G_ema"] = self.G_ema
        return mods

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"opt_g": self.opt_g, "opt_d": self.opt_d}
