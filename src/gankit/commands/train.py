"""The ``gankit train`` command: train a run, or continue one, as ``gankit.train`` and
``gankit.resume`` do, saying what it does."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from gankit.commands.common import common
from gankit.config import deep_merge, parse_assignment, preset_names
from gankit.errors import GankitError


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``gankit train`` to ``sub``."""
    p = sub.add_parser(
        "train", help="train a model (default: the 'digits' preset)",
        parents=[common("seed", "device", "no_progress", seed=None, device=None,
                        unseeded="the config's seed")])
    p.add_argument("--preset", help=f"named preset ({', '.join(preset_names())})")
    p.add_argument("--config", type=Path, help="YAML config file (merged over the preset)")
    p.add_argument("--data", help="data set name (digits, mnist, fashion-mnist, ring8, ...)")
    p.add_argument("--data-dir", "--data-path", dest="data_dir",
                   help="folder or file holding the data")
    p.add_argument("--model", help="model family (mlp, dcgan)")
    p.add_argument("--loss", help="adversarial loss (ns, minimax, hinge, wasserstein, lsgan)")
    p.add_argument("--steps", type=int, help="number of training steps (G updates)")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="override any setting, e.g. --set optim.g_lr=1e-4 (repeatable)")
    p.add_argument("--out", type=Path, help="run folder (default runs/<preset>-<time>)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing run folder")
    p.add_argument("--resume", metavar="RUN", help="continue a run from its last checkpoint")
    p.add_argument("--tensorboard", action="store_true",
                   help="also log to TensorBoard: scalars, evaluations, pictures and "
                   "hyper-parameters in RUN/tensorboard/ (sets log.tensorboard=true; "
                   "pip install \"gankit[tensorboard]\")")
    p.set_defaults(func=run, interrupted=(
        "this was outside the training steps (while setting up, or writing the final pictures "
        "after the last checkpoint): a run folder already made keeps what was written so far and "
        "'gankit train --resume RUN' continues it; with --overwrite, the run it replaces is as "
        "it was."))


def overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The train command's flags as a nested override dictionary."""
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
    if getattr(args, "tensorboard", False):
        flags["log"] = {"tensorboard": True}
    for assignment in args.set or []:
        flags = deep_merge(flags, parse_assignment(assignment))
    return flags


def run(args: argparse.Namespace) -> int:
    from gankit.api import start
    from gankit.training.trainer import resume_run

    if args.resume:
        if any(v is not None for v in (args.preset, args.config, args.data, args.out)):
            raise GankitError("--resume continues a run with its own config; pass only --steps "
                              "(and --tensorboard, --no-progress) with it.")
        log = {"tensorboard": True} if args.tensorboard else None  # switched on from here
        trainer = resume_run(Path(args.resume), args.steps, not args.no_progress, log)
        say = print if trainer.world.is_main else _quiet
        say(f"Resuming {trainer.run_dir} from step {trainer.step} to {trainer.cfg.train.steps}.")
    else:
        trainer = start(args.preset, args.out, args.overwrite, not args.no_progress,
                        config_file=args.config, overrides=overrides(args))
        cfg = trainer.cfg
        say = print if trainer.world.is_main else _quiet
        counts = ", ".join(f"{k} {v:,}" for k, v in trainer.recipe.describe().items())
        procs = f" × {trainer.world.size} processes" if trainer.world.enabled else ""
        bf16 = " with bf16 autocast" if trainer.recipe.amp else ""
        say(f"Training preset {cfg.preset or '(none)'} on {cfg.data.name} for "
            f"{cfg.train.steps} steps on {trainer.device}{procs}{bf16} ({counts} parameters).")
        if trainer.spec.codec and trainer.spec.codec.get("summary"):
            say(trainer.spec.codec["summary"])  # what the data source says of its encoding
        say(f"Run folder: {trainer.folder.target}")
    if trainer.folder.staged:
        say(f"It trains in {trainer.run_dir} and replaces {trainer.folder.target} only when it "
            "has finished; until then the old run stays as it was.")
    run_dir = trainer.fit()
    say(f"Done. Run folder: {run_dir}  (open {run_dir / 'report.html'})")
    return 0


def _quiet(*args: object) -> None:
    """Ranks other than 0 print nothing."""
