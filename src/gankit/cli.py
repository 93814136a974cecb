"""The ``gankit`` command: parse arguments, call the API, turn errors into clear messages."""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from gankit.config import build_config, deep_merge, load_preset, parse_assignment, preset_names
from gankit.errors import GankitError
from gankit.fileio import describe_os_error


def _train_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """Turn the train command's flags into a nested override dictionary."""
    flags: dict[str, Any] = {}
    pairs = [("data", "name", args.data), ("data", "path", args.data_dir),
             ("train", "steps", args.steps), ("train", "batch_size", args.batch_size),
             ("model", "arch", args.model), ("loss", "name", args.loss)]
    for section, key, value in pairs:
        if value is not None:
            flags.setdefault(section, {})[key] = value
    for key in ("seed", "device"):
        if getattr(args, key) is not None:
            flags[key] = getattr(args, key)
    for assignment in args.set or []:
        flags = deep_merge(flags, parse_assignment(assignment))
    return flags


def cmd_train(args: argparse.Namespace) -> int:
    from gankit.training.trainer import resume_run, start_run

    if args.resume:
        if any(v is not None for v in (args.preset, args.config, args.data, args.out)):
            raise GankitError("--resume continues a run with its own config; pass only --steps "
                              "(and --no-progress) with it.")
        trainer = resume_run(Path(args.resume), args.steps, not args.no_progress)
        say = print if trainer.world.is_main else _quiet
        say(f"Resuming {trainer.run_dir} from step {trainer.step} to {trainer.cfg.train.steps}.")
    else:
        cfg = build_config(args.preset, args.config, _train_overrides(args))
        trainer = start_run(cfg, args.out, args.overwrite, not args.no_progress)
        say = print if trainer.world.is_main else _quiet
        counts = ", ".join(f"{k} {v:,}" for k, v in trainer.recipe.describe().items())
        procs = f" × {trainer.world.size} processes" if trainer.world.enabled else ""
        bf16 = " with bf16 autocast" if trainer.recipe.amp else ""
        say(f"Training preset {cfg.preset or '(none)'} on {cfg.data.name} for "
            f"{cfg.train.steps} steps on {trainer.device}{procs}{bf16} ({counts} parameters).")
        say(f"Run folder: {trainer.folder.target}")
    if trainer.folder.staged:
        say(f"It trains in {trainer.run_dir} and replaces {trainer.folder.target} only when it "
            "has finished; until then the old run stays as it was.")
    run_dir = trainer.fit()
    say(f"Done. Run folder: {run_dir}  (open {run_dir / 'report.html'})")
    return 0


def _quiet(*args: object) -> None:
    """Ranks other than 0 print nothing."""


def cmd_sample(args: argparse.Namespace) -> int:
    from gankit.pictures import class_rows
    from gankit.run import check_count, load

    check_count(args.n)  # before loading anything

    run = load(args.run, args.device)
    label = class_number(run.spec.class_names, args.label) if args.label is not None else None
    path = run.save_samples(args.output, args.n, args.seed, use_ema=not args.no_ema,
                            labels=label, progress=not args.no_progress)
    what = f" of class {run.spec.class_names[label]!r}" if label is not None else ""
    count = args.n
    if label is None and run.num_classes and path.suffix.lower() == ".png":
        count = len(class_rows(args.n, run.num_classes)[0])
        what = f" ({count // run.num_classes} per class)"
    print(f"Wrote {count:,} samples{what} from step {run.step} to {path}")
    return 0


def class_number(class_names: Sequence[str], label: str) -> int:
    """A class given by name or number, as its number."""
    if label in class_names:
        return list(class_names).index(label)
    if label.isdigit() and int(label) < len(class_names):
        return int(label)
    names = ", ".join(class_names) or "none: the data set is unlabelled"
    raise GankitError(f"Unknown class {label!r}; the run's classes are: {names}.")


def cmd_eval(args: argparse.Namespace) -> int:
    from gankit.metrics.evaluate import EvalOptions, evaluate_run
    from gankit.metrics.summary import eval_markdown, write_eval
    from gankit.report import write_report
    from gankit.run import load
    from gankit.training.trainer import resolve_device

    for flag, value, least in (("-n", args.n, 2), ("--real", args.real, 2),
                               ("--mode-samples", args.mode_samples, 0),
                               ("--kid-subsets", args.kid_subsets, 1)):
        if value is not None and not least <= value <= MAX_EVAL_SAMPLES:
            raise GankitError(f"{flag} must be from {least} to {MAX_EVAL_SAMPLES:,} "
                              f"(got {value}).")
    run = load(args.run, args.device)
    opts = EvalOptions(extractors=tuple(args.extractor) if args.extractor else None,
                       num_generated=args.n, num_real=args.real, reference=args.reference,
                       seed=args.seed, use_ema=not args.no_ema, mode_samples=args.mode_samples,
                       kid_subsets=args.kid_subsets, progress=not args.no_progress)
    result = evaluate_run(run, opts, resolve_device(args.device))
    json_path, md_path = write_eval(run.path, result)
    write_report(run.path)
    print(eval_markdown(result))
    print(f"Wrote {json_path} and {md_path}")
    return 0


#: the most samples (or KID subsets) one evaluation takes
MAX_EVAL_SAMPLES = 1_000_000


def cmd_presets(args: argparse.Namespace) -> int:
    for name in preset_names():
        print(f"{name:14s} {load_preset(name).get('description', '')}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from gankit.recipes import RECIPES
    from gankit.report import read_metrics, write_report
    from gankit.training.rundir import read_run_dir
    from gankit.viz import EVAL_CURVES, save_curves, save_eval_curves

    cfg, _, _ = read_run_dir(args.run)
    records = read_metrics(Path(args.run))
    save_curves(records, Path(args.run) / "curves.png", RECIPES.get(cfg.recipe).scalars)
    save_eval_curves(records, Path(args.run) / EVAL_CURVES)
    print(f"Wrote {write_report(Path(args.run))}")
    return 0


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (exit code 2) instead of a usage block."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"gankit: error: {message}; see '{self.prog} --help'.\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="gankit", description="Train, evaluate and use GANs. Start with "
                     "'gankit train' (the default preset trains on real digits in about a "
                     "minute); 'gankit COMMAND --help' explains each command.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    train = sub.add_parser("train", help="train a model (default: the 'digits' preset)")
    train.add_argument("--preset", help=f"named preset ({', '.join(preset_names())})")
    train.add_argument("--config", type=Path, help="YAML config file (merged over the preset)")
    train.add_argument("--data", help="data set name (digits, mnist, fashion-mnist, ring8, ...)")
    train.add_argument("--data-dir", "--data-path", dest="data_dir",
                       help="folder or file holding the data")
    train.add_argument("--model", help="model family (mlp, dcgan)")
    train.add_argument("--loss", help="adversarial loss (ns, minimax, hinge, wasserstein, lsgan)")
    train.add_argument("--steps", type=int, help="number of training steps (G updates)")
    train.add_argument("--batch-size", type=int)
    train.add_argument("--seed", type=int)
    train.add_argument("--device", help="cpu, cuda, cuda:N or auto")
    train.add_argument("--set", action="append", metavar="KEY=VALUE",
                       help="override any setting, e.g. --set optim.g_lr=1e-4 (repeatable)")
    train.add_argument("--out", type=Path, help="run folder (default runs/<preset>-<time>)")
    train.add_argument("--overwrite", action="store_true", help="replace an existing run folder")
    train.add_argument("--resume", metavar="RUN", help="continue a run from its last checkpoint")
    train.add_argument("--no-progress", action="store_true", help="no progress bar")
    train.set_defaults(func=cmd_train)

    sample = sub.add_parser("sample", help="draw samples from a trained run")
    sample.add_argument("run", help="run folder")
    sample.add_argument("-n", type=int, default=64, help="number of samples (default 64)")
    sample.add_argument("-o", "--output", required=True, help="output .png grid or .npz file")
    sample.add_argument("--seed", type=int, default=None)
    sample.add_argument("--label", help="conditional runs: the class to draw (name or number); "
                        "default a grid with one row per class")
    sample.add_argument("--no-ema", action="store_true", help="use the raw generator weights")
    sample.add_argument("--device", default="cpu")
    sample.add_argument("--no-progress", action="store_true")
    sample.set_defaults(func=cmd_sample)

    ev = sub.add_parser("eval", help="measure a run: FID, KID, precision/recall, modes",
                        description="Evaluate a run against real data and write eval.json and "
                        "eval.md into its folder. Defaults: 10,000 generated vs 10,000 real "
                        "images (the test split when there is one) in the data set's classifier "
                        "features, or 2,500 samples in raw coordinates for 2-D data.")
    ev.add_argument("run", help="run folder")
    ev.add_argument("-n", type=int, default=None, help="generated samples")
    ev.add_argument("--real", type=int, default=None, help="real reference samples")
    ev.add_argument("--extractor", action="append", metavar="NAME",
                    help="feature extractor: classifier, inception or raw (repeatable)")
    ev.add_argument("--reference", choices=["test", "train"], default="test",
                    help="real split to compare with when the data set has one (default test)")
    ev.add_argument("--mode-samples", type=int, default=None,
                    help="samples for mode counting (2,500 for 2-D, 26,000 for Stacked MNIST)")
    ev.add_argument("--kid-subsets", type=int, default=100)
    ev.add_argument("--seed", type=int, default=0)
    ev.add_argument("--no-ema", action="store_true", help="use the raw generator weights")
    ev.add_argument("--device", default="cpu")
    ev.add_argument("--no-progress", action="store_true")
    ev.set_defaults(func=cmd_eval)

    presets = sub.add_parser("presets", help="list the named presets")
    presets.set_defaults(func=cmd_presets)

    report = sub.add_parser("report", help="rebuild a run folder's curves and report.html")
    report.add_argument("run", help="run folder")
    report.set_defaults(func=cmd_report)

    from gankit.commands import register_all

    register_all(sub)
    return parser


def _one_line_warning(message, category, filename, lineno, line=None) -> str:  # noqa: ANN001
    return f"gankit: warning: {message}\n"


def main(argv: Sequence[str] | None = None) -> int:
    warnings.formatwarning = _one_line_warning
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv or ["train"])
    if args.command is None:
        args = parser.parse_args([*argv, "train"])
    try:
        return args.func(args)
    except GankitError as err:
        if args.debug:
            raise
        print(f"gankit: {err.label}: {err}", file=sys.stderr)
        return err.exit_code
    except OSError as err:
        if args.debug:
            raise
        print(f"gankit: error: {describe_os_error(err)}", file=sys.stderr)
        return GankitError.exit_code
    except KeyboardInterrupt:
        print("gankit: interrupted.", file=sys.stderr)
        return 130
