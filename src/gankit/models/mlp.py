"""Fully connected G and D (the MLP GAN of the source texts, and small nets for 2D data)."""

from __future__ import annotations

import math

import torch
from pydantic import Field
from torch import nn

from gankit.models.base import MODELS, DataSpec, ModelFamily
from gankit.models.layers import (
    Activation,
    Dropout,
    MinibatchStd,
    OutputActivation,
    activation,
    maybe_spectral_norm,
    output_activation,
)
from gankit.options import StrictModel, Width


class MLPGeneratorOptions(StrictModel):
    hidden: list[Width] = Field(default_factory=lambda: [256, 512, 1024], min_length=1)
    activation: Activation = "relu"
    batchnorm: bool = True
    dropout: float = Field(0.0, ge=0.0, lt=1.0, description="dropout before the output layer")
    output: OutputActivation = "auto"


class MLPDiscriminatorOptions(StrictModel):
    hidden: list[Width] = Field(default_factory=lambda: [512, 256], min_length=1)
    activation: Activation = "leaky_relu"
    input_dropout: float = Field(0.0, ge=0.0, lt=1.0)
    dropout: float = Field(0.0, ge=0.0, lt=1.0, description="dropout after each hidden layer")
    spectral_norm: bool = False
    minibatch_std: int = Field(0, ge=0, le=256, description="group size of a minibatch-std "
                               "feature before the last layer (0 = off)")


class MLPGenerator(nn.Module):
    """z → [Dense → activation → BN]* → (Dropout) → Dense → output activation → sample."""

    def __init__(self, opts: MLPGeneratorOptions, z_dim: int, spec: DataSpec) -> None:
        super().__init__()
        self.sample_shape = spec.sample_shape
        layers: list[nn.Module] = []
        width = z_dim
        for units in opts.hidden:
            layers += [nn.Linear(width, units), activation(opts.activation)]
            if opts.batchnorm:
                layers.append(nn.BatchNorm1d(units))
            width = units
        if opts.dropout:
            layers.append(Dropout(opts.dropout))
        layers += [nn.Linear(width, math.prod(spec.sample_shape)),
                   output_activation(opts.output, spec.normalize, spec.kind)]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).view(z.shape[0], *self.sample_shape)


class MLPDiscriminator(nn.Module):
    """Flatten → (Dropout) → [Dense → activation → (Dropout)]* → (minibatch std) → Dense 1."""

    def __init__(self, opts: MLPDiscriminatorOptions, spec: DataSpec) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten()]
        if opts.input_dropout:
            layers.append(Dropout(opts.input_dropout))
        width = math.prod(spec.sample_shape)
        for units in opts.hidden:
            layers += [maybe_spectral_norm(nn.Linear(width, units), opts.spectral_norm),
                       activation(opts.activation)]
            if opts.dropout:
                layers.append(Dropout(opts.dropout))
            width = units
        if opts.minibatch_std:
            layers.append(MinibatchStd(opts.minibatch_std))
            width += 1
        layers.append(maybe_spectral_norm(nn.Linear(width, 1), opts.spectral_norm))
        self.net = nn.Sequential(*layers)

    @property
    def head(self) -> nn.Module:
        """The last (scoring) layer; :meth:`features` is everything before it."""
        return self.net[-1]

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, head.in_features)`` features under the score."""
        return self.net[:-1](x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(1)


MODELS.add(
    "mlp",
    ModelFamily(MLPGenerator, MLPDiscriminator, MLPGeneratorOptions, MLPDiscriminatorOptions,
                "fully connected G and D"),
)
