"""Peak memory of a whole ``gankit train`` against a plain PyTorch loop of the same models.

    python benchmarks/bench_memory.py [--mnist-dir /work/shared/data/mnist] [--steps 300]
        [--models mlp dcgan] [--repeats 2] [--base COMMIT]

For each MNIST model (``seed-mlp``, ``seed-dcgan``) two kinds of process are started, one at a
time, alternating, ``--repeats`` times each, and the maximum resident set size of each whole
process (``ru_maxrss`` of the child, what ``/usr/bin/time`` reports) is recorded:

* **gankit**: ``python -m gankit train --preset P --data-dir DIR --steps N --out TMP``, exactly
  as a user runs it (data loading, training, checkpoints, pictures, curves and report);
* **plain**: this script with ``--plain MODEL``: MNIST read with ``gzip`` + NumPy into one
  float32 tensor in [0, 1] (as ``ToTensor`` gives; scaled in place, the file's bytes freed
  first, so loading adds no second copy), the same networks written with
  ``nn.Sequential`` (``bench_step.plain_models``), a ``DataLoader`` over a ``TensorDataset``
  and the tutorial's training loop (``bench_step.plain_training``) for N steps.

With ``--base COMMIT``, gankit as it was at that commit (``git archive COMMIT src`` into a
temporary folder, run with ``PYTHONPATH``) is measured too, in the same rounds, to show what a
change saved. The table gives the median of the repeats in MiB and ``plain / gankit`` (≥ 1:
gankit needs no more memory than the plain loop).
"""

from __future__ import annotations

import argparse
import gzip
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from stopping import ROWS_SO_FAR, progress
from stopping import run as run_main

HERE = Path(__file__).resolve().parent
PRESETS = {"mlp": "seed-mlp", "dcgan": "seed-dcgan"}


def plain(model: str, mnist_dir: str, steps: int) -> None:
    """The plain PyTorch loop (run in its own process)."""
    import torch

    sys.path.insert(0, str(HERE))
    from bench_step import plain_training

    raw = gzip.decompress((Path(mnist_dir) / "train-images-idx3-ubyte.gz").read_bytes())
    images = np.frombuffer(raw, dtype=np.uint8, offset=16).reshape(-1, 1, 28, 28)
    x = torch.from_numpy(images.astype(np.float32))
    del raw, images  # the file's bytes go before training starts, as gankit's loader does
    x.div_(255.0)
    torch.manual_seed(0)
    loop, _, _ = plain_training(model, x, torch.device("cpu"), fresh_z=False)
    for _ in range(steps):
        next(loop)


def peak_mib(cmd: list[str], src: Path | None = None) -> float:
    """Maximum RSS of the child process running ``cmd`` (gankit from ``src`` if given), in
    MiB."""
    env = {**os.environ, "PYTHONPATH": str(src)} if src else None
    with tempfile.TemporaryFile() as log:  # a file, not a pipe: a chatty child never blocks
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        log.seek(0)
        err = log.read().decode(errors="replace")
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{err[-2000:]}")
    return usage.ru_maxrss / 1024  # kB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mnist-dir", default=str(HERE.parents[1] / "shared" / "data" / "mnist"))
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--models", nargs="+", choices=list(PRESETS), default=list(PRESETS))
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--base", help="also measure gankit at this earlier commit")
    parser.add_argument("--plain", choices=list(PRESETS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.plain:
        plain(args.plain, args.mnist_dir, args.steps)
        return
    import torch

    print(f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"torch {torch.__version__}, Python {platform.python_version()}; {args.steps} steps")
    with tempfile.TemporaryDirectory() as tmp:
        versions = {"gankit": None}
        if args.base:
            versions = {f"gankit at {args.base}": old_source(args.base, Path(tmp)), **versions}
        header = " | ".join(f"{name} (MiB)" for name in versions)
        print(f"\n| preset | {header} | plain loop (MiB) | plain / gankit |")
        print(f"|---|{'---:|' * (len(versions) + 2)}")
        for model in args.models:
            peaks = measure(model, versions, args)
            cells = " | ".join(f"{statistics.median(v):,.0f}" for v in peaks.values())
            g, p = statistics.median(peaks["gankit"]), statistics.median(peaks["plain"])
            print(f"| {PRESETS[model]} | {cells} | {p / g:.2f} |", flush=True)


def old_source(commit: str, into: Path) -> Path:
    """The ``src`` folder of gankit at ``commit``, unpacked under ``into``."""
    archive = subprocess.run(["git", "-C", str(HERE.parent), "archive", commit, "src"],
                             capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into / "src"


def measure(model: str, versions: dict[str, Path | None], args: argparse.Namespace
            ) -> dict[str, list[float]]:
    """Peak MiB of each gankit version and of the plain loop, ``--repeats`` rounds each,
    alternating the order between rounds; ``None``: the installed gankit."""
    peaks: dict[str, list[float]] = {name: [] for name in [*versions, "plain"]}
    for r in range(args.repeats):
        with tempfile.TemporaryDirectory() as tmp:
            runs = {name: gankit_command(model, Path(tmp) / f"run{i}", args, src)
                    for i, (name, src) in enumerate(versions.items())}
            runs["plain"] = ([sys.executable, __file__, "--plain", model, "--mnist-dir",
                              args.mnist_dir, "--steps", str(args.steps)], None)
            order = list(runs) if r % 2 == 0 else list(reversed(runs))
            for name in order:
                progress(f"{PRESETS[model]}: {name}, round {r + 1} of {args.repeats}")
                peaks[name].append(peak_mib(*runs[name]))
    return peaks


def gankit_command(model: str, out: Path, args: argparse.Namespace, src: Path | None
                   ) -> tuple[list[str], Path | None]:
    return ([sys.executable, "-m", "gankit", "train", "--preset", PRESETS[model], "--data-dir",
             args.mnist_dir, "--steps", str(args.steps), "--out", str(out), "--no-progress"], src)

if __name__ == "__main__":
    run_main(main, ROWS_SO_FAR)
