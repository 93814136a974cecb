"""Convolutional G and D in the DCGAN style.

G: Dense z → start×start×channels[0] → BN → act → [ConvTranspose → BN → act]* → ConvTranspose to
the image channels → output activation. D: [Conv (stride 2) → (BN) → act → (Dropout)]* →
(minibatch std) → Flatten → Dense 1. With the options of the presets this gives the seed MNIST
DCGAN of the texts (5×5 kernels, a stride-1 first layer, dropout 0.3 in D) and the classic 64×64
DCGAN (4×4 → 1024 maps).
"""

from __future__ import annotations

import math

import torch
from pydantic import Field, model_validator
from torch import nn

from gankit.errors import GankitError
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


class DCGANGeneratorOptions(StrictModel):
    channels: list[Width] = Field(default_factory=lambda: [256, 128, 64], min_length=1)
    strides: list[int] | None = Field(
        None, description="one per transposed conv (len(channels)); default: as many 2s as the "
        "image size allows, 1s first")
    kernel_size: int | list[int] = Field(
        5, description="one size for every transposed conv, or one per layer (len(channels)), "
        "e.g. [4, 4, 5]: 4×4 kernels upsample by 2 without checkerboard overlap")
    activation: Activation = "relu"
    batchnorm: bool = True
    output: OutputActivation = "auto"

    @model_validator(mode="after")
    def _strides(self) -> DCGANGeneratorOptions:
        if self.strides is not None and len(self.strides) != len(self.channels):
            raise ValueError("strides needs one entry per channels entry")
        if self.strides is not None and any(s not in (1, 2) for s in self.strides):
            raise ValueError("strides must be 1 or 2")
        if isinstance(self.kernel_size, list) and len(self.kernel_size) != len(self.channels):
            raise ValueError("kernel_size needs one entry per channels entry (or one number)")
        if any(not 1 <= k <= 9 for k in self.kernels()):
            raise ValueError("kernel sizes must be between 1 and 9")
        return self

    def kernels(self) -> list[int]:
        """The kernel size of each transposed conv."""
        k = self.kernel_size
        return list(k) if isinstance(k, list) else [k] * len(self.channels)


class DCGANDiscriminatorOptions(StrictModel):
    channels: list[Width] = Field(default_factory=lambda: [64, 128, 256], min_length=1)
    kernel_size: int = Field(4, ge=2, le=9)
    activation: Activation = "leaky_relu"
    batchnorm: bool = False
    dropout: float = Field(0.0, ge=0.0, lt=1.0)
    spectral_norm: bool = False
    minibatch_std: int = Field(0, ge=0, le=256, description="group size of a minibatch-std "
                               "channel after the last conv (0 = off)")


def auto_strides(size: int, layers: int) -> list[int]:
    """Stride 1 for the first layers, then as many ×2 layers as keep the start size ≥ 3."""
    doublings = 0
    while doublings < layers and size % 2 ** (doublings + 1) == 0 \
            and size // 2 ** (doublings + 1) >= 3:
        doublings += 1
    return [1] * (layers - doublings) + [2] * doublings


def _transposed(c_in: int, c_out: int, kernel: int, stride: int) -> nn.ConvTranspose2d:
    """A transposed conv that multiplies the spatial size by exactly ``stride``."""
    padding = math.ceil((kernel - stride) / 2)
    output_padding = stride + 2 * padding - kernel
    if not 0 <= output_padding < stride or (stride == 1 and output_padding):
        raise GankitError(f"Kernel size {kernel} cannot scale by stride {stride}; use an odd "
                          "kernel for stride-1 layers.")
    return nn.ConvTranspose2d(c_in, c_out, kernel, stride, padding, output_padding)


class DCGANGenerator(nn.Module):
    def __init__(self, opts: DCGANGeneratorOptions, z_dim: int, spec: DataSpec) -> None:
        super().__init__()
        if spec.kind != "image":
            raise GankitError("The dcgan model needs image data; use model.arch=mlp for points.")
        c_img, height, width = spec.sample_shape
        strides = opts.strides or auto_strides(height, len(opts.channels))
        scale = math.prod(strides)
        if height != width or height % scale:
            raise GankitError(f"The dcgan generator's strides {strides} cannot make {height}×"
                              f"{width} images; pick strides whose product divides the size.")
        self.start = (opts.channels[0], height // scale, width // scale)
        norm = nn.BatchNorm2d if opts.batchnorm else (lambda c: nn.Identity())
        self.project = nn.Sequential(
            nn.Linear(z_dim, math.prod(self.start)),
            nn.BatchNorm1d(math.prod(self.start)) if opts.batchnorm else nn.Identity(),
            activation(opts.activation),
        )
        layers: list[nn.Module] = []
        outs = opts.channels[1:] + [c_img]
        kernels = opts.kernels()
        for i, (c_in, c_out, stride, kernel) in enumerate(
                zip(opts.channels, outs, strides, kernels, strict=True)):
            layers.append(_transposed(c_in, c_out, kernel, stride))
            if i < len(outs) - 1:
                layers += [norm(c_out), activation(opts.activation)]
        layers.append(output_activation(opts.output, spec.normalize, spec.kind))
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(self.project(z).view(z.shape[0], *self.start))


class DCGANDiscriminator(nn.Module):
    def __init__(self, opts: DCGANDiscriminatorOptions, spec: DataSpec) -> None:
        super().__init__()
        if spec.kind != "image":
            raise GankitError("The dcgan model needs image data; use model.arch=mlp for points.")
        layers: list[nn.Module] = []
        c_in = spec.sample_shape[0]
        padding = (opts.kernel_size - 1) // 2
        for i, c_out in enumerate(opts.channels):
            conv = nn.Conv2d(c_in, c_out, opts.kernel_size, 2, padding)
            layers.append(maybe_spectral_norm(conv, opts.spectral_norm))
            if opts.batchnorm and i > 0:
                layers.append(nn.BatchNorm2d(c_out))
            layers.append(activation(opts.activation))
            if opts.dropout:
                layers.append(Dropout(opts.dropout))
            c_in = c_out
        if opts.minibatch_std:
            layers.append(MinibatchStd(opts.minibatch_std))
        self.features = nn.Sequential(*layers, nn.Flatten())
        with torch.no_grad():
            width = self.features(torch.zeros(2, *spec.sample_shape)).shape[1]
        self.head = maybe_spectral_norm(nn.Linear(width, 1), opts.spectral_norm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x)).squeeze(1)


MODELS.add(
    "dcgan",
    ModelFamily(DCGANGenerator, DCGANDiscriminator, DCGANGeneratorOptions,
                DCGANDiscriminatorOptions, "DCGAN-style convolutional G and D"),
)
