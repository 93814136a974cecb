"""The ``gankit interpolate`` and ``gankit latent-arithmetic`` commands (logic in
:mod:`gankit.latent`)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from gankit.errors import GankitError


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``interpolate`` and ``latent-arithmetic`` parsers to ``sub``."""
    p = sub.add_parser(
        "interpolate", help="images along latent paths: random codes, classes, real images",
        description="Interpolate in a run's latent space, linearly (lerp) and spherically "
        "(slerp): between random codes, between two classes (conditional runs: same z, the "
        "class code moves) or between real images projected onto codes. Writes a PNG with one "
        "row per pair (and mode) and, with --gif, an animated GIF into RUN/latent/.")
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
    p.add_argument("--seed", type=int, default=0)
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
    p.add_argument("--no-ema", action="store_true", help="use the raw generator weights")
    p.add_argument("--device", default="cpu")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=cmd_interpolate)

    a = sub.add_parser(
        "latent-arithmetic", help="move codes along an attribute's or a class's direction",
        description="Find a direction in z for a measured image attribute (thickness, slant, "
        "ink) or a class, add it to codes with strengths from -a to +a, and write a grid (rows "
        "= codes, columns = strengths) with the attribute's mean and the share of samples "
        "keeping their class under each column, plus the numbers as JSON, into RUN/latent/.")
    a.add_argument("run", help="run folder")
    a.add_argument("--attribute", required=True,
                   choices=["thickness", "slant", "ink", "class"])
    a.add_argument("--target", help="--attribute class: the class to move towards")
    a.add_argument("--source", help="--attribute class: the class to start from (default: "
                   "every other class)")
    a.add_argument("--strength", type=float, help="largest α (attributes: standard "
                   "deviations along the direction, default 3; class: 2 multiples of the class "
                   "direction, or 1 = the full class code on conditional runs)")
    a.add_argument("-n", type=int, default=10_000, help="samples to find the direction")
    a.add_argument("--method", choices=["regression", "quantile"], default="regression",
                   help="regression of the attribute on z, or top minus bottom quantile means")
    a.add_argument("--quantile", type=float, default=0.2)
    a.add_argument("--columns", type=int, default=9)
    a.add_argument("--rows", type=int, default=8, help="codes shown")
    a.add_argument("--bases", type=int, default=500, help="codes measured per column")
    a.add_argument("--seed", type=int, default=0)
    a.add_argument("-o", "--output", help="output .png (the .json goes beside it)")
    a.add_argument("--no-ema", action="store_true", help="use the raw generator weights")
    a.add_argument("--device", default="cpu")
    a.add_argument("--no-progress", action="store_true")
    a.set_defaults(func=cmd_arithmetic)


def class_index(names: Sequence[str], value: str, flag: str) -> int:
    """A class given by number or name → its index."""
    if value in names:
        return list(names).index(value)
    try:
        index = int(value)
    except ValueError:
        index = -1
    if not 0 <= index < len(names):
        known = ", ".join(names) if names else "none: the run has no classes"
        raise GankitError(f"{flag} {value!r} is not a class of this run (classes: {known}).")
    return index


def _at_least(value: int, least: int, flag: str) -> None:
    if value < least:
        raise GankitError(f"{flag} must be at least {least} (got {value}).")


def cmd_interpolate(args: argparse.Namespace) -> int:
    import torch

    from gankit.latent import dataset_images, file_images, interpolate
    from gankit.latent.images import random_dataset_indices
    from gankit.latent.output import output_stem
    from gankit.latent.render import require_images
    from gankit.run import load

    for flag, value, least in (("--steps", args.steps, 2), ("--rows", args.rows, 1),
                               ("--projection-steps", args.projection_steps, 1),
                               ("--restarts", args.restarts, 1), ("--frame-ms", args.frame_ms, 10)):
        _at_least(value, least, flag)
    given = args.images or args.image_files
    between = args.between or ("images" if given else "random")
    if given and between != "images":
        raise GankitError("--images and --image-files go with --between images.")
    if args.classes and between != "classes":
        raise GankitError("--classes goes with --between classes.")
    if given and len(given) % 2:
        raise GankitError(f"Images come in pairs (start and end of each row); got {len(given)}.")
    gif = args.gif or (args.output or "").lower().endswith(".gif")
    run = load(args.run, args.device)
    require_images(run, "Interpolation")
    names = run.spec.class_names
    labels = None
    if args.label:
        if not run.num_classes:
            raise GankitError(f"--label needs a class-conditional run, and {args.run!r} is "
                              "unconditional.")
        labels = torch.tensor([class_index(names, v, "--label") for v in args.label])
        labels = labels[0] if len(labels) == 1 else labels
    classes = [class_index(names, v, "--classes") for v in args.classes] if args.classes \
        else None
    images = None
    if between == "images":
        if args.image_files:
            images = file_images(run, args.image_files)
        else:
            idx = args.images or random_dataset_indices(run, 2 * args.rows, args.seed, args.split)
            images = dataset_images(run, idx, args.split)
    stem = output_stem(run, f"interpolate-{args.mode}-{between}", args.output)
    result = interpolate(run, between, args.mode, args.steps, args.rows, args.seed, classes,
                         images, labels, use_ema=not args.no_ema,
                         projection_steps=args.projection_steps, restarts=args.restarts,
                         progress=not args.no_progress)
    paths = result.save(stem, gif=gif, frame_ms=args.frame_ms)
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


def cmd_arithmetic(args: argparse.Namespace) -> int:
    from gankit.latent import latent_arithmetic
    from gankit.latent.output import output_stem
    from gankit.latent.render import require_images
    from gankit.run import load

    for flag, value, least in (("-n", args.n, 20), ("--columns", args.columns, 2),
                               ("--rows", args.rows, 1), ("--bases", args.bases, 1)):
        _at_least(value, least, flag)
    if args.attribute != "class" and (args.target is not None or args.source is not None):
        raise GankitError("--target and --source only go with --attribute class.")
    run = load(args.run, args.device)
    require_images(run, "Latent arithmetic")
    names = run.spec.class_names
    target = class_index(names, args.target, "--target") if args.target is not None else None
    source = class_index(names, args.source, "--source") if args.source is not None else None
    name = f"arithmetic-{args.attribute}"
    if target is not None:
        name += f"-{names[target]}"
    stem = output_stem(run, name, args.output, allowed=(".png",))
    result = latent_arithmetic(run, args.attribute, target=target, source=source,
                               strength=args.strength, columns=args.columns, rows=args.rows,
                               bases=args.bases, n=args.n, method=args.method,
                               quantile=args.quantile, seed=args.seed, use_ema=not args.no_ema,
                               progress=not args.no_progress)
    paths = result.save(stem)
    print(result.info.get("title", ""))
    value = "% target" if args.attribute == "class" else f"mean {args.attribute}"
    header = f"{'alpha':>7}  {value:>15}"
    if result.class_agreement is not None:
        header += "  class kept"
    print(header)
    for i, alpha in enumerate(result.alphas.tolist()):
        v = result.values[i]
        line = f"{alpha:>+7.2f}  " + (f"{v:>15.1%}" if args.attribute == "class" else
                                      f"{v:>15.4f}")
        if result.class_agreement is not None:
            line += f"  {result.class_agreement[i]:>10.1%}"
        print(line)
    fmt = "{:.1%}".format if args.attribute == "class" else "{:.4f}".format
    alphas = [float(a) for a in result.alphas]
    after = " and ".join(f"{fmt(result.values[i])} (alpha {alphas[i]:+.2f})"
                         for i in result.end_columns)
    print(f"Before (alpha {alphas[result.reference]:+.2f}): {fmt(result.before)}; after: {after}.")
    print("Wrote " + " and ".join(str(p) for p in paths))
    return 0
