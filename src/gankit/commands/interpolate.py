"""The ``gankit interpolate`` command: images along paths in a run's latent space (logic in
:func:`gankit.latent.interpolate`)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from gankit.commands.common import at_least, class_index, common, writing
from gankit.errors import GankitError


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``gankit interpolate`` to ``sub``."""
    p = sub.add_parser(
        "interpolate", help="images along latent paths: random codes, classes, real images",
        description="Interpolate in a run's latent space, linearly (lerp) and spherically "
        "(slerp): between random codes, between two classes (conditional runs: same z, the "
        "class code moves) or between real images projected onto codes. Writes a PNG with one "
        "row per pair (and mode) and, with --gif, an animated GIF into RUN/latent/.",
        parents=[common("seed", "no_ema", "device", "no_progress")])
    p.add_argument("run", help="run folder")
    p.add_argument("-o", "--output", help="output .png (the .gif goes beside it); default "
                   "RUN/latent/interpolate-<mode>-<between>[-N].png")
    p.add_argument("--mode", choices=["linear", "spherical", "both"], default="both",
                   help="path shape (default both: a linear and a spherical row per pair)")
    p.add_argument("--between", choices=["random", "classes", "images"], default=None,
                   help="what to interpolate between (default random, or images when "
                   "--images/--image-files are given)")
    p.add_argument("--steps", type=int, default=10, help="images per path, ends included")
    p.add_argument("--rows", type=int, default=8, help="pairs (rows) for random codes and "
                   "classes, and for random data set images")
    p.add_argument("--classes", nargs=2, metavar="CLASS", help="start and end class "
                   "(number or name; default: row i goes from class i to i + 1)")
    p.add_argument("--label", nargs="+", metavar="CLASS", help="conditional runs: the class of "
                   "all rows/images, or one per row/image (default: every class in turn; for "
                   "image files the best-fitting class)")
    source = p.add_mutually_exclusive_group()
    source.add_argument("--images", nargs="+", type=int, metavar="IDX",
                        help="data set images by index, in pairs (start end [start end ...])")
    source.add_argument("--image-files", nargs="+", metavar="FILE",
                        help="image files, in pairs; converted to the run's size and channels")
    p.add_argument("--split", choices=["test", "train"], default="test",
                   help="data set split for --images when it has one (default test)")
    p.add_argument("--projection-steps", type=int, default=300,
                   help="Adam steps on z per image (default 300)")
    p.add_argument("--restarts", type=int, default=4, help="random starts per image")
    p.add_argument("--gif", action="store_true", help="also write an animated GIF")
    p.add_argument("--frame-ms", type=int, default=120, help="GIF time per frame")
    p.set_defaults(func=run, interrupted="no picture was written (to -o or the run's latent/ "
                   "folder): '{run}' is as it was.")


def run(args: argparse.Namespace) -> int:
    import torch

    from gankit.latent import dataset_images, file_images, interpolate
    from gankit.latent.images import random_dataset_indices
    from gankit.latent.output import output_stem, write_files
    from gankit.latent.render import require_images
    from gankit.run import load

    at_least(("--steps", args.steps, 2), ("--rows", args.rows, 1),
             ("--projection-steps", args.projection_steps, 1), ("--restarts", args.restarts, 1),
             ("--frame-ms", args.frame_ms, 10))
    given = args.images or args.image_files
    between = args.between or ("images" if given else "random")
    if given and between != "images":
        raise GankitError("--images and --image-files go with --between images.")
    if args.classes and between != "classes":
        raise GankitError("--classes goes with --between classes.")
    if given and len(given) % 2:
        raise GankitError(f"Images come in pairs (start and end of each row); got {len(given)}.")
    gif = args.gif or (args.output or "").lower().endswith(".gif")
    loaded = load(args.run, args.device)
    require_images(loaded, "Interpolation")
    names = loaded.spec.class_names
    labels = None
    if args.label:
        if not loaded.num_classes:
            raise GankitError(f"--label needs a class-conditional run, and {args.run!r} is "
                              "unconditional.")
        labels = torch.tensor([class_index(names, v, "--label") for v in args.label])
        labels = labels[0] if len(labels) == 1 else labels
    classes = [class_index(names, v, "--classes") for v in args.classes] if args.classes \
        else None
    images = None
    if between == "images":
        if args.image_files:
            images = file_images(loaded, args.image_files)
        else:
            idx = args.images or random_dataset_indices(loaded, 2 * args.rows, args.seed,
                                                        args.split)
            images = dataset_images(loaded, idx, args.split)
    stem = output_stem(loaded, f"interpolate-{args.mode}-{between}", args.output)
    result = interpolate(loaded, between, args.mode, args.steps, args.rows, args.seed, classes,
                         images, labels, use_ema=not args.no_ema,
                         projection_steps=args.projection_steps, restarts=args.restarts,
                         progress=not args.no_progress)
    files = result.files(stem, gif=gif, frame_ms=args.frame_ms)
    with writing(args, "the interpolation had finished and its pictures were all written."):
        paths = write_files(files)
    _describe(result, names, images)
    print("Wrote " + " and ".join(str(p) for p in paths))
    return 0


def _describe(result, names: Sequence[str], images) -> None:  # noqa: ANN001
    """Print what the rows show and, for real images, how well they were projected."""
    modes = " and ".join(result.modes)
    ends = ", real images at both ends" if result.ends is not None else ""
    print(f"{result.pairs} pair(s) × {len(result.modes)} mode(s) ({modes}), "
          f"{result.frames.shape[2]} steps per row{ends}.")
    if result.between == "classes" and result.classes is not None:
        pairs = sorted({(int(a), int(b)) for a, b in result.classes.tolist()})
        print("Classes: " + ", ".join(f"{names[a]} → {names[b]}" for a, b in pairs))
    proj = result.projection
    if proj is None:
        return
    how = ("encoder" if proj.method == "encoder" else
           f"Adam on z, {len(proj.history) - 1} steps, best of the random starts")
    print(f"Projection ({how}) of {len(proj.error)} images from {images.source}: mean squared "
          f"pixel error {proj.mean_error:.4f} (pixels in [0, 1]; started at "
          f"{float(proj.history[0]):.4f}).")
    for i, (name, err) in enumerate(zip(images.names, proj.error.tolist(), strict=True)):
        label = f", class {names[int(proj.labels[i])]}" if proj.labels is not None else ""
        print(f"  {name}: error {err:.4f}{label}")
