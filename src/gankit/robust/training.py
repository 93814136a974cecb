"""The perturbations of adversarial training (the attacks that *evaluate* robustness are in
:mod:`gankit.robust.attacks`).

Both draw their random starts from the global RNG on the device, which the trainer
checkpoints, so an adversarially trained run resumes bit-identically; both take gradients with
respect to the input only (the network's parameters collect no gradient).

- :func:`fgsm_rs` — Wong, Rice & Kolter 2020 ("Fast is better than free"): a uniform random
  start in the ε-ball, then one signed-gradient step of size α (1.25 ε by default), clipped back
  to the ball and to [0, 1].
- :func:`pgd_train` — Madry et al. 2018: a random start, then ``steps`` signed-gradient steps of
  ``step_size``, each projected onto the ball and [0, 1]; as in Wong et al.'s MNIST code, a
  sample stops moving once it is misclassified.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _random_start(x: torch.Tensor, eps: float) -> torch.Tensor:
    delta = torch.empty_like(x).uniform_(-eps, eps)
    return (x + delta).clamp(0.0, 1.0) - x


def _input_grad(model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                delta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The gradient of the cross-entropy at ``x + delta`` with respect to ``delta``, and the
    logits there."""
    delta = delta.detach().requires_grad_(True)
    logits = model(x + delta)
    (grad,) = torch.autograd.grad(F.cross_entropy(logits.float(), y), delta)
    return grad, logits.detach()


def _project(x: torch.Tensor, delta: torch.Tensor, eps: float) -> torch.Tensor:
    return (x + delta.clamp(-eps, eps)).clamp(0.0, 1.0) - x


def fgsm_rs(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float,
            alpha: float) -> torch.Tensor:
    """Adversarial inputs of FGSM with a random start (see the module docstring)."""
    delta = _random_start(x, eps)
    grad, _ = _input_grad(model, x, y, delta)
    return (x + _project(x, delta + alpha * grad.sign(), eps)).detach()


def pgd_train(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float,
              step_size: float, steps: int) -> torch.Tensor:
    """Adversarial inputs of PGD with a random start (see the module docstring)."""
    delta = _random_start(x, eps)
    for _ in range(steps):
        grad, logits = _input_grad(model, x, y, delta)
        still = (logits.argmax(1) == y).view(-1, *([1] * (x.ndim - 1)))
        delta = torch.where(still, _project(x, delta + step_size * grad.sign(), eps), delta)
    return (x + delta).detach()
