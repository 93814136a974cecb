"""Wall time of whole `gankit train` runs, as a user starts them (process start included).

    python benchmarks/bench_presets.py [--mnist-dir ../shared/data/mnist] [--out docs/...]

Prints a Markdown table: preset, steps, wall seconds, images/s (from metrics.jsonl).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from stopping import ROWS_SO_FAR, progress
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
    return (f"{cpu}, {os.cpu_count()} cores, torch {torch.__version__}, "
            f"{torch.get_num_threads()} threads, Python {platform.python_version()}")


def time_run(args: list[str], out: Path) -> tuple[float, float]:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "gankit", "train", *args, "--out", str(out),
                    "--no-progress"], check=True, capture_output=True)
    wall = time.perf_counter() - start
    records = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    speeds = sorted(r["img_per_s"] for r in records if "img_per_s" in r)  # not eval records
    speed = speeds[len(speeds) // 2]
    return wall, speed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mnist-dir", default="../shared/data/mnist")
    parser.add_argument("--only", nargs="+", help="run only these (digits, seed-dcgan, ring8, "
                        "grid25)")
    args = parser.parse_args()
    runs = [("digits (default)", []),
            ("seed-dcgan, 300 steps", ["--preset", "seed-dcgan", "--data-dir", args.mnist_dir,
                                       "--steps", "300"]),
            ("ring8", ["--preset", "ring8"]),
            ("grid25", ["--preset", "grid25"])]
    if args.only:
        runs = [r for r in runs if r[0].split()[0].rstrip(",") in args.only]
    print(f"Machine: {machine()}\n")
    print("| run | wall time (s) | median images/s |\n|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for i, (name, flags) in enumerate(runs):
            progress(f"training {name}")
            wall, speed = time_run(flags, Path(tmp) / f"run{i}")
            print(f"| {name} | {wall:.1f} | {speed:,.0f} |", flush=True)


if __name__ == "__main__":
    run_main(main, ROWS_SO_FAR)
