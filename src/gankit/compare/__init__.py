"""Runs side by side: their final sample grids and evaluation scores (``gankit compare``).

Each run folder contributes its ``grid_final.png`` (``scatter_final.png`` for 2-D points) and its
``eval.json`` as written by ``gankit eval``; :func:`compare_runs` writes into one new folder

- ``compare.html``: self-contained (every picture embedded), the grids side by side, the score
  table, the class histograms and each run's evaluation protocol;
- ``compare.md``: the same as Markdown, linking to the pictures copied beside it
  (``grids/``, ``side_by_side.png``, ``class_histogram.png``);
- ``compare.json``: the scores as numbers.

Scores are only comparable when measured the same way: runs evaluated with different protocols
(sample counts, reference data, extractor, KID or k-NN settings) are compared with a warning.
"""

from __future__ import annotations

import shutil
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gankit.compare.documents import (
    CLASS_HISTOGRAM,
    COMPARE_HTML,
    COMPARE_JSON,
    COMPARE_MD,
    GRIDS,
    SIDE_BY_SIDE,
    protocol_warning,
    write_documents,
)
from gankit.compare.runs import (
    Entry,
    load_entries,
    missing_eval_options,
    protocol_differences,
    read_eval,
    score_rows,
)
from gankit.errors import GankitError
from gankit.fileio import check_output_folder, replace_folder, unused_path

__all__ = ["CLASS_HISTOGRAM", "COMPARE_HTML", "COMPARE_JSON", "COMPARE_MD", "GRIDS",
           "SIDE_BY_SIDE", "Comparison", "Entry", "compare_runs", "score_rows"]


@dataclass
class Comparison:
    """What :func:`compare_runs` wrote, and the protocol differences it warned about."""

    out: Path
    entries: list[Entry]
    differences: list[str] = field(default_factory=list)
    evaluated: list[str] = field(default_factory=list)


def default_out() -> Path:
    """``compare-<YYYYmmdd-HHMMSS>`` in the current folder (with a suffix if it exists)."""
    return unused_path(Path(f"compare-{time.strftime('%Y%m%d-%H%M%S')}"))


def check_out(out: Path, overwrite: bool) -> None:
    check_output_folder(out, overwrite, "gankit comparison",
                        lambda p: (p / COMPARE_JSON).is_file())


def compare_runs(runs: list[str | Path], out: str | Path | None = None,
                 names: list[str] | None = None, overwrite: bool = False,
                 eval_missing: bool = False, eval_options: dict[str, Any] | None = None,
                 device: str = "cpu", progress: bool = True) -> Comparison:
    """Compare run folders into ``out`` (default ``compare-<time>``); returns what was written.

    Every run needs an ``eval.json`` (``gankit eval``); with ``eval_missing`` runs without one
    are evaluated first (with ``eval_options``, :class:`EvalOptions` fields, over the protocol of
    the first run that has one) and their eval.json is written into their folder. Nothing is
    written when a run cannot be compared; the output folder appears complete or not at all.
    """
    entries = load_entries(runs, names)
    out = Path(out) if out is not None else default_out()
    check_out(out, overwrite)
    missing = [e for e in entries if e.result is None]
    if missing and not eval_missing:
        which = ", ".join(repr(str(e.path)) for e in missing)
        first = missing[0].path
        raise GankitError(f"Run{'s' if len(missing) > 1 else ''} {which} ha"
                          f"{'ve' if len(missing) > 1 else 's'} no eval.json; run 'gankit eval "
                          f"{first}' first, or pass --eval-missing to evaluate it now.")
    evaluated = []
    if missing:
        from gankit.api import evaluate
        from gankit.report import write_report

        opts = {**missing_eval_options(entries, eval_options or {}), "progress": progress}
        for e in missing:
            evaluate(e.path, device=device, **opts)
            write_report(e.path)
            e.result = read_eval(e.path)
            evaluated.append(e.name)
    differences = protocol_differences(entries)
    if differences:
        warnings.warn(protocol_warning(differences), stacklevel=2)
    _write_folder(out, overwrite, lambda folder: write_documents(entries, differences, folder))
    return Comparison(out, entries, differences, evaluated)


def _write_folder(out: Path, overwrite: bool, fill: Callable[[Path], None]) -> None:
    """Fill a temporary sibling folder, then move it to ``out`` (replacing it if allowed)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.tmp-{time.time_ns()}"
    tmp.mkdir()
    try:
        fill(tmp)
        check_out(out, overwrite)
        replace_folder(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
