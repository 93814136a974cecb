"""APGD-CE (Croce & Hein 2020, "Reliable evaluation of adversarial robustness with an ensemble of
diverse parameter-free attacks", Algorithm 1): step-size-free PGD with momentum on the CE loss.

Per sample the step starts at 2ε and is halved at the checkpoints ``w_j = ⌈p_j·steps⌉``
(``p_0 = 0``, ``p_1 = 0.22``, ``p_{j+1} = p_j + max(p_j − p_{j−1} − 0.03, 0.06)``) when

1. the loss rose in fewer than ρ = 0.75 of the steps since the last checkpoint, or
2. the step was not halved at the last checkpoint and the best loss has not improved since;

after halving, the iterate restarts from the best (highest-loss) point with no momentum.  The
update is ``z = P(x_k + η·dir(∇))``, ``x_{k+1} = P(x_k + α(z − x_k) + (1 − α)(x_k − x_{k−1}))`` with
α = 0.75 (α = 1 for the first step), ``P`` the projection onto the ε-ball and ``[0, 1]``.

Only the samples the model classifies correctly are attacked; with ``restarts`` > 1 each restart
(from a new random point) attacks those no earlier restart fooled.  The result per sample is a
point that fools the model if one was found, else the point of highest loss over all restarts.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch

from gankit.robust.attacks import (
    ATTACKS,
    Attack,
    _check_bool,
    _check_float,
    _check_int,
    direction,
    project,
    random_start,
)

MOMENTUM = 0.75


def checkpoints(steps: int) -> list[int]:
    """The iterations ``w_1 < w_2 < … ≤ steps`` at which APGD considers halving its step."""
    p = [0.0, 0.22]
    while p[-1] + max(p[-1] - p[-2] - 0.03, 0.06) <= 1.0:
        p.append(p[-1] + max(p[-1] - p[-2] - 0.03, 0.06))
    w = {math.ceil(round(pj * steps, 9)) for pj in p[1:]}
    return sorted(k for k in w if 0 < k <= steps)


@ATTACKS.register("apgd-ce")
class APGD(Attack):
    """Auto-PGD with the cross-entropy loss; L∞ and L2 (see the module docstring)."""

    name = "apgd-ce"
    defaults: ClassVar[dict[str, Any]] = {"seed": 0, "steps": 100, "restarts": 1, "rho": 0.75,
                                          "random_start": True}

    def _configure(self, options: dict[str, Any]) -> None:
        self.steps = _check_int("steps", options["steps"], self.name)
        self.restarts = _check_int("restarts", options["restarts"], self.name)
        self.rho = _check_float("rho", options["rho"], self.name, 0.0, 1.0)
        self.random_start = _check_bool("random_start", options["random_start"], self.name)

    def protocol(self) -> dict[str, Any]:
        return {**super().protocol(), "loss": "ce", "steps": self.steps,
                "step_size": 2 * self.eps, "momentum": MOMENTUM, "rho": self.rho,
                "random_start": self.random_start, "restarts": self.restarts, "seed": self.seed}

    def _attack(self, x: torch.Tensor, y: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        with torch.no_grad():
            todo = self._logits(x, y).argmax(1) == y
        best = x.clone()
        best_loss = torch.full((len(x),), -math.inf, device=x.device)
        for _ in range(self.restarts):
            idx = todo.nonzero().squeeze(1)
            if len(idx) == 0:
                break
            x_run, loss, fooled = self._run(x[idx], y[idx], gen)
            better = fooled | (loss > best_loss[idx])
            best[idx[better]] = x_run[better]
            best_loss[idx[better]] = loss[better]
            todo[idx[fooled]] = False
        return best

    def _run(self, x: torch.Tensor, y: torch.Tensor, gen: torch.Generator
             ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One run of Algorithm 1: (result, its loss, whether it fools the model) per sample."""
        n, eps, norm = len(x), self.eps, self.norm
        x_cur = random_start(x, eps, norm, gen) if self.random_start else x.clone()
        loss, grad, logits = self._loss_grad(x_cur, y)
        history = torch.empty((self.steps + 1, n), device=x.device, dtype=loss.dtype)
        history[0] = loss
        x_max, f_max, grad_max = x_cur.clone(), loss.clone(), grad.clone()
        fooled = logits.argmax(1) != y
        x_fool = x_cur.clone()
        eta = torch.full((n, 1, 1, 1), 2 * eps, device=x.device, dtype=x.dtype)
        x_prev = x_cur
        marks = set(checkpoints(self.steps))
        last_mark, f_max_at_mark = 0, f_max.clone()
        halved_at_mark = torch.zeros(n, dtype=torch.bool, device=x.device)
        for k in range(self.steps):
            with torch.no_grad():
                z = project(x_cur + eta * direction(grad, norm), x, eps, norm)
                if k > 0:
                    z = project(x_cur + MOMENTUM * (z - x_cur) + (1 - MOMENTUM) * (x_cur - x_prev),
                                x, eps, norm)
            x_prev, x_cur = x_cur, z
            loss, grad, logits = self._loss_grad(x_cur, y)
            history[k + 1] = loss
            fools = logits.argmax(1) != y
            x_fool[fools] = x_cur[fools]
            fooled |= fools
            up = loss > f_max
            x_max[up], f_max[up], grad_max[up] = x_cur[up], loss[up], grad[up]
            if k + 1 in marks:
                w = k + 1
                rises = (history[last_mark + 1:w + 1] > history[last_mark:w]).sum(0)
                cond1 = rises < self.rho * (w - last_mark)
                cond2 = ~halved_at_mark & (f_max <= f_max_at_mark)
                halve = cond1 | cond2
                eta[halve] /= 2
                x_cur = torch.where(halve.view(-1, 1, 1, 1), x_max, x_cur)
                grad = torch.where(halve.view(-1, 1, 1, 1), grad_max, grad)
                x_prev = torch.where(halve.view(-1, 1, 1, 1), x_max, x_prev)
                last_mark, f_max_at_mark, halved_at_mark = w, f_max.clone(), halve
        result = torch.where(fooled.view(-1, 1, 1, 1), x_fool, x_max)
        return result, f_max, fooled

