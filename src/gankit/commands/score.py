"""The ``gankit score`` command: anomaly scores of new images from a trained detector."""

from __future__ import annotations

import argparse
from pathlib import Path

from gankit.commands.common import common, writing


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``gankit score`` to ``sub``."""
    p = sub.add_parser(
        "score", help="anomaly scores of images from a detector run, with a threshold",
        parents=[common("device", "no_progress")],
        description="Score image files (or folders of them) with a trained anomaly detector "
        "(f-AnoGAN, GANomaly, or the VAE and discriminator baselines). The threshold is the "
        "score that the stated share (--fpr) of held-out normal images exceeds: the "
        "detector's validation split, or else the normal classes of the data's test split. "
        "Writes a CSV (file, score, threshold, anomalous) and, for detectors that reconstruct, "
        "a heat map per image (image | where it differs from its reconstruction) in the folder "
        "OUT_maps beside it.")
    p.add_argument("run", help="run folder of a detector")
    p.add_argument("images", nargs="+", help="image files or folders")
    p.add_argument("-o", "--out", type=Path, required=True, help="the CSV to write")
    p.add_argument("--fpr", type=float, default=0.05,
                   help="false-positive rate on held-out normal images that sets the "
                   "threshold (default 0.05)")
    p.add_argument("--no-maps", action="store_true", help="no residual heat maps")
    p.add_argument("--overwrite", action="store_true", help="replace an earlier CSV and maps")
    p.set_defaults(func=run, interrupted="'{out}' and its heat maps were not written (an "
                   "earlier one there is as it was).")


def maps_folder(csv_path: Path) -> Path:
    return csv_path.with_name(f"{csv_path.stem}_maps")


def run(args: argparse.Namespace) -> int:
    from gankit.anomaly.score import (
        heat_map,
        image_files,
        read_exact,
        scores_of,
        threshold,
        write_csv,
    )
    from gankit.errors import GankitError
    from gankit.fileio import atomic_write_bytes, staged_folder
    from gankit.recipes.capabilities import ScoresAnomalies
    from gankit.run import load

    out, maps = args.out, maps_folder(args.out)
    if out.suffix.lower() != ".csv":
        raise GankitError(f"-o {str(out)!r} must name a .csv file.")
    if not 0.0 < args.fpr < 1.0:
        raise GankitError(f"--fpr must be between 0 and 1 (got {args.fpr}).")
    if not args.overwrite and (out.exists() or maps.exists()):
        taken = out if out.exists() else maps
        raise GankitError(f"{str(taken)!r} already exists; choose another -o or pass "
                          "--overwrite.")
    files = image_files(args.images)
    loaded = load(args.run, args.device)
    detector = loaded.capability(ScoresAnomalies, "Scoring images")
    x = read_exact(files, loaded)
    cut = threshold(loaded, detector, args.fpr)
    scores = scores_of(detector, x)
    residuals = None if args.no_maps else detector.residual_maps(x)
    names = [str(f) for f in files]
    with writing(args, f"the scoring had finished and '{out}' was written."):
        if residuals is not None:
            with staged_folder(maps) as tmp:
                for i, f in enumerate(files):
                    heat_map(x[i], residuals[i], loaded.spec.normalize).save(
                        tmp / f"{i:05d}-{f.stem}.png")
        atomic_write_bytes(out, write_csv(out, names, scores, cut))
    flagged = int((scores > cut.value).sum())
    print(f"{flagged} of {len(files)} images are anomalous: score above {cut.value:.4g}, which "
          f"{cut.fpr:.0%} of {cut.num_normal} held-out normal images exceed ({cut.source}).")
    print(f"Wrote {out}" + (f" and {len(files)} heat maps in {maps}" if residuals is not None
                            else " (this detector reconstructs nothing: no heat maps)"))
    return 0
