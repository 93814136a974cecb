"""The ``gankit translate`` command: image files or folders through a translation run
(pix2pix, CycleGAN) into a new folder of PNGs at the inputs' sizes (:mod:`gankit.translation
.images`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from gankit.commands.common import common


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``gankit translate`` to ``sub``."""
    p = sub.add_parser("translate", help="translate images with a pix2pix or CycleGAN run",
                       parents=[common("device", "no_progress")])
    p.add_argument("run", help="run folder")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image files or folders of them")
    p.add_argument("-o", "--output", required=True,
                   help="new folder for the translated PNGs (never written into if it exists "
                   "and is not empty)")
    p.add_argument("--direction", choices=["AtoB", "BtoA"], default="AtoB",
                   help="AtoB (default) or, for CycleGAN, BtoA")
    p.set_defaults(func=run, interrupted="'{output}' was not written.")


def run(args: argparse.Namespace) -> int:
    from gankit.recipes.capabilities import Translates
    from gankit.run import load
    from gankit.translation.images import collect_inputs, translate_files

    collect_inputs(args.inputs)  # bad inputs are refused before the run is loaded
    loaded = load(args.run, args.device)
    recipe = loaded.capability(Translates, "gankit translate")
    count = translate_files(recipe, loaded.spec.normalize, args.inputs, Path(args.output),
                            args.direction, progress=not args.no_progress)
    print(f"Translated {count:,} image{'s' * (count != 1)} {args.direction} with step "
          f"{loaded.step} into {args.output}")
    return 0
