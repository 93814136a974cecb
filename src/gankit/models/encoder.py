"""A VAE encoder built from a model family's discriminator: its feature body and one dense layer."""

from __future__ import annotations

import torch
from torch import nn

from gankit.errors import GankitError


class Encoder(nn.Module):
    """x → (mean, log-variance) of the posterior q(z | x), each ``(N, z_dim)``.

    ``body`` is an unconditional, unpacked discriminator of a family (``body.features(x)`` gives
    ``(N, F)`` features, ``body.head`` the scoring layer on top). Its head is kept but frozen and
    unused, so the body stays the family's own network; a dense layer maps the features to
    ``2 · z_dim`` numbers, the mean and the log-variance.
    """

    def __init__(self, body: nn.Module, z_dim: int) -> None:
        super().__init__()
        head = getattr(body, "head", None)
        if not callable(getattr(body, "features", None)) or not hasattr(head, "in_features"):
            raise GankitError(f"The discriminator {type(body).__name__} has no features/head "
                              "split to build an encoder from; use model.arch mlp or dcgan "
                              "without model.pack or model.conditional.")
        head.requires_grad_(False)  # not trained, not counted, not synchronised by DDP
        self.body, self.z_dim = body, z_dim
        self.out = nn.Linear(head.in_features, 2 * z_dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean, logvar = self.out(self.body.features(x)).chunk(2, dim=1)
        return mean, logvar


class CodeEncoder(Encoder):
    """x → a code ``(N, z_dim)``: the body's features and one dense layer (no variance), with
    a tanh on top when ``output`` is ``"tanh"`` (GANomaly's encoders, f-AnoGAN's E)."""

    def __init__(self, body: nn.Module, z_dim: int, output: str = "linear") -> None:
        super().__init__(body, z_dim)
        self.out = nn.Linear(self.out.in_features, z_dim)
        self.squash = nn.Tanh() if output == "tanh" else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return self.squash(self.out(self.body.features(x)))
