"""TVAE (Xu et al. 2019): a variational autoencoder on rows encoded by the table's transformer.

The encoder maps a row to the mean and log-variance of a ``model.z_dim`` code; the decoder maps
a code to a raw row and keeps a learnt standard deviation σ per output. The loss, per row, is

    factor · (Σ_scalars [(x − tanh(x̂))² / (2σ²) + log σ] + Σ_one-hot blocks CE(x̂, x)) + KL,

with ``loss.factor`` 2 (the reference's), and σ clamped to [0.01, 1] after each step. Adam with
``optim.lr`` 1e-3 and weight decay 1e-5, batch 500. Samples: codes z ~ N(0, I), scalars
tanh(x̂) plus N(0, σ²) noise, each one-hot block its most likely category.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from gankit.config import RunConfig, ScheduleConfig, TrainConfig
from gankit.models import DataSpec
from gankit.models.layers import eval_mode
from gankit.models.tabular import TableDecoder, TableEncoder
from gankit.options import StrictModel
from gankit.recipes.base import RECIPES, Batch, Scalar, decay_schedule
from gankit.recipes.tabular import TableRecipe, table_transformer

#: σ is kept in this range (the reference's clamp)
SIGMA_RANGE = (0.01, 1.0)


class TVAEModelConfig(StrictModel):
    z_dim: int = Field(128, ge=1, le=4096)
    encoder_hidden: list[int] = Field(default_factory=lambda: [128, 128], min_length=1)
    decoder_hidden: list[int] = Field(default_factory=lambda: [128, 128], min_length=1)


class TVAEOptimConfig(ScheduleConfig):
    lr: float = Field(1e-3, gt=0.0, le=1.0)
    weight_decay: float = Field(1e-5, ge=0.0, le=1.0)


class TVAELossConfig(StrictModel):
    factor: float = Field(2.0, gt=0.0, le=1e6, description="weight of the reconstruction")


class TVAEConfig(RunConfig):
    model: TVAEModelConfig = Field(default_factory=TVAEModelConfig)
    optim: TVAEOptimConfig = Field(default_factory=TVAEOptimConfig)
    loss: TVAELossConfig = Field(default_factory=TVAELossConfig)
    train: TrainConfig = Field(default_factory=lambda: TrainConfig(batch_size=500))


@RECIPES.register("tvae")
class TVAERecipe(TableRecipe):
    Config = TVAEConfig
    scalars = (Scalar("loss", "loss (reconstruction + KL)"),
               Scalar("recon", "reconstruction", group="terms"),
               Scalar("kl", "KL", group="terms"))
    cfg: TVAEConfig

    def __init__(self, cfg: TVAEConfig, spec: DataSpec, device: torch.device) -> None:
        super().__init__(cfg, spec, device)
        self.transformer = table_transformer(spec, "tvae")
        m, width = cfg.model, self.transformer.output_width
        self.encoder = TableEncoder(width, m.z_dim, m.encoder_hidden).to(device)
        self.decoder = TableDecoder(m.z_dim, width, m.decoder_hidden).to(device)
        self.encoder_train, self.decoder_train = self.encoder, self.decoder
        params = [*self.encoder.parameters(), *self.decoder.parameters()]
        self.opt = torch.optim.Adam(params, lr=cfg.optim.lr,
                                    weight_decay=cfg.optim.weight_decay)
        self.sched = torch.optim.lr_scheduler.LambdaLR(self.opt, decay_schedule(
            cfg.optim.lr_decay, cfg.optim.lr_decay_start, cfg.train.steps))
        spans = self.transformer.spans
        self.scalar_index = torch.tensor([s.start for s in spans if s.kind == "scalar"],
                                         dtype=torch.long, device=device)
        self.onehots = [(s.start, s.width) for s in spans if s.kind == "onehot"]

    def reconstruction(self, raw: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """The reconstruction term, summed over the batch's rows."""
        sigma = self.decoder.sigma[self.scalar_index]
        err = x[:, self.scalar_index] - torch.tanh(raw[:, self.scalar_index])
        total = (err.pow(2) / (2 * sigma.pow(2))).sum() + torch.log(sigma).sum() * x.shape[0]
        for start, width in self.onehots:
            total = total + F.cross_entropy(raw[:, start:start + width],
                                            x[:, start:start + width].argmax(1), reduction="sum")
        return total

    def train_step(self, batches: list[Batch]) -> dict[str, torch.Tensor]:
        x = batches[0]["x"]
        mean, logvar = self.encoder_train(x)
        z = mean + torch.randn_like(mean) * torch.exp(0.5 * logvar)
        raw = self.decoder_train(z)
        recon = self.cfg.loss.factor * self.reconstruction(raw, x) / x.shape[0]
        kl = -0.5 * (1 + logvar - mean.pow(2) - logvar.exp()).sum() / x.shape[0]
        loss = recon + kl
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        self.sched.step()
        with torch.no_grad():
            self.decoder.sigma.clamp_(*SIGMA_RANGE)
        return {"loss": loss.detach(), "recon": recon.detach(), "kl": kl.detach()}

    @torch.no_grad()
    def generate_rows(self, n: int, condition: tuple[int, int] | None,
                      generator: torch.Generator) -> torch.Tensor:
        z = torch.randn(n, self.cfg.model.z_dim, generator=generator)
        with eval_mode(self.decoder):
            raw = self.decoder(z.to(self.device)).float().cpu()
        rows = torch.zeros_like(raw)
        idx = self.scalar_index.cpu()
        sigma = self.decoder.sigma.detach().float().cpu()[idx]
        rows[:, idx] = torch.tanh(raw[:, idx]) + sigma * torch.randn(n, len(idx),
                                                                     generator=generator)
        for start, width in self.onehots:
            rows[:, start:start + width] = F.one_hot(raw[:, start:start + width].argmax(1),
                                                     width).float()
        return rows

    def distribute(self, wrap) -> None:  # noqa: ANN001
        self.encoder_train, self.decoder_train = wrap(self.encoder), wrap(self.decoder)

    def networks(self) -> dict[str, nn.Module]:
        return {"encoder": self.encoder, "decoder": self.decoder}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"opt": self.opt}

    def schedulers(self) -> dict[str, Any]:
        return {"sched": self.sched}
