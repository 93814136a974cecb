"""The ``gankit robustness`` command: robust accuracy of a classifier against ε, with its
protocol, per class, example images and the sanity checks that flag a wrong or masked result."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from gankit.commands.common import common
from gankit.errors import GankitError


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``gankit robustness`` to ``sub``."""
    p = sub.add_parser(
        "robustness", help="attack a classifier: robust accuracy against ε, with sanity checks",
        parents=[common("seed", "device", "no_progress")],
        description="Attack a classifier on a data set's test images and write "
        "robustness.json, robustness.md, robustness.png and examples.png. MODEL is a run folder "
        "of the classifier recipe, a TorchScript file taking NCHW images in [0, 1], or "
        "eval:<data> for gankit's evaluation classifier of that data set. ε is in pixels of "
        "[0, 1] images; the model always runs in eval mode.")
    p.add_argument("model", metavar="MODEL", help="run folder, TorchScript file or eval:<data>")
    p.add_argument("--data", default="mnist", help="labelled image data set (default mnist)")
    p.add_argument("--data-dir", help="folder holding the data (as for gankit train)")
    p.add_argument("--eps", type=float, nargs="+", default=[0.0, 0.05, 0.1, 0.2, 0.3])
    p.add_argument("--attack", default="pgd", help="fgsm, pgd, apgd-ce or square (default pgd)")
    p.add_argument("--norm", default="linf", choices=["linf", "l2"])
    p.add_argument("--steps", type=int, help="attack steps (pgd 40, apgd-ce 100 by default)")
    p.add_argument("--step-size", type=float, help="pgd step (default 2.5 ε / steps)")
    p.add_argument("--restarts", type=int, default=1)
    p.add_argument("--queries", type=int, default=1000, help="Square attack queries")
    p.add_argument("-n", type=int, help="test images (default all; 2,000 with --generated)")
    p.add_argument("--generated", metavar="RUN", help="attack images a class-conditional run "
                   "generates (every class equally often, labelled with the requested class) "
                   "instead of the data set's test images")
    p.add_argument("--batch-size", type=int, default=500)
    p.add_argument("--model-range", choices=["unit", "symmetric"], default="unit",
                   help="the pixel range the model expects (attacks always work in [0, 1])")
    p.add_argument("--no-checks", action="store_true", help="skip the sanity checks")
    p.add_argument("--check-samples", type=int, default=1000)
    p.add_argument("--defense-gan", metavar="RUN", help="also evaluate Defense-GAN with this "
                   "run's generator: under the plain PGD attack and under BPDA, side by side")
    p.add_argument("--defense-samples", type=int, default=500,
                   help="test images for Defense-GAN (default 500: it projects every image)")
    p.add_argument("--defense-eps", type=float, default=None,
                   help="ε of the Defense-GAN attacks (default: the largest --eps)")
    p.add_argument("-o", "--output", type=Path, help="output folder (default: RUN/robustness/"
                   "<attack>-<time> for a run folder, robustness-<time> otherwise)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an earlier robustness result in the output folder")
    p.set_defaults(func=run, interrupted="no result folder was written (an earlier result at -o "
                   "is as it was).")


def run(args: argparse.Namespace) -> int:
    from gankit.commands.common import at_least
    from gankit.fileio import unused_path
    from gankit.robust import output
    from gankit.robust.attacks import ATTACKS
    from gankit.robust.evaluate import RobustnessOptions, check_model, evaluation_images, robustness
    from gankit.robust.models import Normalised, load_classifier
    from gankit.training.trainer import resolve_device

    ATTACKS.get(args.attack)  # an unknown attack fails before any work
    at_least(("-n", args.n, 1), ("--restarts", args.restarts, 1), ("--steps", args.steps, 1),
             ("--queries", args.queries, 1), ("--batch-size", args.batch_size, 1),
             ("--check-samples", args.check_samples, 1))
    bad = [e for e in args.eps if not 0.0 <= e <= 1.0]
    if bad:
        raise GankitError(f"--eps {bad[0]:g} is outside the data range: ε is in pixels of "
                          "[0, 1] images, from 0 to 1.")
    device = resolve_device(args.device)
    model = load_classifier(args.model, device, args.data_dir)
    if args.model_range != "unit":
        model = Normalised(model, args.model_range)
    if args.generated:
        x, y, names = generated_images(args.generated, args.n or 2000, args.seed, args.device,
                                       not args.no_progress)
    else:
        x, y, names = evaluation_images(args.data, args.data_dir, args.n)
    x, y = x.to(device), y.to(device)
    check_model(model, x, len(names), args.model)
    opts = RobustnessOptions(eps=tuple(sorted(set(args.eps))), attack=args.attack,
                             norm=args.norm, steps=args.steps, step_size=args.step_size,
                             restarts=args.restarts, batch_size=args.batch_size, seed=args.seed,
                             checks=not args.no_checks, check_samples=args.check_samples,
                             square_queries=args.queries, progress=not args.no_progress,
                             extra={"model": args.model,
                                    "data": f"samples of {args.generated}" if args.generated
                                    else f"{args.data} test split",
                                    "model_range": args.model_range})
    out = args.output
    if out is None:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        base = Path(args.model) / "robustness" / f"{args.attack}-{stamp}" \
            if Path(args.model).is_dir() else Path(f"robustness-{stamp}")
        out = unused_path(base)
    result = robustness(model, x, y, names, opts)
    if args.defense_gan:
        from gankit.robust.defense import defense_gan_robustness
        from gankit.run import load

        at_least(("--defense-samples", args.defense_samples, 1))
        eps = args.defense_eps if args.defense_eps is not None else max(opts.eps)
        k = args.defense_samples
        result["defense_gan"] = defense_gan_robustness(
            model, load(args.defense_gan, args.device), x[:k], y[:k], eps,
            steps=args.steps or 20, seed=args.seed, progress=not args.no_progress)
    folder = output.write(result, x.cpu(), out, names, args.overwrite)
    print(output.markdown(result, names))
    failed = [c for c in result.get("checks", []) if not c["passed"]]
    for check in failed:
        print(f"gankit: warning: sanity check failed: {check['check']} — {check['detail']}")
    print(f"Wrote {folder}")
    return 0


def generated_images(run_dir: str, n: int, seed: int, device: str,  # noqa: ANN201
                     progress: bool = True):
    """``n`` samples of a class-conditional run in [0, 1], their requested classes and names."""
    from gankit.data.ranges import to_unit
    from gankit.metrics.evaluate import generate
    from gankit.recipes.base import balanced_labels
    from gankit.run import load

    run = load(run_dir, device)
    if not run.num_classes:
        raise GankitError(f"--generated needs a class-conditional run (its samples' labels are "
                          f"the classes asked for), and {run_dir!r} is not one.")
    labels = balanced_labels(n, run.num_classes)
    x = to_unit(generate(run, n, seed, labels=labels, progress=progress), run.spec.normalize)
    return x, labels, list(run.spec.class_names)
