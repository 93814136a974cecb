"""The ``gankit report`` command: rebuild a run folder's learning curves and report.html."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``gankit report`` to ``sub``."""
    p = sub.add_parser("report", help="rebuild a run folder's curves and report.html")
    p.add_argument("run", help="run folder")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from gankit.report import rebuild
    from gankit.training.rundir import read_run_dir

    read_run_dir(Path(args.run))  # a clear error when it is not a run folder
    print(f"Wrote {rebuild(args.run)}")
    return 0
