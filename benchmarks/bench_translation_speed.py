"""Step time of pix2pix and CycleGAN at 128×128, batch 1 (the papers' setting): the whole
``gankit train`` against a plain PyTorch loop of the same networks and losses.

    OMP_NUM_THREADS=2 python benchmarks/bench_translation_speed.py [--steps 40] [--rounds 2]

Each measurement runs in its own process (its peak resident memory is its own), on random
128×128 RGB pairs: gankit trains a ``pairs``-kind source registered by this script through the
real trainer (sampler, jitter and flips, logging, checkpoint at the end); the plain loop builds
the same U-Net/ResNet and PatchGAN networks with gankit's builders and steps them by hand (the
same losses; CycleGAN with its history pool). Time per step is measured after ``--warmup``
steps; the rounds alternate gankit and plain so the machine's drift hits both.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from stopping import progress, run

SIZE = 128


def register_random_pairs(n: int = 64) -> None:
    from gankit.data import DATASETS, Dataset, DataSource, Evaluation, NoOptions

    def load(cfg, options):  # noqa: ANN001, ANN202
        g = torch.Generator().manual_seed(0)
        b = torch.rand(n, 3, SIZE, SIZE, generator=g) * 2 - 1
        return Dataset(name="random-pairs", x=b, a=b.flip(1), kind="pair")

    DATASETS.add("random-pairs", DataSource(load, NoOptions, "random 128-px pairs", Evaluation()))


def gankit_step(recipe: str, steps: int, warmup: int) -> float:
    """Seconds per step of ``gankit train`` (from its metrics' elapsed time)."""
    import gankit

    register_random_pairs()
    out = Path(tempfile.mkdtemp(prefix="bench-tr-")) / "run"
    gankit.train({"recipe": recipe, "data": {"name": "random-pairs"},
                  "train": {"steps": steps, "batch_size": 1, "log_every": warmup,
                            "sample_every": 10 * steps, "checkpoint_every": 10 * steps}},
                 out, progress=False)
    times = {r["step"]: r["elapsed_s"] for r in map(json.loads, (out / "metrics.jsonl")
                                                     .read_text().splitlines())
             if "elapsed_s" in r}
    return (times[steps] - times[warmup]) / (steps - warmup)


def plain_step(recipe: str, steps: int, warmup: int) -> float:
    """Seconds per step of a hand-written loop of the same networks."""
    from gankit.models.translation import (
        init_normal,
        patch_discriminator,
        resnet_translator,
        unet_generator,
    )

    a, b = torch.rand(1, 3, SIZE, SIZE) * 2 - 1, torch.rand(1, 3, SIZE, SIZE) * 2 - 1
    mse, bce = torch.nn.MSELoss(), torch.nn.BCEWithLogitsLoss()
    if recipe == "pix2pix":
        g = unet_generator(3, 3, SIZE, 64)
        d = init_normal(patch_discriminator(6, 64, 3))
        opt_g = torch.optim.Adam(g.parameters(), 2e-4, betas=(0.5, 0.999))
        opt_d = torch.optim.Adam(d.parameters(), 2e-4, betas=(0.5, 0.999))

        def step() -> None:
            fake = g(a)
            real_s, fake_s = d(torch.cat([a, b], 1)), d(torch.cat([a, fake.detach()], 1))
            loss_d = 0.5 * (bce(real_s, torch.ones_like(real_s)) +
                            bce(fake_s, torch.zeros_like(fake_s)))
            opt_d.zero_grad()
            loss_d.backward()
            opt_d.step()
            d.requires_grad_(False)
            s = d(torch.cat([a, fake], 1))
            loss_g = bce(s, torch.ones_like(s)) + 100 * (fake - b).abs().mean()
            opt_g.zero_grad()
            loss_g.backward()
            opt_g.step()
            d.requires_grad_(True)
    else:
        g_ab, g_ba = resnet_translator(3, 3, 64, 6), resnet_translator(3, 3, 64, 6)
        d_a, d_b = (init_normal(patch_discriminator(3, 64, 3, "instance")) for _ in range(2))
        opt_g = torch.optim.Adam([*g_ab.parameters(), *g_ba.parameters()], 2e-4,
                                 betas=(0.5, 0.999))
        opt_d = torch.optim.Adam([*d_a.parameters(), *d_b.parameters()], 2e-4,
                                 betas=(0.5, 0.999))
        pools: dict[str, list[torch.Tensor]] = {"a": [], "b": []}

        def pooled(name: str, x: torch.Tensor) -> torch.Tensor:
            pool = pools[name]
            if len(pool) < 50:
                pool.append(x.detach())
                return x.detach()
            if torch.rand(()) < 0.5:
                i = int(torch.randint(50, ()))
                pool[i], x = x.detach(), pool[i]
            return x.detach()

        def step() -> None:
            for net in (d_a, d_b):
                net.requires_grad_(False)
            fake_b, fake_a = g_ab(a), g_ba(b)
            sb, sa = d_b(fake_b), d_a(fake_a)
            loss_g = (mse(sb, torch.ones_like(sb)) + mse(sa, torch.ones_like(sa))
                      + 10 * ((g_ba(fake_b) - a).abs().mean() + (g_ab(fake_a) - b).abs().mean())
                      + 5 * ((g_ab(b) - b).abs().mean() + (g_ba(a) - a).abs().mean()))
            opt_g.zero_grad()
            loss_g.backward()
            opt_g.step()
            for net in (d_a, d_b):
                net.requires_grad_(True)
            loss_d = 0.0
            for net, real, fake in ((d_a, a, pooled("a", fake_a)), (d_b, b, pooled("b", fake_b))):
                r, f = net(real), net(fake)
                loss_d = loss_d + 0.5 * (mse(r, torch.ones_like(r)) + mse(f, torch.zeros_like(f)))
            opt_d.zero_grad()
            loss_d.backward()
            opt_d.step()
    for _ in range(warmup):
        step()
    start = time.perf_counter()
    for _ in range(steps - warmup):
        step()
    return (time.perf_counter() - start) / (steps - warmup)


def measure(kind: str, recipe: str, steps: int, warmup: int) -> dict[str, float]:
    """One measurement in a fresh process: seconds per step and peak RSS (MiB)."""
    out = subprocess.run([sys.executable, __file__, "--one", kind, recipe, "--steps", str(steps),
                          "--warmup", str(warmup)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=40)
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--one", nargs=2, metavar=("KIND", "RECIPE"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.one:
        kind, recipe = args.one
        fn = gankit_step if kind == "gankit" else plain_step
        seconds = fn(recipe, args.steps, args.warmup)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps({"seconds": seconds, "peak_mib": peak}))
        return
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {SIZE}×{SIZE}, "
          f"batch 1, {args.steps - args.warmup} timed steps after {args.warmup}\n")
    print("| recipe | gankit ms/step | plain loop ms/step | plain / gankit | gankit peak RSS | "
          "plain peak RSS |\n|---|---:|---:|---:|---:|---:|")
    for recipe in ("pix2pix", "cyclegan"):
        found: dict[str, list[dict[str, float]]] = {"gankit": [], "plain": []}
        for r in range(args.rounds):
            for kind in ("gankit", "plain"):
                progress(f"{recipe}, {kind}, round {r + 1} of {args.rounds}")
                found[kind].append(measure(kind, recipe, args.steps, args.warmup))
        g = min(m["seconds"] for m in found["gankit"])
        q = min(m["seconds"] for m in found["plain"])
        print(f"| {recipe} | {1000 * g:.0f} | {1000 * q:.0f} | {q / g:.2f}× | "
              f"{max(m['peak_mib'] for m in found['gankit']):.0f} MiB | "
              f"{max(m['peak_mib'] for m in found['plain']):.0f} MiB |", flush=True)


if __name__ == "__main__":
    run(main, "the table above holds only the recipes measured so far.")
