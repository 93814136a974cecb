"""Square Attack, L∞ (Andriushchenko et al. 2020): gradient-free random search on the margin.

The margin of a sample is ``logit_y − max_{j≠y} logit_j`` (≤ 0 means the model is fooled).  The
search starts from vertical stripes (one random ±ε per channel and column) and then, for every
sample still classified correctly, proposes one random square window per query, set to ``x ± ε``
(one sign per channel), keeping the proposal when it lowers the margin.  The side of the square
is ``√(p·H·W)`` pixels, ``p`` decreasing from ``p_init`` by halvings on the schedule of the paper,
rescaled to the query budget.  Samples the model already misclassifies are returned unchanged and
cost no query.  ``queries`` counts model evaluations per sample, the stripes included.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch

from gankit.errors import GankitError
from gankit.robust.attacks import ATTACKS, Attack, _check_float, _check_int

#: (last iteration of 10,000, divisor of p_init): the paper's schedule, rescaled to the budget
_SCHEDULE = ((10, 1), (50, 2), (200, 4), (500, 8), (1000, 16), (2000, 32), (4000, 64),
             (6000, 128), (8000, 256))
#: proposals redrawn at most this often when they would not change the image
_REDRAWS = 10


def square_fraction(p_init: float, it: int, queries: int) -> float:
    """The fraction ``p`` of pixels in the square at iteration ``it`` of ``queries``."""
    t = int(it / queries * 10000)
    divisor = 512
    for last, div in _SCHEDULE:
        if t <= last:
            divisor = div
            break
    return p_init / divisor


def margin(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``logit_y − max_{j≠y} logit_j`` per sample."""
    logits = logits.float()
    true = logits.gather(1, y[:, None]).squeeze(1)
    other = logits.scatter(1, y[:, None], -math.inf).amax(1)
    return true - other


@ATTACKS.register("square")
class Square(Attack):
    """The Square Attack with the margin loss, L∞ only (see the module docstring).

    After a call, ``queries_used`` holds the queries spent on each sample (0 for a sample the model
    misclassified already).
    """

    name = "square"
    norms: ClassVar[tuple[str, ...]] = ("linf",)
    defaults: ClassVar[dict[str, Any]] = {"seed": 0, "queries": 1000, "p_init": 0.8}

    def _configure(self, options: dict[str, Any]) -> None:
        self.queries = _check_int("queries", options["queries"], self.name)
        self.p_init = _check_float("p_init", options["p_init"], self.name, 0.0, 1.0)
        if self.p_init == 0:
            raise GankitError("The square attack needs p_init above 0 (at most 1).")
        self.queries_used: torch.Tensor | None = None

    def protocol(self) -> dict[str, Any]:
        return {**super().protocol(), "loss": "margin", "queries": self.queries,
                "p_init": self.p_init, "init": "vertical stripes", "restarts": 1,
                "seed": self.seed}

    def _margin(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return margin(self._logits(x, y), y)

    @torch.no_grad()
    def _attack(self, x: torch.Tensor, y: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        n, c, h, w = x.shape
        dev, eps = x.device, self.eps
        used = torch.zeros(n, dtype=torch.long, device=dev)
        self.queries_used = used
        if eps == 0:  # the ball is the one point x: nothing to search
            return x.clone()
        best = x.clone()
        best_margin = self._margin(x, y)
        idx = (best_margin > 0).nonzero().squeeze(1)
        signs = torch.randint(0, 2, (len(idx), c, 1, w), generator=gen, device=dev)
        stripes = (x[idx] + eps * (2 * signs - 1).to(x.dtype)).clamp(0.0, 1.0)
        best[idx] = stripes
        best_margin[idx] = self._margin(stripes, y[idx])
        used[idx] = 1
        rows = torch.arange(h, device=dev)
        cols = torch.arange(w, device=dev)
        for it in range(1, self.queries):
            idx = (best_margin > 0).nonzero().squeeze(1)
            if len(idx) == 0:
                break
            k = len(idx)
            p = square_fraction(self.p_init, it, self.queries)
            side = min(max(round(math.sqrt(p * h * w)), 1), max(min(h, w) - 1, 1))
            top = torch.randint(0, h - side + 1, (k, 1), generator=gen, device=dev)
            left = torch.randint(0, w - side + 1, (k, 1), generator=gen, device=dev)
            inside = (((rows >= top) & (rows < top + side))[:, None, :, None]
                      & ((cols >= left) & (cols < left + side))[:, None, None, :])
            x_k, best_k = x[idx], best[idx]
            window = torch.zeros((k, c, 1, 1), dtype=x.dtype, device=dev)
            redraw = torch.ones(k, dtype=torch.bool, device=dev)
            for _ in range(_REDRAWS):
                signs = torch.randint(0, 2, (k, c, 1, 1), generator=gen, device=dev)
                window = torch.where(redraw[:, None, None, None], (2 * signs - 1).to(x.dtype),
                                     window)
                proposal = torch.where(inside, (x_k + eps * window).clamp(0.0, 1.0), best_k)
                redraw = (proposal - best_k).abs().flatten(1).sum(1) < 1e-7
                if not redraw.any():
                    break
            new_margin = self._margin(proposal, y[idx])
            used[idx] += 1
            better = new_margin < best_margin[idx]
            best[idx[better]] = proposal[better]
            best_margin[idx[better]] = new_margin[better]
        return best

