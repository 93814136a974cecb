"""The ``gankit sample`` command: samples from a trained run (``gankit.load(RUN)
.save_samples(...)``) as a PNG grid or an .npz file."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from gankit.commands.common import common
from gankit.errors import GankitError
from gankit.recipes.capabilities import SamplesTables


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``gankit sample`` to ``sub``."""
    p = sub.add_parser(
        "sample", help="draw samples from a trained run",
        parents=[common("seed", "no_ema", "device", "no_progress", seed=None,
                        unseeded="different samples each time")])
    p.add_argument("run", help="run folder")
    p.add_argument("-n", type=int, default=64, help="number of samples (default 64)")
    p.add_argument("-o", "--output", required=True, help="output .png grid or .npz file; "
                   "for a table run a .csv, .tsv or .parquet file")
    p.add_argument("--where", action="append", default=[], metavar="COLUMN=VALUE",
                   help="table runs: rows with this value in a categorical or boolean column "
                   "(repeat for several)")
    p.add_argument("--label", help="conditional runs: the class to draw (name or number); "
                   "default a grid with one row per class")
    p.set_defaults(func=run, interrupted="'{output}' was not written (a file already there "
                   "is as it was).")


def run(args: argparse.Namespace) -> int:
    from gankit.pictures import class_rows
    from gankit.run import check_count, load

    check_count(args.n)  # before loading anything

    loaded = load(args.run, args.device)
    if isinstance(loaded.recipe, SamplesTables):
        path = loaded.save_table(args.output, args.n, parse_where(args.where), args.seed)
        shown = f" with {', '.join(args.where)}" if args.where else ""
        print(f"Wrote {args.n:,} rows{shown} from step {loaded.step} to {path}")
        return 0
    if args.where:
        raise GankitError("--where fixes columns of a table run, and this run generates "
                          f"{loaded.spec.kind}s.")
    names = loaded.spec.class_names
    label = class_number(names, args.label) if args.label is not None else None
    path = loaded.save_samples(args.output, args.n, args.seed, use_ema=not args.no_ema,
                               labels=label, progress=not args.no_progress)
    what = f" of class {names[label]!r}" if label is not None else ""
    count = args.n
    if label is None and loaded.num_classes and path.suffix.lower() == ".png":
        count = len(class_rows(args.n, loaded.num_classes)[0])
        what = f" ({count // loaded.num_classes} per class)"
    print(f"Wrote {count:,} samples{what} from step {loaded.step} to {path}")
    return 0


def parse_where(items: Sequence[str]) -> dict[str, str]:
    """``COLUMN=VALUE`` items as a dict (one sentence for an item without ``=``)."""
    where: dict[str, str] = {}
    for item in items:
        column, sep, value = item.partition("=")
        if not sep or not column.strip():
            raise GankitError(f"--where {item!r} must be COLUMN=VALUE, e.g. --where "
                              "workclass=Private.")
        where[column.strip()] = value.strip()
    return where


def class_number(class_names: Sequence[str], label: str) -> int:
    """A class given by name or number, as its number."""
    if label in class_names:
        return list(class_names).index(label)
    if label.isdigit() and int(label) < len(class_names):
        return int(label)
    names = ", ".join(class_names) or "none: the data set is unlabelled"
    raise GankitError(f"Unknown class {label!r}; the run's classes are: {names}.")
