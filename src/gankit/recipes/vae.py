"""The VAE baseline (Kingma & Welling 2014): encoder → mean and log-variance → code → decoder.

Networks come from the model family of ``model.arch``: the decoder is the family's generator
(``model.g``; it maps a ``model.z_dim`` code to a sample in the data's range), the encoder is the
family's discriminator body (``model.d``, its features under the scoring layer) followed by one
dense layer to the mean and log-variance of q(z | x) (:class:`gankit.models.encoder.Encoder`).
A training step draws z = mean + exp(log-variance / 2) · ε with ε ~ N(0, I) (the
reparameterisation) and minimises, averaged over the batch, the per-sample sums

    loss = reconstruction + KL,  KL = ½ Σ (mean² + exp(log-variance) − 1 − log-variance),

the negative evidence lower bound. The reconstruction is a negative log-likelihood chosen by
the kind of data:

- images: Bernoulli-style binary cross-entropy summed over pixels, with the data and the
  decoder's output both mapped to [0, 1] (``unit`` data as it is, ``symmetric`` data as
  (x + 1) / 2; through a tanh output this is a sigmoid of twice the pre-activation). The decoder
  must output the data's range, as ``output: auto`` does.
- 2-D points and other vectors: a Gaussian with the fixed standard deviation
  :data:`POINT_STD`, i.e. ½ Σ ((x − x̂) / σ)² (the constant term is left out).

Samples are decoded from codes z ~ N(0, I), so ``model.noise`` must be ``gaussian``.
One Adam optimiser trains encoder and decoder together with ``optim.g_lr``, ``optim.beta1`` and
``optim.beta2`` (and ``optim.lr_decay`` like the GAN); the D and loss settings of the config
(``optim.d_lr``, ``optim.d_steps``, ``loss.*``) do not apply. ``train.ema_decay`` keeps an EMA
copy of the decoder, used for sampling; ``train.amp: bf16`` autocasts the networks' forwards
(the loss is computed in float32).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from gankit.config import OptimConfig, RunConfig
from gankit.errors import GankitError
from gankit.models import DataSpec, build_models
from gankit.models.encoder import Encoder
from gankit.models.layers import init_weights
from gankit.recipes.base import RECIPES, Batch, Recipe, use_bf16
from gankit.training.ema import make_ema, update_ema

#: standard deviation of the Gaussian likelihood for points (data in units of the data set)
POINT_STD = 0.1


def to_unit_range(x: torch.Tensor, normalize: str) -> torch.Tensor:
    """Images from the data range to [0, 1], differentiably (clamped against rounding)."""
    x = x.float()
    return ((x + 1.0) / 2.0 if normalize == "symmetric" else x).clamp(0.0, 1.0)


def reconstruction_nll(x_hat: torch.Tensor, x: torch.Tensor, kind: str,
                       normalize: str) -> torch.Tensor:
    """Per-sample ``(N,)`` negative log-likelihood of ``x`` under the decoder's ``x_hat``."""
    if kind == "image":
        bce = F.binary_cross_entropy(to_unit_range(x_hat, normalize), to_unit_range(x, normalize),
                                     reduction="none")
        return bce.flatten(1).sum(1)
    return 0.5 * ((x_hat.float() - x.float()) / POINT_STD).pow(2).flatten(1).sum(1)


def kl_to_standard_normal(mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """Per-sample ``(N,)`` KL( N(mean, exp(logvar)) ‖ N(0, I) ), in closed form."""
    return 0.5 * (mean.pow(2) + logvar.exp() - 1.0 - logvar).sum(1)


def lr_factor(optim: OptimConfig, total: int, step: int) -> float:
    """The learning-rate schedule of ``optim.lr_decay``: 1, then down to 0 at ``total``."""
    start = optim.lr_decay_start * total
    if optim.lr_decay == "none" or step <= start:
        return 1.0
    frac = min((step - start) / max(total - start, 1.0), 1.0)
    return 1.0 - frac if optim.lr_decay == "linear" else 0.5 * (1.0 + math.cos(math.pi * frac))


@RECIPES.register("vae")
class VAERecipe(Recipe):
    """A variational autoencoder trained on the negative ELBO (see the module docstring)."""

    progress_keys = ("loss", "recon", "kl")
    num_classes = 0

    def __init__(self, cfg: RunConfig, spec: DataSpec, device: torch.device) -> None:
        m = cfg.model
        for bad, fix in ((m.conditional != "none", "model.conditional=none"),
                         (m.pack != 1, "model.pack=1"),
                         (m.noise != "gaussian", "model.noise=gaussian")):
            if bad:
                raise GankitError(f"The vae recipe draws codes from N(0, I) with an unconditional, "
                                  f"unpacked encoder; set {fix}.")
        self.cfg, self.spec, self.device = cfg, spec, device
        self.z_dim = m.z_dim
        decoder, body = build_models(m.arch, m.g, m.d, self.z_dim, spec, m.init)
        self.encoder = Encoder(body, self.z_dim)
        init_weights(self.encoder.out, m.init)
        self.decoder = decoder
        self.encoder.to(device).train()
        self.decoder.to(device).train()
        self.encoder_train, self.decoder_train = self.encoder, self.decoder  # DDP-wrapped
        self.decoder_ema = make_ema(self.decoder) if cfg.train.ema_decay > 0 else None
        o = cfg.optim
        params = [p for net in (self.encoder, self.decoder) for p in net.parameters()
                  if p.requires_grad]
        self.opt = torch.optim.Adam(params, lr=o.g_lr, betas=(o.beta1, o.beta2),
                                    fused=device.type in ("cpu", "cuda"))
        for group in self.opt.param_groups:
            group["base_lr"] = group["lr"]  # saved with the optimiser; the schedule scales it
        self.amp = use_bf16(cfg.train.amp, device)
        self.steps_done = 0

    def noise(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Codes from the prior N(0, I), drawn on the CPU (reproducible anywhere), then moved."""
        return torch.randn((n, self.z_dim), generator=generator).to(self.device)

    def _autocast(self) -> torch.autocast:
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp)

    def losses(self, x: torch.Tensor, eps: torch.Tensor | None = None,
               encoder: nn.Module | None = None,
               decoder: nn.Module | None = None) -> dict[str, torch.Tensor]:
        """The batch means of loss, recon and kl for real samples ``x`` (with graph).

        ``eps`` is the reparameterisation noise (default: drawn from the global RNG on the
        device, which the checkpoints save).
        """
        with self._autocast():
            mean, logvar = (encoder or self.encoder_train)(x)
        mean, logvar = mean.float(), logvar.float()
        eps = torch.randn_like(mean) if eps is None else eps
        z = mean + (0.5 * logvar).exp() * eps
        with self._autocast():
            x_hat = (decoder or self.decoder_train)(z)
        recon = reconstruction_nll(x_hat, x, self.spec.kind, self.spec.normalize)
        kl = kl_to_standard_normal(mean, logvar)
        return {"loss": (recon + kl).mean(), "recon": recon.mean(), "kl": kl.mean()}

    def train_step(self, batches: list[Batch]) -> dict[str, torch.Tensor]:
        o = self.cfg.optim
        if o.lr_decay != "none":
            factor = lr_factor(o, self.cfg.train.steps, self.steps_done)
            for group in self.opt.param_groups:
                group["lr"] = group["base_lr"] * factor
        out = self.losses(batches[0].x)
        self.opt.zero_grad(set_to_none=True)
        out["loss"].backward()
        self.opt.step()
        self.steps_done += 1
        if self.decoder_ema is not None:
            update_ema(self.decoder_ema, self.decoder, self.cfg.train.ema_decay, self.steps_done)
        return {k: v.detach() for k, v in out.items()}

    def distribute(self, wrap) -> None:  # noqa: ANN001
        self.encoder_train, self.decoder_train = wrap(self.encoder), wrap(self.decoder)

    def generator(self, use_ema: bool = True) -> nn.Module:
        """The decoder (its EMA copy when there is one and ``use_ema``)."""
        return self.decoder_ema if (use_ema and self.decoder_ema is not None) else self.decoder

    @torch.no_grad()
    def generate(self, z: torch.Tensor, use_ema: bool = True,
                 labels: torch.Tensor | None = None) -> torch.Tensor:
        """Decode codes ``z`` (eval mode, no grad); ``labels`` are ignored (unconditional)."""
        net = self.generator(use_ema)
        was_training = net.training
        net.eval()
        out = net(z.to(self.device))
        net.train(was_training)
        return out

    @torch.no_grad()
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The posterior mean ``(N, z_dim)`` of samples ``x`` in the data's range (eval mode)."""
        was_training = self.encoder.training
        self.encoder.eval()
        mean, _ = self.encoder(x.to(self.device))
        self.encoder.train(was_training)
        return mean.float()

    def reconstruct(self, x: torch.Tensor, use_ema: bool = True) -> torch.Tensor:
        """Decode the posterior means of ``x``: the VAE's reconstructions."""
        return self.generate(self.encode(x), use_ema)

    def modules(self) -> dict[str, nn.Module]:
        mods: dict[str, nn.Module] = {"encoder": self.encoder, "decoder": self.decoder}
        if self.decoder_ema is not None:
            mods["decoder_ema"] = self.decoder_ema
        return mods

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"opt": self.opt}
