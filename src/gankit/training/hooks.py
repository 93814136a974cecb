"""What happens around training steps: logging, sample snapshots and checkpoints."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from gankit.recipes.base import Pictures, Scalar
from gankit.training import rundir
from gankit.training.checkpoint import checkpoint_paths, checkpoint_step, save_checkpoint
from gankit.training.distributed import World, all_mean
from gankit.training.records import RecordLog


class MetricsLogger:
    """Averages the step scalars over each ``every`` steps, logs them to ``log`` (metrics.jsonl
    and its sinks) and shows them on the progress bar; prints a log line every ``print_every``
    steps. ``samples_per_step`` is asked after every step (recipes may change how many batches
    a step draws, as f-AnoGAN's two phases do)."""

    def __init__(self, log: RecordLog | Path, every: int, print_every: int,
                 samples_per_step: Callable[[], int], scalars: tuple[Scalar, ...],
                 bar: tqdm, total: int, world: World | None = None) -> None:
        self.log = log if isinstance(log, RecordLog) else RecordLog(log)
        self.every, self.print_every = every, print_every
        self.samples_per_step, self.bar, self.total = samples_per_step, bar, total
        self.shown = [s for s in scalars if s.progress]
        self._sums: dict[str, torch.Tensor] = {}
        self._count = self._samples = 0
        self._t0 = time.perf_counter()
        self._elapsed_before = self.log.elapsed_s()  # a resumed run's clock goes on
        self.world = world or World()
        self.last: dict[str, Any] = {}

    def __call__(self, step: int, scalars: dict[str, torch.Tensor]) -> None:
        for key, value in scalars.items():
            self._sums[key] = self._sums[key] + value if key in self._sums else value.clone()
        self._count += 1
        self._samples += self.samples_per_step()
        if step % self.every and step != self.total:
            return
        now = time.perf_counter()
        keys = list(self._sums)
        means = all_mean(torch.stack([self._sums[k].float() for k in keys]), self.world)
        record: dict[str, Any] = {"step": step}
        record.update({k: float(v) / self._count for k, v in zip(keys, means.tolist(),
                                                                   strict=True)})
        record["img_per_s"] = self._samples / max(now - self._t0, 1e-9)
        self._elapsed_before += now - self._t0
        record["elapsed_s"] = round(self._elapsed_before, 3)
        self.last = record
        self._sums, self._count, self._samples, self._t0 = {}, 0, 0, time.perf_counter()
        if not self.world.is_main:
            return
        self.log(record)
        self.bar.set_postfix_str(self.describe(record, short=True), refresh=False)
        if step % self.print_every == 0 or step == self.total:
            self.bar.write(self.describe(record))

    def describe(self, record: dict[str, Any], short: bool = False) -> str:
        """The progress bar's text (``short``) or a log line of one logged record."""
        parts = []
        for scalar in self.shown:
            if scalar.key in record:
                value = record[scalar.key]
                text = f"{100 * value:.0f}%" if scalar.kind == "share" else f"{value:.3f}"
                parts.append(f"{scalar.key if short else scalar.label} {text}")
        parts.append(f"{record['img_per_s']:.0f} img/s")
        body = " | ".join(parts) if not short else " ".join(parts)
        return body if short else f"step {record['step']}/{self.total} | {body}"


class LineWriter:
    """Prints a line beside the progress bar once there is one (plain print before)."""

    def __init__(self) -> None:
        self.bar: tqdm | None = None

    def write(self, text: str) -> None:
        (self.bar.write if self.bar is not None else print)(text)


class PictureWriter:
    """Every ``every`` steps, the recipe's progress picture as ``samples/step_NNNNNN.png``,
    also passed on to the sinks of ``log`` (tag ``tag``)."""

    def __init__(self, run_dir: Path, pictures: Pictures, every: int,
                 log: RecordLog | None = None, tag: str = "samples") -> None:
        self.run_dir, self.pictures, self.every = run_dir, pictures, every
        self.log, self.tag = log, tag

    def __call__(self, step: int, scalars: dict[str, torch.Tensor] | None = None) -> None:
        if step % self.every:
            return
        path = self.run_dir / rundir.SAMPLES / f"step_{step:06d}.png"
        written = self.pictures.progress(path, step)
        if self.log is not None:
            self.log.picture(self.tag, Path(written) if written else path, step)


class Checkpointer:
    """Saves the full training state every ``every`` steps (and on demand)."""

    def __init__(self, folder: Path, every: int, keep: int,
                 state_fn: Callable[[int], dict[str, Any]], write: bool = True) -> None:
        self.folder, self.every, self.keep, self.state_fn = folder, every, keep, state_fn
        self.write = write  # False on ranks other than 0: they take part, rank 0 writes
        self.last_step = -1
        self.before_save: Callable[[], None] = lambda: None

    def __call__(self, step: int, scalars: dict[str, torch.Tensor] | None = None) -> None:
        if step % self.every == 0:
            self.save(step)

    def save(self, step: int) -> Path | None:
        if step == self.last_step:
            return None
        self.before_save()  # never checkpoint weights that have diverged
        self.last_step = step
        state = self.state_fn(step)
        return save_checkpoint(self.folder, step, state, self.keep) if self.write else None

    def last_good(self) -> tuple[int, Path] | None:
        """(step, path) of the newest checkpoint on disk, if any."""
        paths = checkpoint_paths(self.folder)
        return (checkpoint_step(paths[-1]), paths[-1]) if paths else None
