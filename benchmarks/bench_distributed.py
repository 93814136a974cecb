"""Throughput of `gankit train` in 1 process against 2 processes (torchrun, DDP) on this machine.

    python benchmarks/bench_distributed.py [--mnist-dir /work/shared/data/mnist]
        [--presets seed-dcgan seed-mlp] [--steps 150 400] [--no-single-thread] [--keep DIR]

For each preset, with the same global batch (the preset's ``train.batch_size``), runs one after
the other (never two benchmarks at once):

* 1 process × 1 thread (``OMP_NUM_THREADS=1``; a per-core reference, skip with
  ``--no-single-thread``),
* 1 process × 2 threads (``OMP_NUM_THREADS=2``): ``python -m gankit train ... --out DIR``,
* 2 processes × 1 thread each: ``python -m torch.distributed.run --standalone --nproc_per_node 2
  -m gankit train ... --out DIR`` with ``OMP_NUM_THREADS=1`` (each rank trains on half of every
  global batch; DDP averages the gradients over gloo).

Images/s is read from each run's ``metrics.jsonl`` (rank 0's clock, global images): the median
over the logged records, skipping the first (it includes the step-0 sample grid and warm-up).
Wall time is the whole command, process start, data loading and final report included.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from stopping import progress
from stopping import run as run_main


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    torch_version = subprocess.run([sys.executable, "-c", "import torch; print(torch.__version__)"],
                                   check=True, capture_output=True, text=True).stdout.strip()
    return (f"{cpu}, {os.cpu_count()} cores, torch {torch_version}, "
            f"Python {platform.python_version()}")


def run(processes: int, threads: int, preset: str, steps: int, mnist_dir: str,
        out: Path) -> dict[str, float]:
    """One training run; its wall time and median images/s (first record skipped)."""
    train = ["-m", "gankit", "train", "--preset", preset, "--data-dir", mnist_dir,
             "--steps", str(steps), "--out", str(out), "--no-progress"]
    if processes > 1:
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
                   "--nproc_per_node", str(processes), *train]
    else:
        command = [sys.executable, *train]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    start = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    speeds = [r["img_per_s"] for r in records[1:]] or [records[0]["img_per_s"]]
    return {"wall_s": wall, "img_per_s": statistics.median(speeds),
            "records": len(speeds)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mnist-dir", default="/work/shared/data/mnist")
    parser.add_argument("--presets", nargs="+", default=["seed-dcgan", "seed-mlp"])
    parser.add_argument("--steps", nargs="+", type=int, default=[150, 400],
                        help="training steps, one per preset (or one for all)")
    parser.add_argument("--no-single-thread", action="store_true",
                        help="skip the 1 process × 1 thread reference run")
    parser.add_argument("--keep", type=Path, help="keep the run folders under this folder")
    args = parser.parse_args()
    steps = args.steps * len(args.presets) if len(args.steps) == 1 else args.steps
    if len(steps) != len(args.presets):
        parser.error("give one --steps value, or one per preset")
    layouts = [(1, 1), (1, 2), (2, 1)][1 if args.no_single_thread else 0:]

    print(f"Machine: {machine()}\n")
    print("| preset | steps | global batch | processes × threads | wall time (s) | "
          "median images/s | speed-up vs 1 × 2 |\n|---|---|---|---|---|---|---|", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp)
        for preset, n in zip(args.presets, steps, strict=True):
            results = {}
            batch = preset_batch(preset)
            for processes, threads in layouts:
                out = root / f"{preset}-{processes}x{threads}"
                progress(f"{preset}: {processes} process(es) × {threads} thread(s), {n} steps")
                results[(processes, threads)] = run(processes, threads, preset, n,
                                                    args.mnist_dir, out)
            base = results[(1, 2)]["img_per_s"]
            for (processes, threads), res in results.items():
                print(f"| {preset} | {n} | {batch} | {processes} × {threads} | "
                      f"{res['wall_s']:.1f} | {res['img_per_s']:,.0f} | "
                      f"{res['img_per_s'] / base:.2f} |", flush=True)


def preset_batch(preset: str) -> int:
    from gankit.config import load_preset

    return int(load_preset(preset).get("train", {}).get("batch_size", 64))


if __name__ == "__main__":
    run_main(main, "the table above holds only the rows measured so far; no file "
             "was written (the runs under --keep stay as they were stopped).")
