"""The ``gankit export-model`` command: a trained generator as a folder people can share
(model card, config.json, safetensors weights, a TorchScript generator), laid out for the
Hugging Face Hub; ``gankit.load(DIR)`` and ``gankit sample DIR`` read it back."""

from __future__ import annotations

import argparse

from gankit.commands.common import common


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``gankit export-model`` to ``sub``."""
    p = sub.add_parser(
        "export-model", help="write a shareable model folder: model card, safetensors, TorchScript",
        parents=[common("seed", "no_ema")],
        description="Write the generator of a run that samples from noise to a folder that can "
        "be uploaded to the Hugging Face Hub as it is: README.md (model card), config.json "
        "(what rebuilds and uses it), model.safetensors (the generator's weights, EMA when the "
        "run has them), generator.pt (TorchScript: G(z) or G(z, labels), plain PyTorch), "
        "latent.safetensors for mixture latents, samples.png and the run's eval.json. "
        "'gankit sample DIR' and gankit.load(DIR) read it back. The folder appears whole or "
        "not at all.")
    p.add_argument("run", help="run folder")
    p.add_argument("-o", "--output", required=True, metavar="DIR", help="output folder")
    p.add_argument("--license", default="other", metavar="ID",
                   help="the model card's license id on the Hugging Face Hub, e.g. mit, "
                   "apache-2.0, cc-by-4.0 (default: other)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an earlier model export in the output folder")
    p.set_defaults(func=run, interrupted="no model folder was written: '{output}' is as it "
                   "was (an earlier export there is intact).")


def run(args: argparse.Namespace) -> int:
    from gankit.run import load
    from gankit.share.export import check_target, describe, export_model

    check_target(args.output, args.overwrite)  # before loading anything
    loaded = load(args.run)
    folder = export_model(loaded, args.output, use_ema=not args.no_ema,
                          overwrite=args.overwrite, license=args.license, seed=args.seed)
    print(f"Wrote {args.output}: the {describe(folder)}.")
    print(f"Use it with 'gankit sample {args.output} -n 64 -o grid.png', gankit.load, or without "
          "gankit through generator.pt (see its README.md).")
    return 0
