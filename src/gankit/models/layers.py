"""Small building blocks shared by the model families."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

Activation = Literal["relu", "leaky_relu", "elu", "tanh", "silu"]
OutputActivation = Literal["auto", "tanh", "sigmoid", "none"]


def activation(name: str, slope: float = 0.2) -> nn.Module:
    """An activation layer by name (LeakyReLU uses ``slope``)."""
    return {
        "relu": lambda: nn.ReLU(),
        "leaky_relu": lambda: nn.LeakyReLU(slope),
        "elu": lambda: nn.ELU(),
        "tanh": lambda: nn.Tanh(),
        "silu": lambda: nn.SiLU(),
    }[name]()


def output_activation(name: str, normalize: str, kind: str) -> nn.Module:
    """G's last activation; ``auto`` matches the data: tanh for [-1, 1], sigmoid for [0, 1]."""
    if name == "auto":
        name = "none" if kind == "points" else ("sigmoid" if normalize == "unit" else "tanh")
    return {"tanh": nn.Tanh(), "sigmoid": nn.Sigmoid(), "none": nn.Identity()}[name]


class Dropout(nn.Module):
    """Inverted dropout whose mask comes from 16-bit slices of random 64-bit words.

    Same behaviour as :class:`torch.nn.Dropout` (each unit zeroed with probability ``p``,
    survivors scaled by 1/(1 − p); identity in eval mode), with ``p`` rounded to a multiple of
    1/65,536, and about 8× faster on a CPU, where ``bernoulli_`` draws every element from its own
    random number (measured: a fifth of a DCGAN step). Uses the global RNG, like ``nn.Dropout``.
    """

    def __init__(self, p: float) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"dropout probability must be in [0, 1), got {p}")
        self.p = p
        self.threshold = round(p * 65536) - 32768  # int16 lanes below it are dropped
        self.scale = 65536 / (65536 - round(p * 65536))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        words = torch.randint(-(2**63), 2**63 - 1, ((x.numel() + 3) // 4,), dtype=torch.int64,
                              device=x.device)
        lanes = words.view(torch.int16)[: x.numel()].view(x.shape)
        return x * ((lanes >= self.threshold) * self.scale).to(x.dtype)

    def extra_repr(self) -> str:
        return f"p={self.p}"


def maybe_spectral_norm(layer: nn.Module, enabled: bool) -> nn.Module:
    return spectral_norm(layer) if enabled else layer


def count_parameters(module: nn.Module, trainable_only: bool = True) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)


InitScheme = Literal["default", "dcgan", "xavier"]


def init_weights(module: nn.Module, scheme: str) -> None:
    """Re-initialise weights: ``dcgan`` = N(0, 0.02) for (transposed) convs and dense layers and
    N(1, 0.02) for norm scales (Radford et al. 2016); ``xavier`` = Glorot uniform (Keras'
    default); ``default`` keeps PyTorch's initialisation. Biases become 0."""
    if scheme == "default":
        return
    for m in module.modules():
        if isinstance(m, nn.Conv2d | nn.ConvTranspose2d | nn.Linear):
            weight = m.parametrizations.weight.original if hasattr(m, "parametrizations") \
                else m.weight
            if scheme == "dcgan":
                nn.init.normal_(weight, 0.0, 0.02)
            else:
                nn.init.xavier_uniform_(weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm1d | nn.BatchNorm2d) and m.affine:
            if scheme == "dcgan":
                nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


class MinibatchStd(nn.Module):
    """Appends the batch's spread as one extra feature (Karras et al. 2018), against collapse.

    Samples are split into groups of ``group_size`` (the whole batch when it does not divide);
    within each group the standard deviation of every feature over the group's samples is
    averaged into one number, appended to each member as an extra feature (``(N, F)`` inputs)
    or constant channel (``(N, C, H, W)`` inputs). A collapsed generator's batch has a tell-tale
    small spread that D can see.
    """

    def __init__(self, group_size: int) -> None:
        super().__init__()
        self.group_size = group_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        group = self.group_size if n % self.group_size == 0 else n
        grouped = x.reshape(group, n // group, *x.shape[1:]).float()
        std = (grouped.var(dim=0, unbiased=False) + 1e-8).sqrt()
        spread = std.flatten(1).mean(dim=1).to(x.dtype)  # (n // group,)
        extra = spread.repeat(group).view(n, 1, *([1] * (x.ndim - 2)))
        return torch.cat([x, extra.expand(n, 1, *x.shape[2:])], dim=1)


@contextmanager
def eval_mode(model: nn.Module) -> Iterator[None]:
    """Put ``model`` in eval mode for the block and restore every submodule's own flag after."""
    flags = [(module, module.training) for module in model.modules()]
    model.eval()
    try:
        yield
    finally:
        for module, training in flags:
            module.training = training
