"""Stopping cleanly: Ctrl-C (SIGINT) or SIGTERM ends training after the current step.

The first signal only sets a flag; the loop hook :class:`GracefulStop` raises
:class:`StopRequested` once the step in progress has finished, so the trainer can write a
checkpoint of a consistent state. A second Ctrl-C interrupts at once. With several processes
the ranks agree on the step to stop at (checked every step on the CPU, at log steps elsewhere).
"""

from __future__ import annotations

import signal
import sys
import threading
from types import FrameType
from typing import Any

import torch

from gankit.errors import GankitError
from gankit.training.distributed import World, all_max


class StopRequested(Exception):
    """Raised after the step ``step`` has finished, when a stop was asked for."""

    def __init__(self, step: int) -> None:
        super().__init__(f"stop requested after step {step}")
        self.step = step


class Interrupted(GankitError):
    """Training was stopped by the user; the message says what was kept."""

    exit_code = 130
    label = "stopped"


class GracefulStop:
    """A loop hook, and a context that turns SIGINT/SIGTERM into a request to stop."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, device: torch.device, check_every: int, world: World | None = None) -> None:
        self.device, self.world = device, world or World()
        self.check_every = 1 if device.type == "cpu" else check_every
        self.requested = False
        self._old: dict[int, Any] = {}

    def __enter__(self) -> GracefulStop:
        if threading.current_thread() is threading.main_thread():
            for sig in self.SIGNALS:
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._old.items():
            signal.signal(sig, handler)
        self._old.clear()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.requested and signum == signal.SIGINT:
            self.__exit__()
            raise KeyboardInterrupt
        self.requested = True
        if self.world.is_main:
            sys.stderr.write("\ngankit: stopping after this step and writing a checkpoint "
                             "(press Ctrl-C again to stop at once).\n")

    def __call__(self, step: int, scalars: dict[str, torch.Tensor] | None = None) -> None:
        stop = self.requested
        if self.world.enabled:
            if step % self.check_every:
                return
            flag = torch.tensor(int(self.requested), device=self.device)
            stop = bool(all_max(flag, self.world).item())
        if stop:
            raise StopRequested(step)
