"""The ``gankit finetune-d`` command: the trained discriminator as a few-label classifier."""

from __future__ import annotations

import argparse
from pathlib import Path

from gankit.commands.common import common, show_results

DEFAULT_NAME = "finetune_d.json"


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``gankit finetune-d`` to ``sub``."""
    p = sub.add_parser(
        "finetune-d", help="reuse the trained discriminator as a classifier (vs from scratch)",
        parents=[common("device", "no_progress")],
        description="Put a new linear class head on the trained D's features and train it on "
        "K labelled real images per class: a linear probe (D frozen) and a fine-tune (D at a "
        "smaller learning rate), against the same network freshly initialised and trained "
        "from scratch with the same budget (and a probe of its random features), over several "
        f"seeds. Writes JSON and a Markdown table (default RUN/{DEFAULT_NAME} and .md).")
    p.add_argument("run", help="run folder (an unpacked D: model.pack=1)")
    p.add_argument("--labels-per-class", type=int, nargs="+", required=True, metavar="K",
                   help="labelled real images per class (one or more sizes)")
    p.add_argument("--seeds", type=int, default=3, help="seeds 0..S-1 (default 3)")
    p.add_argument("--steps", type=int, default=500,
                   help="training steps of every arm (the fixed budget; default 500)")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3,
                   help="Adam learning rate of the head and of the scratch net (default 1e-3)")
    p.add_argument("--body-lr-scale", type=float, default=0.1,
                   help="fine-tune: the trained body's learning rate is lr × this (default 0.1)")
    p.add_argument("--probe-lr", type=float, default=1e-2,
                   help="learning rate of the linear probes' heads (default 1e-2)")
    p.add_argument("--json", type=Path, metavar="OUT", help="JSON output (Markdown beside it)")
    p.add_argument("--save-model", type=Path, metavar="FILE.pt", help="also save the fine-tuned "
                   "classifier (last seed, largest K) as TorchScript taking images in [0, 1], "
                   "e.g. for gankit robustness")
    p.set_defaults(func=run, interrupted=(
        f"no results were written: the JSON and Markdown tables (--json, default RUN/"
        f"{DEFAULT_NAME}) and the file of --save-model are as they were."))


def run(args: argparse.Namespace) -> int:
    from gankit.reuse.finetune import (
        FinetuneOptions,
        classifier_script,
        finetune_d_classifier,
        finetune_markdown,
    )
    from gankit.run import load
    from gankit.synthetic.fewshot import check_json_name

    check_json_name(args.json)  # before the long work
    loaded = load(args.run, args.device)
    opts = FinetuneOptions(tuple(args.labels_per_class), args.seeds, args.steps,
                           args.batch_size, args.lr, args.body_lr_scale, args.probe_lr)
    result, classifier = finetune_d_classifier(loaded, opts, args.device,
                                               progress=not args.no_progress)
    model = (args.save_model, classifier_script(loaded, classifier)) if args.save_model else None
    return show_results(args, result, finetune_markdown(result),
                        args.json or loaded.path / DEFAULT_NAME, model)
