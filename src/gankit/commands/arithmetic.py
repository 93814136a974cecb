"""The ``gankit latent-arithmetic`` command: move codes along an attribute's or a class's
direction in a run's latent space (logic in :func:`gankit.latent.latent_arithmetic`)."""

from __future__ import annotations

import argparse

from gankit.commands.common import at_least, class_index, common, writing
from gankit.errors import GankitError


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``gankit latent-arithmetic`` to ``sub``."""
    p = sub.add_parser(
        "latent-arithmetic", help="move codes along an attribute's or a class's direction",
        description="Find a direction in z for a measured image attribute (thickness, slant, "
        "ink) or a class, add it to codes with strengths from -a to +a, and write a grid (rows "
        "= codes, columns = strengths) with the attribute's mean and the share of samples "
        "keeping their class under each column, plus the numbers as JSON, into RUN/latent/.",
        parents=[common("seed", "no_ema", "device", "no_progress")])
    p.add_argument("run", help="run folder")
    p.add_argument("--attribute", required=True,
                   choices=["thickness", "slant", "ink", "class"])
    p.add_argument("--target", help="--attribute class: the class to move towards")
    p.add_argument("--source", help="--attribute class: the class to start from (default: "
                   "every other class)")
    p.add_argument("--strength", type=float, help="largest α (attributes: standard "
                   "deviations along the direction, default 3; class: 2 multiples of the class "
                   "direction, or 1 = the full class code on conditional runs)")
    p.add_argument("-n", type=int, default=10_000, help="samples to find the direction")
    p.add_argument("--method", choices=["regression", "quantile"], default="regression",
                   help="regression of the attribute on z, or top minus bottom quantile means")
    p.add_argument("--quantile", type=float, default=0.2)
    p.add_argument("--columns", type=int, default=9)
    p.add_argument("--rows", type=int, default=8, help="codes shown")
    p.add_argument("--bases", type=int, default=500, help="codes measured per column")
    p.add_argument("-o", "--output", help="output .png (the .json goes beside it)")
    p.set_defaults(func=run, interrupted="neither the picture nor the JSON was written (to -o "
                   "or the run's latent/ folder): '{run}' is as it was.")


def run(args: argparse.Namespace) -> int:
    from gankit.latent import latent_arithmetic
    from gankit.latent.output import output_stem, write_files
    from gankit.latent.render import require_images
    from gankit.run import load

    at_least(("-n", args.n, 20), ("--columns", args.columns, 2), ("--rows", args.rows, 1),
             ("--bases", args.bases, 1))
    if args.attribute != "class" and (args.target is not None or args.source is not None):
        raise GankitError("--target and --source only go with --attribute class.")
    loaded = load(args.run, args.device)
    require_images(loaded, "Latent arithmetic")
    names = loaded.spec.class_names
    target = class_index(names, args.target, "--target") if args.target is not None else None
    source = class_index(names, args.source, "--source") if args.source is not None else None
    name = f"arithmetic-{args.attribute}"
    if target is not None:
        name += f"-{names[target]}"
    stem = output_stem(loaded, name, args.output, allowed=(".png",))
    result = latent_arithmetic(loaded, args.attribute, target=target, source=source,
                               strength=args.strength, columns=args.columns, rows=args.rows,
                               bases=args.bases, n=args.n, method=args.method,
                               quantile=args.quantile, seed=args.seed, use_ema=not args.no_ema,
                               progress=not args.no_progress)
    files = result.files(stem)
    with writing(args, "the result had been measured and its picture and JSON were both "
                 "written."):
        paths = write_files(files)
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
