"""The networks of table synthesis (Xu et al. 2019): CTGAN's residual generator and packed
critic, TVAE's encoder and decoder, and the output activations that follow the column layout
of :class:`gankit.tables.TableTransformer` (``spans``).

A row, as the transformer encodes it, is a run of *spans*: a ``scalar`` (a continuous value
normalised within its mode, in [-1, 1]) or a ``onehot`` block (a mode, a category, a
missing-value flag). The generator's raw output becomes a row by tanh on the scalars and
(Gumbel-)softmax on each one-hot block (:func:`activate`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

#: temperature of the Gumbel-softmax of one-hot blocks (the CTGAN paper's 0.2)
GUMBEL_TAU = 0.2


class Residual(nn.Module):
    """Linear → BatchNorm → ReLU, its output concatenated to its input (CTGAN's block)."""

    def __init__(self, n_in: int, n_out: int) -> None:
        super().__init__()
        self.fc, self.bn = nn.Linear(n_in, n_out), nn.BatchNorm1d(n_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([F.relu(self.bn(self.fc(x))), x], dim=1)


class TableGenerator(nn.Module):
    """(noise, condition vector) → the raw row ``(N, data_dim)``; :func:`activate` makes it a
    row of the transformer's layout."""

    def __init__(self, z_dim: int, cond_dim: int, data_dim: int,
                 hidden: Sequence[int] = (256, 256)) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = z_dim + cond_dim
        for n in hidden:
            layers.append(Residual(width, n))
            width += n
        self.body, self.out = nn.Sequential(*layers), nn.Linear(width, data_dim)

    def forward(self, z: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        return self.out(self.body(torch.cat([z, cond], dim=1)))


class PackedCritic(nn.Module):
    """CTGAN's critic: ``pack`` rows (with their condition vectors) judged together
    (PacGAN), through Linear → LeakyReLU(0.2) → Dropout(0.5) layers to one score per pack."""

    def __init__(self, row_dim: int, pack: int, hidden: Sequence[int] = (256, 256),
                 dropout: float = 0.5) -> None:
        super().__init__()
        self.pack = pack
        layers: list[nn.Module] = []
        width = row_dim * pack
        for n in hidden:
            layers += [nn.Linear(width, n), nn.LeakyReLU(0.2), nn.Dropout(dropout)]
            width = n
        self.body = nn.Sequential(*layers, nn.Linear(width, 1))

    def packed(self, rows: torch.Tensor) -> torch.Tensor:
        """``(N, F)`` rows as ``(N / pack, pack · F)`` packs."""
        if rows.shape[0] % self.pack:
            raise ValueError(f"a batch of {rows.shape[0]} rows is not a whole number of packs "
                             f"of {self.pack}")
        return rows.reshape(rows.shape[0] // self.pack, -1)

    def score_packs(self, packs: torch.Tensor) -> torch.Tensor:
        return self.body(packs).flatten()

    def forward(self, rows: torch.Tensor) -> torch.Tensor:
        return self.score_packs(self.packed(rows))


class TableEncoder(nn.Module):
    """TVAE's encoder: a row → the mean and log-variance of q(z | row)."""

    def __init__(self, data_dim: int, z_dim: int, hidden: Sequence[int] = (128, 128)) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = data_dim
        for n in hidden:
            layers += [nn.Linear(width, n), nn.ReLU()]
            width = n
        self.body, self.mean, self.logvar = (nn.Sequential(*layers), nn.Linear(width, z_dim),
                                             nn.Linear(width, z_dim))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.body(x)
        return self.mean(h), self.logvar(h)


class TableDecoder(nn.Module):
    """TVAE's decoder: a code → the raw row, with a learnt standard deviation per output (used
    by the scalars' Gaussian likelihood)."""

    def __init__(self, z_dim: int, data_dim: int, hidden: Sequence[int] = (128, 128)) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = z_dim
        for n in hidden:
            layers += [nn.Linear(width, n), nn.ReLU()]
            width = n
        self.body = nn.Sequential(*layers, nn.Linear(width, data_dim))
        self.sigma = nn.Parameter(torch.full((data_dim,), 0.1))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.body(z)


def activate(raw: torch.Tensor, spans: Sequence[Any], gumbel: bool = True,
             tau: float = GUMBEL_TAU) -> torch.Tensor:
    """The generator's raw output as a row: tanh on each scalar span, Gumbel-softmax
    (``gumbel``) or plain softmax on each one-hot block; ``spans`` cover the row in order."""
    parts = []
    for span in spans:
        block = raw[:, span.start:span.start + span.width]
        if span.kind == "scalar":
            parts.append(torch.tanh(block))
        else:
            parts.append(F.gumbel_softmax(block, tau=tau) if gumbel
                         else torch.softmax(block, dim=1))
    return torch.cat(parts, dim=1)


def gumbel_max(raw: torch.Tensor, spans: Sequence[Any],
               generator: torch.Generator | None = None) -> torch.Tensor:
    """Rows drawn from the generator's raw output: tanh on each scalar span, and each one-hot
    block a category drawn from the softmax of its logits (the Gumbel-max trick, with noise
    from ``generator``), as a one-hot."""
    parts = []
    for span in spans:
        block = raw[:, span.start:span.start + span.width]
        if span.kind == "scalar":
            parts.append(torch.tanh(block))
            continue
        u = torch.rand(block.shape, generator=generator).to(block.device).clamp_(1e-12, 1.0)
        pick = (block - torch.log(-torch.log(u))).argmax(1)
        parts.append(F.one_hot(pick, span.width).to(block.dtype))
    return torch.cat(parts, dim=1)
