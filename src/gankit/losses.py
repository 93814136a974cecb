"""Adversarial losses as pure functions of the discriminator's raw scores (logits).

Notation: ``r = D(x)`` on real data, ``f = D(G(z))`` on generated data, σ the logistic sigmoid,
so that D's probability of "real" is σ(r). ``softplus(t) = log(1 + e^t)``, hence
``-log σ(t) = softplus(-t)`` and ``-log(1 - σ(t)) = softplus(t)``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from gankit.registry import Registry


def d_loss_bce(real: Tensor, fake: Tensor) -> Tensor:
    """−E[log σ(r)] − E[log(1 − σ(f))]: binary cross-entropy with targets 1 (real), 0 (fake)."""
    return F.softplus(-real).mean() + F.softplus(fake).mean()


def g_loss_minimax(fake: Tensor) -> Tensor:
    """E[log(1 − σ(f))]: the original (saturating) minimax generator loss."""
    return -F.softplus(fake).mean()


def g_loss_nonsaturating(fake: Tensor) -> Tensor:
    """−E[log σ(f)]: the non-saturating generator loss (maximise log D(G(z)))."""
    return F.softplus(-fake).mean()


def d_loss_hinge(real: Tensor, fake: Tensor) -> Tensor:
    """E[max(0, 1 − r)] + E[max(0, 1 + f)]."""
    return F.relu(1.0 - real).mean() + F.relu(1.0 + fake).mean()


def g_loss_hinge(fake: Tensor) -> Tensor:
    """−E[f]."""
    return -fake.mean()


def d_loss_wasserstein(real: Tensor, fake: Tensor) -> Tensor:
    """E[f] − E[r]: the critic's estimate of the negative Wasserstein-1 distance."""
    return fake.mean() - real.mean()


def g_loss_wasserstein(fake: Tensor) -> Tensor:
    """−E[f]."""
    return -fake.mean()


def d_loss_least_squares(real: Tensor, fake: Tensor) -> Tensor:
    """½E[(r − 1)²] + ½E[f²] (LSGAN with targets 1 and 0)."""
    return 0.5 * (real - 1.0).pow(2).mean() + 0.5 * fake.pow(2).mean()


def g_loss_least_squares(fake: Tensor) -> Tensor:
    """½E[(f − 1)²]."""
    return 0.5 * (fake - 1.0).pow(2).mean()


def gradient_penalty(
    critic: Callable[[Tensor], Tensor], real: Tensor, fake: Tensor, center: float = 1.0
) -> Tensor:
    """WGAN-GP: E[(‖∇ₓ̂ D(x̂)‖₂ − center)²] at x̂ = εx + (1 − ε)G(z), ε ~ U(0, 1) per sample."""
    eps = torch.rand((real.shape[0],) + (1,) * (real.dim() - 1), device=real.device)
    mixed = (eps * real + (1.0 - eps) * fake.detach()).requires_grad_(True)
    scores = critic(mixed)
    (grad,) = torch.autograd.grad(scores.sum(), mixed, create_graph=True)
    return (grad.flatten(1).norm(2, dim=1) - center).pow(2).mean()


def r1_penalty(critic: Callable[[Tensor], Tensor], real: Tensor) -> Tensor:
    """R1 (Mescheder et al. 2018): E[‖∇ₓ D(x)‖₂²] on real samples; added as γ/2 · R1."""
    real = real.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(real).float().sum(), real, create_graph=True)
    return grad.flatten(1).pow(2).sum(dim=1).mean()


def _accuracy(real: Tensor, fake: Tensor, threshold: Tensor | float) -> Tensor:
    hits = (real > threshold).float().sum() + (fake < threshold).float().sum()
    return hits / (real.numel() + fake.numel())


def accuracy_at(threshold: float) -> Callable[[Tensor, Tensor], Tensor]:
    """D accuracy when scores above ``threshold`` mean "real"."""
    return lambda real, fake: _accuracy(real, fake, threshold)


def accuracy_midpoint(real: Tensor, fake: Tensor) -> Tensor:
    """For unbounded critics: scores above the midpoint of the two batch means count as real."""
    return _accuracy(real, fake, 0.5 * (real.mean() + fake.mean()))


@dataclass(frozen=True)
class AdversarialLoss:
    """A pair of losses plus the rule that turns D's scores into an accuracy."""

    d_loss: Callable[[Tensor, Tensor], Tensor]
    g_loss: Callable[[Tensor], Tensor]
    accuracy: Callable[[Tensor, Tensor], Tensor]
    description: str


LOSSES: Registry[AdversarialLoss] = Registry("loss")
LOSSES.add("minimax", AdversarialLoss(d_loss_bce, g_loss_minimax, accuracy_at(0.0),
                                      "original saturating minimax GAN"))
LOSSES.add("ns", AdversarialLoss(d_loss_bce, g_loss_nonsaturating, accuracy_at(0.0),
                                 "non-saturating GAN (maximise log D(G(z)))"))
LOSSES.add("hinge", AdversarialLoss(d_loss_hinge, g_loss_hinge, accuracy_at(0.0),
                                    "hinge loss (SNGAN, BigGAN)"))
LOSSES.add("wasserstein", AdversarialLoss(d_loss_wasserstein, g_loss_wasserstein,
                                          accuracy_midpoint,
                                          "Wasserstein critic; pair with loss.gp_weight (WGAN-GP)"))
LOSSES.add("lsgan", AdversarialLoss(d_loss_least_squares, g_loss_least_squares, accuracy_at(0.5),
                                    "least squares GAN (targets 1 and 0)"))
