"""The ``gankit report`` command: rebuild a run folder's learning curves and report.html."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``gankit report`` to ``sub``."""
    p = sub.add_parser("report", help="rebuild a run folder's curves and report.html")
    p.add_argument("run", help="run folder")
    p.set_defaults(func=run, interrupted=(
        "each of curves.png, eval_curves.png and report.html in '{run}' is whole, the old "
        "one or the new one; 'gankit report {run}' rebuilds them all."))


def run(args: argparse.Namespace) -> int:
    from gankit.report import rebuild
    from gankit.training.rundir import read_run_dir

    read_run_dir(Path(args.run))  # a clear error when it is not a run folder
    print(f"Wrote {rebuild(args.run)}")
    return 0
