"""Milliseconds per training step of a preset under config variants (``--set`` groups).

    python benchmarks/bench_variants.py --preset stacked-mnist \\
        --variant "train.amp=off" --variant "train.amp=bf16" \\
        --variant "model.g.channels=[256,128,64];train.amp=off" [--rounds 7] [--steps 10]

Each variant is one or more ``key=value`` settings joined by ``;`` (an empty variant is the
preset as shipped). The recipe trains on random data of the preset's shape; the variants live in
one process and alternate block by block (median of ``--rounds`` blocks of ``--steps`` steps), so
the machine's drift hits all alike.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from bench_dropout import SHAPES, recipe_step
from stopping import progress
from stopping import run as run_main

from gankit.config import deep_merge, parse_assignment


def overrides_of(variant: str) -> dict:
    merged: dict = {}
    for item in filter(None, (part.strip() for part in variant.split(";"))):
        merged = deep_merge(merged, parse_assignment(item))
    return merged


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="stacked-mnist", choices=sorted(SHAPES))
    parser.add_argument("--variant", action="append", default=None,
                        help="settings joined by ';' (repeat the flag for more variants)")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    variants = args.variant or [""]
    steps = [recipe_step(args.preset, overrides=overrides_of(v))[0] for v in variants]
    for step in steps:
        for _ in range(3):
            step()
    times: list[list[float]] = [[] for _ in variants]
    for r in range(args.rounds):
        progress(f"round {r + 1} of {args.rounds}")
        for step, seconds in zip(steps, times, strict=True):
            start = time.perf_counter()
            for _ in range(args.steps):
                step()
            seconds.append((time.perf_counter() - start) / args.steps)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, preset {args.preset}\n")
    print("| variant | ms/step |\n|---|---:|")
    for variant, seconds in zip(variants, times, strict=True):
        print(f"| {variant or '(preset)'} | {1e3 * statistics.median(seconds):.1f} |")


if __name__ == "__main__":
    run_main(main, "no result table was written.")
