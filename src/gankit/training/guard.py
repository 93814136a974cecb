"""Divergence detection: notice the first step whose losses are NaN or infinite.

The step of the first non-finite value is recorded on the device, so no host sync is needed
per step; :meth:`DivergenceGuard.check` (every step on the CPU, at log steps and before every
checkpoint elsewhere) turns it into an error naming that exact step.
"""

from __future__ import annotations

import torch

from gankit.errors import GankitError
from gankit.training.distributed import World, all_max


class Diverged(GankitError):
    """Training went wrong at ``step``: a loss became NaN or infinite, or a recipe's own
    check failed (``reason`` says what happened)."""

    exit_code = 3

    def __init__(self, step: int, reason: str = "a loss became NaN or infinite") -> None:
        super().__init__(f"{reason} at step {step}")
        self.step, self.reason = step, reason

    def with_message(self, message: str) -> Diverged:
        self.args = (message,)
        return self


class DivergenceGuard:
    def __init__(self, device: torch.device, check_every: int, world: World | None = None) -> None:
        self.first_bad = torch.tensor(-1, device=device)
        self.check_every = 1 if device.type == "cpu" else check_every
        self.world = world or World()

    def __call__(self, step: int, scalars: dict[str, torch.Tensor]) -> None:
        values = torch.stack([v.detach().float().reshape(()) for v in scalars.values()])
        bad = ~torch.isfinite(values).all()
        self.first_bad = torch.where((self.first_bad < 0) & bad, step, self.first_bad)
        if step % self.check_every == 0:
            self.check()

    def check(self) -> None:
        """Raise on every rank if any rank saw a non-finite loss."""
        step = int(all_max(self.first_bad.clone(), self.world))
        if step >= 0:
            raise Diverged(step)

    def reset(self) -> None:
        self.first_bad.fill_(-1)
