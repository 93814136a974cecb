"""The ``gankit eval`` command: measure a run as ``gankit.evaluate`` does, and write eval.json,
eval.md and the run's report."""

from __future__ import annotations

import argparse

from gankit.commands.common import common, writing
from gankit.errors import GankitError

#: the most samples (or KID subsets) one evaluation takes
MAX_EVAL_SAMPLES = 1_000_000


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``gankit eval`` to ``sub``."""
    p = sub.add_parser(
        "eval", help="measure a run: FID, KID, precision/recall, modes",
        parents=[common("seed", "no_ema", "device", "no_progress")],
        description="Evaluate a run against real data and write eval.json and eval.md into its "
        "folder. Defaults: 10,000 generated vs 10,000 real images (the test split when there is "
        "one) in the data set's classifier features, or 2,500 samples in raw coordinates for "
        "2-D data.")
    p.add_argument("run", help="run folder")
    p.add_argument("-n", type=int, default=None, help="generated samples")
    p.add_argument("--real", type=int, default=None, help="real reference samples")
    p.add_argument("--extractor", action="append", metavar="NAME",
                   help="feature extractor: classifier, inception or raw (repeatable)")
    p.add_argument("--reference", choices=["test", "train"], default="test",
                   help="real split to compare with when the data set has one (default test)")
    p.add_argument("--mode-samples", type=int, default=None,
                   help="samples for mode counting (2,500 for 2-D, 26,000 for Stacked MNIST)")
    p.add_argument("--kid-subsets", type=int, default=100)
    p.add_argument("--metrics", metavar="LIST",
                   help="comma-separated metrics to compute, of: fid, kid, prdc (precision, "
                   "recall, density, coverage), classes, score, modes (default: every one that "
                   "applies to the data set)")
    p.set_defaults(func=run, interrupted="'{run}' is as it was: eval.json, eval.md and "
                   "report.html were not written.")


def run(args: argparse.Namespace) -> int:
    from gankit.api import evaluate
    from gankit.metrics.summary import eval_markdown, write_eval
    from gankit.report import write_report

    for flag, value, least in (("-n", args.n, 2), ("--real", args.real, 2),
                               ("--mode-samples", args.mode_samples, 0),
                               ("--kid-subsets", args.kid_subsets, 1)):
        if value is not None and not least <= value <= MAX_EVAL_SAMPLES:
            raise GankitError(f"{flag} must be from {least} to {MAX_EVAL_SAMPLES:,} "
                              f"(got {value}).")
    result = evaluate(args.run, args.device, write=False,
                      extractors=tuple(args.extractor) if args.extractor else None,
                      num_generated=args.n, num_real=args.real, reference=args.reference,
                      seed=args.seed, use_ema=not args.no_ema, mode_samples=args.mode_samples,
                      kid_subsets=args.kid_subsets, progress=not args.no_progress,
                      metrics=tuple(m.strip() for m in args.metrics.split(",")) if args.metrics
                      else None)
    with writing(args, "the evaluation had finished: eval.json, eval.md and report.html in "
                 "'{run}' were all written."):
        json_path, md_path = write_eval(args.run, result)
        write_report(args.run)
    print(eval_markdown(result))
    print(f"Wrote {json_path} and {md_path}")
    return 0
