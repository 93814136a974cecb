"""The ``gankit augment-bench`` command: does the run's synthetic data help a classifier?"""

from __future__ import annotations

import argparse
from pathlib import Path

from gankit.commands.common import common, show_results

DEFAULT_NAME = "augment_bench.json"


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``gankit augment-bench`` to ``sub``."""
    p = sub.add_parser(
        "augment-bench", help="measure whether synthetic data helps a small classifier",
        parents=[common("no_ema", "device", "no_progress")],
        description="Train one fixed small CNN on (a) K real images per class, (b) the same "
        "plus synthetic images, (c) synthetic images only (classification accuracy score), for "
        "each size K and seed, and report the test accuracy (mean ± std over seeds) with an "
        "honest 'synthetic helps?' verdict. Writes JSON and a Markdown table (default "
        f"RUN/{DEFAULT_NAME} and .md).")
    p.add_argument("run", help="run folder")
    p.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000], metavar="K",
                   help="real labelled images per class (default 10 100 1000)")
    p.add_argument("--seeds", type=int, default=3, help="seeds 0..S-1 (default 3)")
    p.add_argument("--synthetic-per-class", type=int, default=1000, metavar="N")
    p.add_argument("--steps", type=int, default=1000,
                   help="training steps of every arm (the fixed budget; default 1000)")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=3e-3, help="Adam learning rate (default 3e-3)")
    p.add_argument("--min-confidence", type=float, default=0.0, metavar="P",
                   help="unconditional runs: keep synthetic samples labelled with probability "
                   "≥ P")
    p.add_argument("--robust-eps", type=float, default=0.0, metavar="EPS",
                   help="also measure each classifier's accuracy under PGD-20 at this L∞ ε "
                   "(pixels of [0, 1]) on 1,000 test images: does synthetic data change "
                   "robustness? (default 0: off)")
    p.add_argument("--json", type=Path, metavar="OUT", help="JSON output (Markdown beside it)")
    p.set_defaults(func=run, interrupted=(
        f"no results were written: the JSON and Markdown tables (--json, default RUN/"
        f"{DEFAULT_NAME}) are as they were."))


def run(args: argparse.Namespace) -> int:
    from gankit.run import load
    from gankit.synthetic.augment import AugmentOptions, augment_bench, augment_markdown
    from gankit.synthetic.fewshot import check_json_name

    check_json_name(args.json)  # before the long work
    loaded = load(args.run, args.device)
    opts = AugmentOptions(tuple(args.sizes), args.seeds, args.synthetic_per_class, args.steps,
                          args.batch_size, args.lr, not args.no_ema, args.min_confidence,
                          args.robust_eps)
    result = augment_bench(loaded, opts, args.device, progress=not args.no_progress)
    return show_results(args, result, augment_markdown(result),
                        args.json or loaded.path / DEFAULT_NAME)
