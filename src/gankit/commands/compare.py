"""The ``gankit compare`` command (``gankit compare RUN_A RUN_B ...``): final grids side by side
and a table of their scores (logic in :mod:`gankit.compare`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from gankit.commands.common import at_least, common


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``gankit compare`` to ``sub``."""
    p = sub.add_parser(
        "compare", help="put runs side by side: sample grids and evaluation scores",
        parents=[common("device", "no_progress")],
        description="Put two or more runs side by side: their 400-sample grids and a table of "
        "their evaluation scores (FID, precision, recall, coverage, class histogram, ...) from "
        "each run's eval.json (made by 'gankit eval'). Writes compare.html (self-contained), "
        "compare.md and compare.json into a new folder.")
    p.add_argument("runs", nargs="+", metavar="RUN", help="run folders (two or more)")
    p.add_argument("-o", "--output", type=Path, help="output folder (default compare-<time>)")
    p.add_argument("--names", help="comma-separated labels for the runs (default: folder names)")
    p.add_argument("--overwrite", action="store_true", help="replace a non-empty output folder")
    p.add_argument("--eval-missing", "--eval", dest="eval_missing", action="store_true",
                   help="evaluate runs that have no eval.json first (on --device), with the "
                   "protocol of the first run that has one (or gankit eval's defaults), and save "
                   "it in the run")
    p.add_argument("-n", type=int, default=None, help="with --eval-missing: generated samples")
    p.add_argument("--real", type=int, default=None,
                   help="with --eval-missing: real reference samples")
    p.add_argument("--extractor", action="append", metavar="NAME",
                   help="with --eval-missing: feature extractor (repeatable)")
    p.set_defaults(func=run, interrupted=(
        "no comparison folder was written (an earlier one at -o is as it was); with "
        "--eval-missing, each run whose evaluation had finished keeps its new eval.json."))


def run(args: argparse.Namespace) -> int:
    from gankit.compare import COMPARE_HTML, COMPARE_MD, compare_runs, score_rows

    at_least(("-n", args.n, 2), ("--real", args.real, 2))
    names = [n.strip() for n in args.names.split(",")] if args.names else None
    options = {"num_generated": args.n, "num_real": args.real,
               "extractors": tuple(args.extractor) if args.extractor else None}
    result = compare_runs(args.runs, args.output, names, args.overwrite, args.eval_missing,
                          options, args.device, not args.no_progress)
    if result.evaluated:
        print(f"Evaluated {', '.join(result.evaluated)} (eval.json saved in the run folder).")
    header, rows = score_rows(result.entries)
    print("| " + " | ".join(header) + " |")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print(f"Wrote {result.out / COMPARE_HTML} and {result.out / COMPARE_MD}")
    return 0
