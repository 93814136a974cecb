"""GANomaly's networks (Akçay et al. 2018), assembled from a model family's G and D.

- the generator is an autoencoder with a second encoder: ``G_E`` (x → z), ``G_D`` (z → x̂) and
  ``E`` (x̂ → ẑ). Both encoders are the family's discriminator body (its features, e.g. the
  DCGAN strided convolutions) followed by one dense layer to ``z_dim`` numbers
  (:class:`CodeEncoder`); the decoder is the family's generator.
- the discriminator is the family's discriminator, returning its logit *and* the features under
  its scoring layer (:class:`FeatureDiscriminator`), which the adversarial feature-matching loss
  compares.
"""

from __future__ import annotations

import torch
from torch import nn

from gankit.models.base import MODELS, DataSpec
from gankit.models.encoder import CodeEncoder
from gankit.models.layers import init_weights


class GanomalyGenerator(nn.Module):
    """x → (x̂, z, ẑ): ``z = G_E(x)``, ``x̂ = G_D(z)``, ``ẑ = E(x̂)``."""

    def __init__(self, encoder: CodeEncoder, decoder: nn.Module, reencoder: CodeEncoder) -> None:
        super().__init__()
        self.encoder, self.decoder, self.reencoder = encoder, decoder, reencoder

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        z = self.encoder(x)
        x_hat = self.decoder(z)
        return x_hat, z, self.reencoder(x_hat)


class FeatureDiscriminator(nn.Module):
    """x → (logits ``(N,)``, features ``(N, F)``) of a family's discriminator ``body``."""

    def __init__(self, body: nn.Module) -> None:
        super().__init__()
        self.body = body

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.body.features(x)
        return self.body.head(features).flatten(), features


def build_ganomaly(arch: str, g_opts: dict, d_opts: dict, z_dim: int, spec: DataSpec,
                   init: str = "default") -> tuple[GanomalyGenerator, FeatureDiscriminator]:
    """The generator (two encoders from the family's D body, its G as the decoder) and the
    discriminator of the family ``arch``, initialised by ``init``."""
    family = MODELS.get(arch)
    d_options = family.d_options.model_validate(d_opts)
    decoder = family.build_g(family.g_options.model_validate(g_opts), z_dim, spec)
    encoder, reencoder = (CodeEncoder(family.build_d(d_options, spec), z_dim) for _ in range(2))
    generator = GanomalyGenerator(encoder, decoder, reencoder)
    discriminator = FeatureDiscriminator(family.build_d(d_options, spec))
    init_weights(generator, init)
    init_weights(discriminator, init)
    return generator, discriminator
