"""The ``gankit finetune-d`` command: the trained discriminator as a few-label classifier."""

from __future__ import annotations

import argparse
from pathlib import Path

DEFAULT_NAME = "finetune_d.json"


def cmd_finetune(args: argparse.Namespace) -> int:
    from gankit.reuse.finetune import FinetuneOptions, finetune_d, finetune_markdown
    from gankit.run import load
    from gankit.synthetic.fewshot import check_json_name, write_results

    check_json_name(args.json)  # before the long work
    run = load(args.run, args.device)
    opts = FinetuneOptions(tuple(args.labels_per_class), args.seeds, args.steps,
                           args.batch_size, args.lr, args.body_lr_scale, args.probe_lr)
    result = finetune_d(run, opts, args.device, progress=not args.no_progress)
    markdown = finetune_markdown(result)
    json_path, md_path = write_results(result, markdown, args.json or run.path / DEFAULT_NAME)
    print(markdown)
    print(f"Wrote {json_path} and {md_path}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``gankit finetune-d`` to ``sub``."""
    p = sub.add_parser(
        "finetune-d", help="reuse the trained discriminator as a classifier (vs from scratch)",
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
    p.add_argument("--device", default="cpu")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=cmd_finetune)
