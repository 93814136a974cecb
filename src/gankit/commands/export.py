"""The ``gankit export`` command: a labelled synthetic data set from a trained run."""

from __future__ import annotations

import argparse
from typing import Any

from gankit.commands.common import common
from gankit.errors import GankitError
from gankit.recipes.capabilities import SamplesTables


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``gankit export`` to ``sub``."""
    p = sub.add_parser(
        "export", help="write a synthetic data set (PNG class folders, .npz, or table rows)",
        parents=[common("seed", "no_ema", "device", "no_progress")],
        description="Generate N labelled samples per class from a run. Conditional runs draw "
        "each class; unconditional runs are labelled by the data set's evaluation classifier "
        "(said so in the output and in manifest.json). PNG: DIR/<class>/<index>.png, readable "
        "with '--data folder --data-dir DIR'. NPZ: DIR/synthetic.npz with x (float32, the "
        "data's range), labels and class_names. Table runs: DIR/synthetic.csv (or .parquet) "
        "of --rows rows, optionally --where COLUMN=VALUE. Nothing is left behind if it fails.")
    p.add_argument("run", help="run folder")
    p.add_argument("--per-class", type=int, metavar="N", help="samples per class (image runs)")
    p.add_argument("--rows", type=int, metavar="N", help="table runs: rows to generate")
    p.add_argument("--where", action="append", default=[], metavar="COLUMN=VALUE",
                   help="table runs: rows with this value in a categorical or boolean column")
    p.add_argument("-o", "--output", required=True, metavar="DIR", help="output folder")
    p.add_argument("--format", choices=["png", "npz", "csv", "parquet"], default=None,
                   help="png (default) or npz for image runs; csv (default) or parquet for "
                   "table runs")
    p.add_argument("--min-confidence", type=float, default=0.0, metavar="P",
                   help="unconditional runs: keep only samples the classifier labels with "
                   "probability ≥ P (default 0: keep all)")
    p.add_argument("--overwrite", action="store_true", help="replace a non-empty output folder")
    p.set_defaults(func=run, interrupted="no data set was written: '{output}' is as it was "
                   "(an earlier export there is intact).")


def run(args: argparse.Namespace) -> int:
    from gankit.run import load
    from gankit.synthetic.export import MANIFEST, describe, export

    loaded = load(args.run, args.device)
    if isinstance(loaded.recipe, SamplesTables):
        return _export_table(args, loaded)
    if args.per_class is None:
        raise GankitError("--per-class N is needed: how many samples of each class to export.")
    args.format = args.format or "png"
    if args.format not in ("png", "npz"):
        raise GankitError(f"An image run exports as png or npz, not {args.format}.")
    folder, manifest = export(loaded, args.output, args.per_class, args.format, args.seed,
                              use_ema=not args.no_ema, overwrite=args.overwrite,
                              min_confidence=args.min_confidence,
                              progress=not args.no_progress, device=args.device)
    print(f"Wrote {describe(manifest)}")
    layout = "class folders of PNG files" if args.format == "png" else "synthetic.npz"
    print(f"Folder: {folder} ({layout}); manifest: {folder / MANIFEST}")
    return 0


def _export_table(args: argparse.Namespace, loaded: Any) -> int:
    from gankit.commands.sample import parse_where
    from gankit.synthetic.table_export import export_table

    if args.rows is None or args.rows < 1:
        raise GankitError("--rows N (at least 1) is needed: how many rows to export.")
    folder, manifest = export_table(loaded, args.output, args.rows, args.format or "csv",
                                    0 if args.seed is None else args.seed,
                                    parse_where(args.where), args.overwrite)
    print(f"Wrote {manifest['rows']:,} rows from step {loaded.step} to "
          f"{folder / manifest['file']}; manifest: {folder / 'manifest.json'}")
    return 0
