"""TensorBoard logging (``gankit train --tensorboard``, ``log.tensorboard: true``).

A :class:`~gankit.training.records.RecordLog` sink that writes event files into
``RUN/tensorboard/``; ``tensorboard --logdir runs`` shows every run. What goes there:

- every number of every record, at the record's ``step`` (the global step), tagged by a prefix
  rule: a key beginning ``eval_`` or ``val_`` is an evaluation (``eval/eval_fid``,
  ``eval/val_pgd_acc``), any other key is a training scalar (``train/<key>``, including
  ``train/img_per_s`` and ``train/elapsed_s``);
- each progress picture (``samples/step_NNNNNN.png``) as the image ``samples``;
- the run's hyper-parameters: the config flattened to dotted keys (``train.batch_size``,
  lists as JSON text) for the HParams dashboard, with the recipe's scalars as its metrics.

A resumed run appends a new event file to the same folder and marks its first step, so that
TensorBoard drops what the interrupted process had logged after the checkpoint it resumes from
(as metrics.jsonl does); a rollback after divergence marks the step it trains again from.
``tensorboard`` is an optional extra (``pip install "gankit[tensorboard]"``), imported only
when this logger is switched on.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from gankit.errors import GankitError

#: the folder of the event files inside the run folder
FOLDER = "tensorboard"
#: record keys that begin so are evaluations while training: tagged ``eval/<key>``
EVAL_PREFIXES = ("eval_", "val_")


def require_tensorboard() -> None:
    """Refuse in one sentence when the tensorboard package cannot be imported."""
    try:
        import tensorboard  # noqa: F401
        from torch.utils.tensorboard import SummaryWriter  # noqa: F401
    except ImportError:
        raise GankitError("TensorBoard logging (--tensorboard, log.tensorboard: true) needs the "
                          "tensorboard package, which is not installed: run pip install "
                          "\"gankit[tensorboard]\", or train without it.") from None


def tag_of(key: str) -> str:
    """The TensorBoard tag of a record key (the prefix rule of this module's docstring)."""
    return f"eval/{key}" if key.startswith(EVAL_PREFIXES) else f"train/{key}"


def flat_hparams(doc: dict[str, Any], prefix: str = "") -> dict[str, int | float | str]:
    """A nested config as ``{"section.key": value}``: numbers and text as they are, flags as
    ``true``/``false`` and lists as JSON text; unset (None) settings and empty sections are
    left out."""
    out: dict[str, int | float | str] = {}
    for key, value in doc.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flat_hparams(value, f"{name}."))
        elif isinstance(value, bool):
            out[name] = "true" if value else "false"
        elif isinstance(value, int | float | str):
            out[name] = value
        elif value is not None:
            out[name] = json.dumps(value)
    return out


class TensorBoardSink:
    """Writes records, pictures and the hyper-parameters to ``run_dir/tensorboard/``; the
    writer opens at the first write (so nothing is written by a run that never trains)."""

    def __init__(self, run_dir: Path, config: dict[str, Any], scalar_keys: list[str]) -> None:
        self.folder = Path(run_dir) / FOLDER
        self.hparams = flat_hparams(config)
        self.metric_tags = [tag_of(key) for key in scalar_keys]
        self._writer: Any = None
        self._purge_from: int | None = None
        self._hparams_written = False

    def _open(self) -> Any:
        if self._writer is None:
            from torch.utils.tensorboard import SummaryWriter
            from torch.utils.tensorboard.summary import hparams

            wait_for_a_later_second(self.folder)
            self._writer = SummaryWriter(str(self.folder), purge_step=self._purge_from)
            self._purge_from = None
            if not self._hparams_written:
                for summary in hparams(self.hparams, dict.fromkeys(self.metric_tags, 0.0)):
                    self._writer.file_writer.add_summary(summary)
                self._hparams_written = True
        return self._writer

    def record(self, record: dict[str, Any]) -> None:
        step = int(record["step"])
        writer = self._open()
        for key, value in record.items():
            if key != "step" and isinstance(value, int | float) and not isinstance(value, bool):
                writer.add_scalar(tag_of(key), value, step)
        writer.flush()

    def picture(self, tag: str, path: Path, step: int) -> None:
        import numpy as np
        from PIL import Image

        with Image.open(path) as image:
            rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        pixels = np.asarray(Image.alpha_composite(white, rgba).convert("RGB"))
        writer = self._open()
        writer.add_image(tag, pixels, step, dataformats="HWC")
        writer.flush()

    def rewind(self, step: int) -> None:
        """Steps after ``step`` are void: a restart is marked at ``step + 1`` (at the start of
        the next event file, or in the open one), and TensorBoard hides what was logged from
        there on before the mark."""
        if self._writer is None:
            self._purge_from = step + 1
            return
        from tensorboard.compat.proto.event_pb2 import Event, SessionLog

        restart = Event(step=step + 1, session_log=SessionLog(status=SessionLog.START))
        self._writer.file_writer.add_event(restart)
        self._writer.flush()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def wait_for_a_later_second(folder: Path) -> None:
    """TensorBoard reads a folder's event files in the order of their names, which begin with
    the second they were opened in: a file opened in the same second as an earlier one could
    be read before it, so wait (under a second) until a new file sorts after every file there."""
    latest = -1
    for path in folder.glob("events.out.tfevents.*"):
        try:
            latest = max(latest, int(path.name.split(".")[3]))
        except (IndexError, ValueError):
            continue
    while int(time.time()) == latest:  # (a file from the future, a clock set back: no wait)
        time.sleep(0.02)
