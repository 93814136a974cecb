"""gankit's Dropout against torch.nn.Dropout: one layer, and whole training steps of presets.

    python benchmarks/bench_dropout.py [--presets seed-dcgan stacked-mnist] [--rounds 7]
        [--steps 10] [--threads N]

Layer: forward + backward on the activations of the DCGAN discriminator (batch 64, 64×14×14
and 128×7×7), median over ``--rounds`` blocks of 20 calls. Presets: the preset's recipe on
random data of the preset's shape; in the ``nn.Dropout`` variant every gankit ``Dropout`` of G
and D is swapped for ``torch.nn.Dropout`` of the same rate. Both variants live in one process
and alternate block by block (``--steps`` steps per block, median of ``--rounds``), so the
machine's drift hits both alike.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
from stopping import ROWS_SO_FAR
from stopping import run as run_main
from torch import nn

from gankit.config import build_config
from gankit.models import DataSpec
from gankit.models.layers import Dropout
from gankit.recipes import RECIPES

SHAPES = {"seed-dcgan": (1, 28, 28), "stacked-mnist": (3, 28, 28), "mnist-dcgan": (1, 28, 28),
          "seed-mlp": (1, 28, 28)}


def median_seconds(fn: Callable[[], None], calls: int, rounds: int) -> float:
    fn()
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        times.append((time.perf_counter() - start) / calls)
    return statistics.median(times)


def bench_layer(rounds: int) -> None:
    print("| activation shape | nn.Dropout (ms) | gankit Dropout (ms) | speed-up |")
    print("|---|---:|---:|---:|")
    for shape in [(64, 64, 14, 14), (64, 128, 7, 7)]:
        x = torch.randn(shape, requires_grad=True)
        ms = [1e3 * median_seconds(lambda layer=layer, x=x: layer(x).sum().backward(), 20, rounds)
              for layer in (nn.Dropout(0.3), Dropout(0.3))]
        print(f"| {shape} | {ms[0]:.2f} | {ms[1]:.2f} | {ms[0] / ms[1]:.2f}× |")


def swap_to_torch_dropout(module: nn.Module) -> int:
    """Replace every gankit Dropout inside ``module`` with nn.Dropout; returns how many."""
    count = 0
    for name, child in module.named_children():
        if isinstance(child, Dropout):
            setattr(module, name, nn.Dropout(child.p))
            count += 1
        else:
            count += swap_to_torch_dropout(child)
    return count


def recipe_step(preset: str, torch_dropout: bool = False,
                overrides: dict | None = None) -> tuple[Callable[[], None], int]:
    """One training step of ``preset`` (with config ``overrides``) on random data of its shape."""
    cfg = build_config(preset, overrides=overrides)
    spec = DataSpec(preset, "image", SHAPES[preset], cfg.data.normalize)
    torch.manual_seed(0)
    recipe = RECIPES.get(cfg.recipe)(cfg, spec, torch.device("cpu"))
    swapped = 0
    if torch_dropout:
        swapped = swap_to_torch_dropout(recipe.G) + swap_to_torch_dropout(recipe.D)
    data = torch.rand(1024, *SHAPES[preset])
    size = cfg.train.batch_size

    def step() -> None:
        rows = torch.randint(len(data), (size,))
        recipe.train_step([{"x": data[rows]}])

    return step, swapped


def bench_presets(presets: list[str], steps: int, rounds: int) -> None:
    print("\n| preset | nn.Dropout (ms/step) | gankit Dropout (ms/step) | speed-up |")
    print("|---|---:|---:|---:|")
    for preset in presets:
        (slow, swapped), (fast, _) = recipe_step(preset, True), recipe_step(preset, False)
        for fn in (slow, fast):
            for _ in range(3):
                fn()
        times: dict[str, list[float]] = {"torch": [], "gankit": []}
        for _ in range(rounds):
            for key, fn in (("torch", slow), ("gankit", fast)):
                start = time.perf_counter()
                for _ in range(steps):
                    fn()
                times[key].append((time.perf_counter() - start) / steps)
        t, g = (1e3 * statistics.median(times[k]) for k in ("torch", "gankit"))
        print(f"| {preset} ({swapped} dropout layers) | {t:.1f} | {g:.1f} | {t / g:.2f}× |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", default=["seed-dcgan", "stacked-mnist"],
                        choices=sorted(SHAPES))
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads\n")
    bench_layer(args.rounds)
    bench_presets(args.presets, args.steps, args.rounds)


if __name__ == "__main__":
    run_main(main, ROWS_SO_FAR)
