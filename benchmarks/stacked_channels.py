"""Where a Stacked MNIST run's mode KL comes from: per-channel digit shares, KLs and ambiguity.

    python benchmarks/stacked_channels.py RUN [--checkpoint PATH.json] [-n 26000] [--seed 1]

Classifies each channel of ``n`` samples (EMA weights) with the run's MNIST classifier, as
``gankit eval`` does, and prints the joint mode count and KL, each channel's digit shares and KL
to uniform, the share of channels whose top class probability is below 0.9 ("ambiguous"), and
what is left of the joint KL after the per-channel KLs (dependence between channels plus the
sampling bias of about 999 / (2n)).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from stopping import run as run_main

from gankit.data.stacked import stack_labels
from gankit.metrics.classifier import load_or_train_classifier
from gankit.metrics.modes import kl_to_uniform
from gankit.run import load
from gankit.training.checkpoint import load_checkpoint


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--checkpoint", type=Path, help="a checkpoint's .json (default: latest)")
    parser.add_argument("-n", type=int, default=26_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    run = load(args.run)
    if args.checkpoint:
        run.step, state = load_checkpoint(args.checkpoint)
        for name, module in run.recipe.modules().items():
            module.load_state_dict(state["modules"][name])
    x = run.sample(args.n, seed=args.seed)
    clf, _ = load_or_train_classifier(run.config.data)
    clf.eval()
    with torch.no_grad():
        flat = x.reshape(-1, 1, *x.shape[-2:])
        probs = torch.cat([clf(b).softmax(1) for b in flat.split(2000)]).reshape(args.n, 3, 10)
    digits, confidence = probs.argmax(2), probs.max(2).values
    joint = torch.bincount(stack_labels(digits), minlength=1000)
    total = kl_to_uniform(joint)
    print(f"step {run.step}, {args.n} samples: modes {(joint > 0).sum().item()}, KL {total:.4f}")
    channel_kls = []
    for c, name in enumerate("RGB"):
        counts = torch.bincount(digits[:, c], minlength=10)
        channel_kls.append(kl_to_uniform(counts))
        shares = " ".join(f"{d}:{v:.3f}" for d, v in enumerate((counts / args.n).tolist()))
        ambiguous = (confidence[:, c] < 0.9).float().mean().item()
        print(f"  {name}: KL {channel_kls[-1]:.4f}, ambiguous {ambiguous:.1%}, shares {shares}")
    print(f"  sum of channel KLs {sum(channel_kls):.4f}; rest {total - sum(channel_kls):.4f} "
          f"(sampling bias about {999 / (2 * args.n):.4f})")


if __name__ == "__main__":
    run_main(main, "nothing was written.")
