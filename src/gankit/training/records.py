"""The one place a run's records go: ``metrics.jsonl``, and any loggers the config switches on.

A *record* is a dict of numbers with a ``step`` key: the averaged step scalars that
:class:`~gankit.training.hooks.MetricsLogger` logs every ``train.log_every`` steps, and the
records a recipe's own hooks pass to ``HookContext.record`` (evaluation while training, held-out
checks). :class:`RecordLog` appends each one to metrics.jsonl and forwards it, and each progress
picture, to its *sinks* (the TensorBoard writer with ``log.tensorboard: true``). Only rank 0
writes: on other ranks a ``RecordLog`` does nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from gankit.training import rundir

if TYPE_CHECKING:
    from gankit.config import RunConfig
    from gankit.recipes.base import Scalar


class Sink(Protocol):
    """Somewhere besides metrics.jsonl that records and pictures go."""

    def record(self, record: dict[str, Any]) -> None:
        """Take one record (``step`` and numbers); written at once (flushed)."""

    def picture(self, tag: str, path: Path, step: int) -> None:
        """Take the PNG at ``path``, the progress picture after ``step``."""

    def rewind(self, step: int) -> None:
        """Forget what was logged after ``step`` (a resume or a rollback starts from there)."""

    def close(self) -> None:
        """Write out everything (also on an interrupt or an error); may be used again later."""


class RecordLog:
    """Appends records to ``path`` (metrics.jsonl) and forwards them to ``sinks``; does nothing
    when ``write`` is False (ranks other than 0)."""

    def __init__(self, path: Path, sinks: Sequence[Sink] = (), write: bool = True) -> None:
        self.path, self.sinks, self.write = Path(path), list(sinks), write

    def __call__(self, record: dict[str, Any]) -> None:
        """Log one record: a line of metrics.jsonl, then each sink."""
        if not self.write:
            return
        with self.path.open("a") as handle:
            handle.write(json.dumps(record) + "\n")
        for sink in self.sinks:
            sink.record(record)

    def picture(self, tag: str, path: Path, step: int) -> None:
        """Forward a progress picture already written to ``path`` to the sinks."""
        if self.write:
            for sink in self.sinks:
                sink.picture(tag, path, step)

    def rewind(self, step: int) -> None:
        """Drop what was logged after ``step``: metrics.jsonl's lines and the sinks' steps."""
        if not self.write:
            return
        rundir.truncate_metrics(self.path.parent, step)
        for sink in self.sinks:
            sink.rewind(step)

    def elapsed_s(self) -> float:
        """The training time logged so far (the last record's ``elapsed_s``; 0 for a new run):
        where a resumed run's clock goes on from."""
        from gankit.report import read_metrics

        times = [r["elapsed_s"] for r in read_metrics(self.path)
                 if isinstance(r.get("elapsed_s"), int | float)]
        return float(times[-1]) if times else 0.0

    def close(self) -> None:
        for sink in self.sinks:
            sink.close()


def check_sinks(cfg: RunConfig) -> None:
    """Refuse in one sentence a logger the config asks for that cannot run (before any work)."""
    if cfg.log.tensorboard:
        from gankit.training.tensorboard import require_tensorboard

        require_tensorboard()


def open_sinks(cfg: RunConfig, run_dir: Path, scalars: Iterable[Scalar]) -> list[Sink]:
    """The sinks ``cfg.log`` switches on, writing into ``run_dir`` (opened at their first
    write)."""
    sinks: list[Sink] = []
    if cfg.log.tensorboard:
        from gankit.training.tensorboard import TensorBoardSink

        sinks.append(TensorBoardSink(run_dir, cfg.model_dump(mode="json"),
                                     [s.key for s in scalars]))
    return sinks
