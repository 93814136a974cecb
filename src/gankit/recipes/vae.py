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

Samples are decoded from codes z ~ N(0, I). One Adam optimiser trains encoder and decoder
together with ``optim.lr``, ``optim.beta1`` and ``optim.beta2`` (and ``optim.lr_decay`` like the
GAN). ``train.ema_decay`` keeps an EMA copy of the decoder, used for sampling;
``train.amp: bf16`` autocasts the networks' forwards (the loss is computed in float32).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from gankit.config import (
    EvalConfig,
    GenerativeTrainConfig,
    ModelFamilyConfig,
    RunConfig,
    ScheduleConfig,
)
from gankit.data.ranges import to_unit
from gankit.models import DataSpec, build_models
from gankit.models.encoder import Encoder
from gankit.models.layers import init_weights
from gankit.recipes.base import RECIPES, Batch, Scalar, decay_schedule, use_bf16
from gankit.recipes.capabilities import Encodes, ScoresAnomalies
from gankit.recipes.generative import GenerativeRecipe

#: standard deviation of the Gaussian likelihood for points (data in units of the data set)
POINT_STD = 0.1


class VAEOptimConfig(ScheduleConfig):
    """One Adam optimiser for encoder and decoder."""

    lr: float = Field(1e-3, gt=0.0, le=1.0)
    beta1: float = Field(0.9, ge=0.0, lt=1.0)
    beta2: float = Field(0.999, ge=0.0, lt=1.0)


class VAEConfig(RunConfig):
    """A VAE run: the shared sections plus model (decoder = the family's G, encoder = its D
    body), optim and evaluation while training."""

    model: ModelFamilyConfig = Field(default_factory=ModelFamilyConfig)
    optim: VAEOptimConfig = Field(default_factory=VAEOptimConfig)
    train: GenerativeTrainConfig = Field(default_factory=GenerativeTrainConfig)
    eval: EvalConfig = Field(default_factory=EvalConfig)


def reconstruction_nll(x_hat: torch.Tensor, x: torch.Tensor, kind: str,
                       normalize: str) -> torch.Tensor:
    """Per-sample ``(N,)`` negative log-likelihood of ``x`` under the decoder's ``x_hat``."""
    if kind == "image":
        bce = F.binary_cross_entropy(to_unit(x_hat, normalize, detach=False),
                                     to_unit(x, normalize, detach=False), reduction="none")
        return bce.flatten(1).sum(1)
    return 0.5 * ((x_hat.float() - x.float()) / POINT_STD).pow(2).flatten(1).sum(1)


def kl_to_standard_normal(mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """Per-sample ``(N,)`` KL( N(mean, exp(logvar)) ‖ N(0, I) ), in closed form."""
    return 0.5 * (mean.pow(2) + logvar.exp() - 1.0 - logvar).sum(1)


@RECIPES.register("vae")
class VAERecipe(GenerativeRecipe, Encodes, ScoresAnomalies):
    """A variational autoencoder trained on the negative ELBO (see the module docstring)."""

    Config = VAEConfig
    anomaly_score_name = "reconstruction error (−log-likelihood of x under the decoded mean)"
    scalars = (Scalar("loss", "loss (−ELBO)"), Scalar("recon", "reconstruction"),
               Scalar("kl", "KL"))
    cfg: VAEConfig

    def __init__(self, cfg: VAEConfig, spec: DataSpec, device: torch.device) -> None:
        super().__init__(cfg, spec, device)
        m = cfg.model
        self.z_dim = m.z_dim
        decoder, body = build_models(m.arch, m.g, m.d, self.z_dim, spec, m.init)
        self.encoder = Encoder(body, self.z_dim)
        init_weights(self.encoder.out, m.init)
        self.decoder = decoder
        self.encoder.to(device).train()
        self.decoder.to(device).train()
        self.encoder_train, self.decoder_train = self.encoder, self.decoder  # DDP-wrapped
        self.generator_net = self.decoder
        self.init_ema()
        o = cfg.optim
        params = [p for net in (self.encoder, self.decoder) for p in net.parameters()
                  if p.requires_grad]
        self.opt = torch.optim.Adam(params, lr=o.lr, betas=(o.beta1, o.beta2),
                                    fused=device.type in ("cpu", "cuda"))
        self.sched = torch.optim.lr_scheduler.LambdaLR(
            self.opt, decay_schedule(o.lr_decay, o.lr_decay_start, cfg.train.steps))
        self.amp = use_bf16(cfg.train.amp, device)

    def losses(self, x: torch.Tensor, eps: torch.Tensor | None = None,
               encoder: nn.Module | None = None,
               decoder: nn.Module | None = None) -> dict[str, torch.Tensor]:
        """The batch means of loss, recon and kl for real samples ``x`` (with graph).

        ``eps`` is the reparameterisation noise (default: drawn from the global RNG on the
        device, which the checkpoints save).
        """
        with self.autocast():
            mean, logvar = (encoder or self.encoder_train)(x)
        mean, logvar = mean.float(), logvar.float()
        eps = torch.randn_like(mean) if eps is None else eps
        z = mean + (0.5 * logvar).exp() * eps
        with self.autocast():
            x_hat = (decoder or self.decoder_train)(z)
        recon = reconstruction_nll(x_hat, x, self.spec.kind, self.spec.normalize)
        kl = kl_to_standard_normal(mean, logvar)
        return {"loss": (recon + kl).mean(), "recon": recon.mean(), "kl": kl.mean()}

    def train_step(self, batches: list[Batch]) -> dict[str, torch.Tensor]:
        out = self.losses(batches[0]["x"])
        self.opt.zero_grad(set_to_none=True)
        out["loss"].backward()
        self.opt.step()
        self.sched.step()
        self.step_done()
        return {k: v.detach() for k, v in out.items()}

    def distribute(self, wrap) -> None:  # noqa: ANN001
        self.encoder_train, self.decoder_train = wrap(self.encoder), wrap(self.decoder)

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

    @torch.no_grad()
    def anomaly_scores(self, x: torch.Tensor) -> torch.Tensor:
        """The reconstruction error of each sample: the negative log-likelihood of ``x`` under
        the decoding of its posterior mean (the VAE baseline of anomaly detection)."""
        x = x.to(self.device)
        return reconstruction_nll(self.reconstruct(x), x, self.spec.kind,
                                  self.spec.normalize).float().cpu()

    def residual_maps(self, x: torch.Tensor) -> torch.Tensor | None:
        from gankit.anomaly.residuals import residual_map

        if self.spec.kind != "image":
            return None
        return residual_map(x.to(self.device), self.reconstruct(x), self.spec.normalize)

    def networks(self) -> dict[str, nn.Module]:
        nets: dict[str, nn.Module] = {"encoder": self.encoder, "decoder": self.decoder}
        if self.generator_ema is not None:
            nets["decoder_ema"] = self.generator_ema
        return nets

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"opt": self.opt}

    def schedulers(self) -> dict[str, torch.optim.lr_scheduler.LRScheduler]:
        return {"sched": self.sched}
