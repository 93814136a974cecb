"""Test accuracy and training time of the ``classifier`` feature extractor, per data set.

    python benchmarks/bench_classifier.py [--mnist-dir /work/shared/data/mnist]
        [--fashion-dir /work/shared/data/fashion-mnist] [--data digits mnist fashion-mnist]

Each classifier is trained from scratch into a temporary cache, exactly as ``gankit eval`` trains
it the first time (same seed, epochs and augmentation), and its accuracy is measured on the test
split (MNIST, Fashion-MNIST) or on the held-out 20 % (digits). Goals (issue 4): ≥ 99.0 % MNIST,
≥ 90 % Fashion-MNIST, ≥ 97 % digits.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time

import torch
from stopping import ROWS_SO_FAR
from stopping import run as run_main

from gankit.config import DataConfig
from gankit.metrics.classifier import load_or_train_classifier

GOALS = {"digits": 0.97, "mnist": 0.99, "fashion-mnist": 0.90}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mnist-dir", default="/work/shared/data/mnist")
    parser.add_argument("--fashion-dir", default="/work/shared/data/fashion-mnist")
    parser.add_argument("--data", nargs="+", default=list(GOALS), choices=list(GOALS))
    args = parser.parse_args()
    paths = {"digits": None, "mnist": args.mnist_dir, "fashion-mnist": args.fashion_dir}
    print(f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"{torch.get_num_threads()} torch threads, torch {torch.__version__}\n")
    print("| data set | test accuracy | goal | test split | epochs | training time (s) |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="gankit-clf-") as cache:
        os.environ["GANKIT_CACHE_DIR"] = cache
        for name in args.data:
            started = time.perf_counter()
            _, info = load_or_train_classifier(DataConfig(name=name, path=paths[name]),
                                               "cpu", progress=True)
            wall = time.perf_counter() - started
            print(f"| {name} | {100 * info['test_accuracy']:.2f} % | ≥ {100 * GOALS[name]:.0f} % "
                  f"| {info['test_split']} | {info['epochs']} | {wall:.0f} |", flush=True)


if __name__ == "__main__":
    run_main(main, ROWS_SO_FAR)
