"""Mode-collapse benchmarks on the 2-D mixtures, with the protocol of VEEGAN and PacGAN.

    python benchmarks/bench_modes.py [--presets ring8-plain ring8 grid25-plain grid25]
        [--seeds 10] [--samples 2500] [--threads N] [--json results.json]

Each preset is trained from scratch once per seed (``seed = 0 .. seeds-1``), exactly as
``gankit train --preset P --seed S`` would (a full run folder in a temporary directory), then
2,500 samples are drawn (EMA weights when the preset keeps them) and scored: a sample is high
quality within 3 σ of its nearest mode centre, a mode is captured with at least one high-quality
sample. The table gives mean ± standard error over seeds of modes captured and high-quality %,
the mean KL of the mode histogram to uniform, and the mean wall time per run (training, sample
grids, checkpoints and report included).
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import statistics
import tempfile
import time
from pathlib import Path

import torch
from stopping import run as run_main

from gankit.config import build_config
from gankit.fileio import atomic_write_text
from gankit.metrics.modes import mixture_modes
from gankit.run import load
from gankit.training.trainer import start_run

ANCHORS = {  # MISSION.md: (ring-8 modes, HQ %), (grid-25 modes, HQ %)
    "GAN (VEEGAN paper)": ((1, 99.3), (3.3, 0.5)),
    "Unrolled GAN": ((7.6, 35.6), (23.6, 16)),
    "VEEGAN": ((8, 52.9), (24.6, 40)),
    "WGAN-GP (GDPP paper)": ((6.8, 59.6), (24.2, 28.7)),
    "GDPP-GAN": ((8.0, 71.7), (24.8, 68.5)),
    "PacGAN4 (10 runs)": ((7.8, 95.9), (24.8, 93.6)),
}


def run_once(preset: str, seed: int, samples: int, root: Path) -> dict:
    cfg = build_config(preset, None, {"seed": seed})
    started = time.perf_counter()
    run_dir = start_run(cfg, root / f"{preset}-{seed}", overwrite=True, progress=False).fit()
    wall = time.perf_counter() - started
    run = load(run_dir)
    scores = mixture_modes(run.sample(samples, seed=10_000 + seed),
                           torch.tensor(run.facts["mode_centres"]), run.facts["mode_std"])
    return {"preset": preset, "seed": seed, "modes": scores["modes"],
            "modes_total": scores["modes_total"], "high_quality": 100 * scores["high_quality"],
            "kl": scores["kl_uniform"], "wall_s": wall}


def mean_se(values: list[float]) -> str:
    mean = statistics.fmean(values)
    se = statistics.stdev(values) / math.sqrt(len(values)) if len(values) > 1 else 0.0
    return f"{mean:.2f} ± {se:.2f}"


def table(results: list[dict]) -> str:
    lines = ["| preset | runs | modes (mean ± s.e.) | high quality % (mean ± s.e.) | "
             "mode KL | all modes in | wall time / run (s) |", "|---|---|---|---|---|---|---|"]
    for preset in dict.fromkeys(r["preset"] for r in results):
        rows = [r for r in results if r["preset"] == preset]
        total = rows[0]["modes_total"]
        full = sum(r["modes"] == total for r in rows)
        lines.append(
            f"| {preset} | {len(rows)} | {mean_se([r['modes'] for r in rows])} / {total} | "
            f"{mean_se([r['high_quality'] for r in rows])} | "
            f"{statistics.fmean(r['kl'] for r in rows):.3f} | {full} / {len(rows)} | "
            f"{statistics.fmean(r['wall_s'] for r in rows):.1f} "
            f"(max {max(r['wall_s'] for r in rows):.1f}) |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--presets", nargs="+",
                        default=["ring8-plain", "ring8", "grid25-plain", "grid25"])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--first-seed", type=int, default=0,
                        help="seeds first-seed .. first-seed + seeds - 1 (to split a run)")
    parser.add_argument("--samples", type=int, default=2500)
    parser.add_argument("--json", type=Path, help="also write every run's scores here")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    results = []
    with tempfile.TemporaryDirectory(prefix="gankit-modes-") as tmp:
        for preset in args.presets:
            for seed in range(args.first_seed, args.first_seed + args.seeds):
                result = run_once(preset, seed, args.samples, Path(tmp))
                results.append(result)
                print(json.dumps(result), flush=True)
    if args.json:
        atomic_write_text(args.json, json.dumps(results, indent=1))
    print(f"\nMachine: {platform.processor() or platform.machine()}, "
          f"{torch.get_num_threads()} threads, torch {torch.__version__}, "
          f"Python {platform.python_version()}\n")
    print(table(results))
    print("\n| anchor (MISSION.md) | ring-8 modes / HQ % | grid-25 modes / HQ % |\n|---|---|---|")
    for name, (ring, grid) in ANCHORS.items():
        print(f"| {name} | {ring[0]} / {ring[1]} | {grid[0]} / {grid[1]} |")


if __name__ == "__main__":
    run_main(main, "no result table and no --json file were written; the lines "
             "above are the runs that had finished.")
