"""The ``gankit export`` command: a labelled synthetic data set from a trained run."""

from __future__ import annotations

import argparse

from gankit.commands.common import common


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``gankit export`` to ``sub``."""
    p = sub.add_parser(
        "export", help="write a labelled synthetic data set (class folders of PNGs or .npz)",
        parents=[common("seed", "no_ema", "device", "no_progress")],
        description="Generate N labelled samples per class from a run. Conditional runs draw "
        "each class; unconditional runs are labelled by the data set's evaluation classifier "
        "(said so in the output and in manifest.json). PNG: DIR/<class>/<index>.png, readable "
        "with '--data folder --data-dir DIR'. NPZ: DIR/synthetic.npz with x (float32, the "
        "data's range), labels and class_names. Nothing is left behind if it fails.")
    p.add_argument("run", help="run folder")
    p.add_argument("--per-class", type=int, required=True, metavar="N",
                   help="samples per class")
    p.add_argument("-o", "--output", required=True, metavar="DIR", help="output folder")
    p.add_argument("--format", choices=["png", "npz"], default="png")
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
    folder, manifest = export(loaded, args.output, args.per_class, args.format, args.seed,
                              use_ema=not args.no_ema, overwrite=args.overwrite,
                              min_confidence=args.min_confidence,
                              progress=not args.no_progress, device=args.device)
    print(f"Wrote {describe(manifest)}")
    layout = "class folders of PNG files" if args.format == "png" else "synthetic.npz"
    print(f"Folder: {folder} ({layout}); manifest: {folder / MANIFEST}")
    return 0
