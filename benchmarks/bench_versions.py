"""Seconds per training step of the same preset for two versions of gankit, side by side.

    python benchmarks/bench_versions.py --base 6b61476 [--presets seed-mlp seed-dcgan]
        [--mnist-dir /work/shared/data/mnist] [--repeats 3] [--rounds 7] [--steps 10]

The earlier version is taken from this repository's history (``git archive BASE src`` into a
temporary folder); the other is the working tree. For each preset, worker processes alternate
between the two versions (``--repeats`` times each, the order swapped every time), and every
worker builds the preset's ``Trainer`` (recipe, sampler, divergence guard; no file-writing hooks)
and times ``run_loop`` exactly as ``bench_step.py`` does: 5 warm-up steps, then ``--rounds``
blocks of ``--steps`` steps. The table gives each version's median ms/step over all its blocks
and the ratio ``base / working tree`` (≥ 1: the working tree is as fast or faster).
Only one worker runs at a time.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from stopping import ROWS_SO_FAR, progress
from stopping import run as run_main

REPO = Path(__file__).resolve().parents[1]

WORKER = r"""
import json, sys, tempfile, time
from pathlib import Path
import torch
from tqdm.auto import tqdm
from gankit.config import build_config
from gankit.data import load_dataset
from gankit.training.loop import run_loop
from gankit.training.trainer import Trainer

preset, mnist_dir, rounds, steps = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
cfg = build_config(preset, None, {"data": {"path": mnist_dir}})
dataset = load_dataset(cfg.data)
with tempfile.TemporaryDirectory() as tmp:
    trainer = Trainer(cfg, Path(tmp) / "run", dataset, progress=False)
    recipe, sampler, guard = trainer.recipe, trainer.sampler, trainer.guard
    bar, step, blocks = tqdm(disable=True), 0, []
    step = run_loop(recipe, sampler, step, step + 5, [guard], bar)
    for _ in range(rounds):
        start = time.perf_counter()
        step = run_loop(recipe, sampler, step, step + steps, [guard], bar)
        blocks.append((time.perf_counter() - start) / steps)
print(json.dumps({"blocks": blocks, "threads": torch.get_num_threads()}))
"""


def worker(src: Path, preset: str, args: argparse.Namespace) -> list[float]:
    env = {"PYTHONPATH": str(src), "PATH": "/usr/bin:/bin"}
    proc = subprocess.run([sys.executable, "-c", WORKER, preset, args.mnist_dir,
                           str(args.rounds), str(args.steps)], capture_output=True, text=True,
                          env=env, check=False)
    if proc.returncode != 0:
        raise SystemExit(proc.stderr[-3000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])["blocks"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", required=True, help="the earlier commit")
    parser.add_argument("--presets", nargs="+", default=["seed-mlp", "seed-dcgan"])
    parser.add_argument("--mnist-dir", default=str(REPO.parent / "shared" / "data" / "mnist"))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--steps", type=int, default=10)
    args = parser.parse_args()
    head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                          capture_output=True, text=True, check=True).stdout.strip()
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(["git", "-C", str(REPO), "archive", args.base, "src"],
                                 capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        versions = {f"{args.base} (before)": Path(tmp) / "src",
                    f"working tree at {head}": REPO / "src"}
        print(f"| preset | {' | '.join(f'{v} ms/step' for v in versions)} | before / after |")
        print("|---|---:|---:|---:|")
        for preset in args.presets:
            blocks: dict[str, list[float]] = {name: [] for name in versions}
            for r in range(args.repeats):
                order = list(versions) if r % 2 == 0 else list(reversed(versions))
                for name in order:
                    progress(f"{preset}: {name}, repeat {r + 1} of {args.repeats}")
                    blocks[name] += worker(versions[name], preset, args)
            medians = [1000 * statistics.median(b) for b in blocks.values()]
            print(f"| {preset} | {medians[0]:.2f} | {medians[1]:.2f} | "
                  f"{medians[0] / medians[1]:.3f} |", flush=True)


if __name__ == "__main__":
    run_main(main, ROWS_SO_FAR)
