"""The ``gankit anomaly-bench`` command: the one-class anomaly-detection benchmark."""

from __future__ import annotations

import argparse
from pathlib import Path

from gankit.commands.common import common, writing

RESULT = "anomaly-bench.json"


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``gankit anomaly-bench`` to ``sub``."""
    from gankit.anomaly.bench import METHODS

    p = sub.add_parser(
        "anomaly-bench", help="one-class anomaly detection: AUROC per class and method",
        parents=[common("device", "no_progress")],
        description="The one-class protocol of the literature: for each normal class, train "
        "each detector on that class of the training split only (a run folder under "
        "OUT/runs/, from the method's preset), score the whole test split (that class normal, "
        "every other class anomalous) and report the AUROC per class and method, mean ± std "
        "over seeds, with ROC curves and each class's most and least anomalous test images. "
        "Finished runs are reused, so an interrupted benchmark continues where it stopped.")
    p.add_argument("--data", default="mnist", help="data set (default mnist)")
    p.add_argument("--data-dir", help="where the data set's files are")
    p.add_argument("--normal", type=int, nargs="+", default=list(range(10)), metavar="K",
                   help="the normal classes, one benchmark each (default 0 to 9)")
    p.add_argument("--seeds", type=int, default=3, help="seeds 0..S-1 per class (default 3)")
    p.add_argument("--methods", nargs="+", default=list(METHODS), metavar="M",
                   help=f"detectors, of: {', '.join(METHODS)} (default: all)")
    p.add_argument("--steps", type=int, help="training steps of every run (default: each "
                   "method's preset)")
    p.add_argument("-o", "--out", type=Path, default=Path("anomaly-bench"),
                   help="output folder (default ./anomaly-bench)")
    p.set_defaults(func=run, interrupted=(
        "the runs that had finished are kept under '{out}/runs' and are reused when the same "
        "command is run again; no result table was written."))


def run(args: argparse.Namespace) -> int:
    from gankit.anomaly.bench import BenchOptions, markdown, run_bench
    from gankit.anomaly.pictures import extremes, roc_curves
    from gankit.commands.common import at_least
    from gankit.synthetic.fewshot import write_results

    at_least(("--seeds", args.seeds, 1), ("--steps", args.steps, 1))
    opts = BenchOptions(args.data, args.data_dir, tuple(args.normal), args.seeds,
                        tuple(args.methods), args.steps, args.device, not args.no_progress)
    result, outcomes, test = run_bench(opts, args.out)
    table = markdown(result)
    names = test.class_names or []
    with writing(args, f"the benchmark had finished and its results in '{args.out}' were all "
                 "written."):
        roc_curves(outcomes, test.labels, names, args.out / "roc.png")
        for k in opts.normal:  # the best method's first seed
            mine = [o for o in outcomes if o.normal == k and o.seed == 0]
            best = max(mine, key=lambda o: o.auroc)
            extremes(best, test, args.out / f"extremes-class-{k}.png")
        json_path, md_path = write_results(result, table, args.out / RESULT)
    print(table)
    print(f"Wrote {json_path}, {md_path}, roc.png and extremes-class-K.png in {args.out}")
    return 0
