"""Seconds per training step: gankit's loop against a plain PyTorch loop of the same GAN.

    python benchmarks/bench_step.py [--mnist-dir /work/shared/data/mnist] [--device cpu|cuda]
        [--models mlp dcgan] [--rounds 9] [--steps 10] [--warmup 5] [--json results.json]

For each MNIST model (``seed-mlp``, ``seed-dcgan``) one worker process builds every configuration
below, runs ``--warmup`` steps of each (discarded), then ``--rounds`` rounds in which every
configuration in turn (rotating the order each round) runs a block of ``--steps`` steps. The
median seconds per step over the blocks is reported, with images/s and the ratio
``plain / configuration`` (≥ 1 means the configuration is faster than the plain loop).

* gankit: the preset's RunConfig with ``data.path``, the recipe, its sampler and
  DivergenceGuard built by gankit's own ``Trainer`` (no file-writing hooks), timed through
  ``gankit.training.loop.run_loop``: sampler.next × batches_per_step + recipe.train_step + guard.
  Variants: ``train.amp=bf16``; channels_last G, D and data (DCGAN); the recipe's Adam optimisers
  swapped for ``foreach=True`` or ``fused=True`` ones.
* plain: the same networks written by hand with ``nn.Sequential`` (sigmoid D output and
  ``nn.BCELoss`` against ``torch.ones``/``torch.zeros``), a ``DataLoader`` over a
  ``TensorDataset`` (shuffle, drop_last), Adam(2e-4, (0.5, 0.999)), ``.item()`` on both losses
  every step: the PyTorch-tutorial loop. ``plain`` reuses the D step's ``G(z)`` for the G step
  (as the PyTorch DCGAN tutorial does); ``plain, fresh z`` draws new noise for the G step, as
  gankit does (one more G forward per step).

Peak memory: every configuration is run again alone in its own process; after the data is
loaded the peak is reset (``/proc/self/clear_refs``) and the peak RSS (``ru_maxrss``) after
``--warmup + --steps`` steps is reported, with its increase over the RSS just before the models
were built (interpreter, torch, gankit's and the plain loop's modules, the data set). On CUDA
also ``torch.cuda.max_memory_allocated``.

Only one PyTorch process runs at a time (the parent only waits), so timings are not disturbed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stopping import progress
from stopping import run as run_main

from gankit.fileio import atomic_write_text

if TYPE_CHECKING:
    import torch
    from torch import nn

PRESETS = {"mlp": "seed-mlp", "dcgan": "seed-dcgan"}


@dataclass(frozen=True)
class Variant:
    """One measured configuration."""

    name: str
    plain: bool = False
    fresh_z: bool = False  # plain only: new noise for the G step (gankit's algorithm)
    amp: bool = False  # gankit only: train.amp=bf16
    channels_last: bool = False  # gankit only: G, D and data in channels_last
    adam: str = "default"  # gankit only: "default" (as the recipe builds it), "foreach", "fused"


def variants(model: str) -> list[Variant]:
    out = [Variant("plain (tutorial)", plain=True),
           Variant("plain, fresh z for G step", plain=True, fresh_z=True),
           Variant("gankit"),
           Variant("gankit + bf16", amp=True),
           Variant("gankit + foreach Adam", adam="foreach"),
           Variant("gankit + fused Adam", adam="fused"),
           Variant("gankit + bf16 + fused Adam", amp=True, adam="fused")]
    if model == "dcgan":
        out += [Variant("gankit + channels_last", channels_last=True),
                Variant("gankit + channels_last + bf16", channels_last=True, amp=True),
                Variant("gankit + channels_last + bf16 + fused Adam", channels_last=True,
                        amp=True, adam="fused")]
    return out


# ---------------------------------------------------------------- the plain PyTorch loop


def plain_models(model: str) -> tuple[nn.Module, nn.Module]:
    """The preset's G and D written out by hand, as a tutorial would."""
    from torch import nn

    if model == "mlp":
        g = nn.Sequential(
            nn.Linear(100, 256), nn.ReLU(), nn.BatchNorm1d(256),
            nn.Linear(256, 512), nn.ReLU(), nn.BatchNorm1d(512),
            nn.Linear(512, 1024), nn.ReLU(), nn.BatchNorm1d(1024),
            nn.Dropout(0.5),
            nn.Linear(1024, 784), nn.Sigmoid(),
            nn.Unflatten(1, (1, 28, 28)),
        )
        d = nn.Sequential(
            nn.Flatten(), nn.Dropout(0.5),
            nn.Linear(784, 512), nn.ReLU(),
            nn.Linear(512, 256), nn.ReLU(),
            nn.Linear(256, 1), nn.Sigmoid(),
        )
        return g, d
    g = nn.Sequential(
        nn.Linear(100, 7 * 7 * 256), nn.BatchNorm1d(7 * 7 * 256), nn.LeakyReLU(0.2),
        nn.Unflatten(1, (256, 7, 7)),
        nn.ConvTranspose2d(256, 128, 5, stride=1, padding=2),
        nn.BatchNorm2d(128), nn.LeakyReLU(0.2),
        nn.ConvTranspose2d(128, 64, 5, stride=2, padding=2, output_padding=1),
        nn.BatchNorm2d(64), nn.LeakyReLU(0.2),
        nn.ConvTranspose2d(64, 1, 5, stride=2, padding=2, output_padding=1),
        nn.Sigmoid(),
    )
    d = nn.Sequential(
        nn.Conv2d(1, 64, 5, stride=2, padding=2), nn.LeakyReLU(0.2), nn.Dropout(0.3),
        nn.Conv2d(64, 128, 5, stride=2, padding=2), nn.LeakyReLU(0.2), nn.Dropout(0.3),
        nn.Flatten(),
        nn.Linear(128 * 7 * 7, 1), nn.Sigmoid(),
    )
    return g, d


PLAIN_SETTINGS = {"mlp": {"batch_size": 128, "noise": "uniform"},
                  "dcgan": {"batch_size": 64, "noise": "gaussian"}}


def plain_training(model: str, images: torch.Tensor, device: torch.device,
                   fresh_z: bool) -> tuple[Iterator[tuple[float, float]], nn.Module, nn.Module]:
    """The tutorial loop as a generator: every ``next`` is one training step."""
    import torch
    from torch import nn
    from torch.utils.data import DataLoader, TensorDataset

    batch_size = PLAIN_SETTINGS[model]["batch_size"]
    uniform = PLAIN_SETTINGS[model]["noise"] == "uniform"
    G, D = plain_models(model)
    G, D = G.to(device), D.to(device)
    loader = DataLoader(TensorDataset(images), batch_size=batch_size, shuffle=True,
                        drop_last=True)
    criterion = nn.BCELoss()
    opt_g = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))

    def noise(n: int) -> torch.Tensor:
        if uniform:
            return torch.rand(n, 100, device=device)
        return torch.randn(n, 100, device=device)

    def loop() -> Iterator[tuple[float, float]]:
        while True:  # epochs
            for (real,) in loader:
                real = real.to(device)
                n = real.size(0)
                ones = torch.ones(n, 1, device=device)
                zeros = torch.zeros(n, 1, device=device)
                # discriminator: real images → 1, generated images → 0
                fake = G(noise(n))
                opt_d.zero_grad()
                d_loss = criterion(D(real), ones) + criterion(D(fake.detach()), zeros)
                d_loss.backward()
                opt_d.step()
                # generator: make D output 1 on generated images
                if fresh_z:
                    fake = G(noise(n))
                opt_g.zero_grad()
                g_loss = criterion(D(fake), ones)
                g_loss.backward()
                opt_g.step()
                yield d_loss.item(), g_loss.item()

    return loop(), G, D


# ---------------------------------------------------------------- gankit


def gankit_stepper(model: str, variant: Variant, dataset: Any, device: str,
                   run_dir: Path) -> tuple[Callable[[int], None], nn.Module, nn.Module]:
    """A function running ``n`` steps of gankit's loop, and the recipe's G and D."""
    import torch
    from tqdm.auto import tqdm

    from gankit.config import build_config
    from gankit.training.loop import run_loop
    from gankit.training.trainer import Trainer

    overrides: dict[str, Any] = {"device": device,
                                 "train": {"amp": "bf16" if variant.amp else "off"}}
    cfg = build_config(PRESETS[model], None, overrides)
    settings = PLAIN_SETTINGS[model]
    assert cfg.train.batch_size == settings["batch_size"], "plain loop batch size is stale"
    assert cfg.model.noise == settings["noise"], "plain loop noise is stale"
    assert cfg.optim.d_steps == 1 and cfg.loss.name == "ns", "plain loop algorithm is stale"
    trainer = Trainer(cfg, run_dir, dataset, progress=False)
    recipe, sampler, guard = trainer.recipe, trainer.sampler, trainer.guard
    if variant.channels_last:
        recipe.G.to(memory_format=torch.channels_last)
        recipe.D.to(memory_format=torch.channels_last)
        sampler.fields["x"] = sampler.fields["x"].contiguous(memory_format=torch.channels_last)
    if variant.adam != "default":
        o = cfg.optim
        flag = {variant.adam: True}
        recipe.opt_g = torch.optim.Adam(recipe.G.parameters(), lr=o.g_lr,
                                        betas=(o.beta1, o.beta2), **flag)
        recipe.opt_d = torch.optim.Adam(recipe.D.parameters(), lr=o.d_lr,
                                        betas=(o.beta1, o.beta2), **flag)
    bar = tqdm(disable=True)
    state = {"step": 0}

    def run(n: int) -> None:
        state["step"] = run_loop(recipe, sampler, state["step"], state["step"] + n, [guard], bar)

    return run, recipe.G, recipe.D


# ---------------------------------------------------------------- workers


def load_images(mnist_dir: str) -> Any:
    from gankit.config import build_config
    from gankit.data import load_dataset

    cfg = build_config("seed-mlp", None, {"data": {"path": mnist_dir}})
    return load_dataset(cfg.data)


def count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def build(model: str, variant: Variant, dataset: Any, device: str,
          run_dir: Path) -> tuple[Callable[[int], None], nn.Module, nn.Module]:
    """A function running ``n`` training steps of ``variant``."""
    import torch

    if not variant.plain:
        return gankit_stepper(model, variant, dataset, device, run_dir)
    steps, G, D = plain_training(model, dataset.x, torch.device(device), variant.fresh_z)

    def run(n: int) -> None:
        for _ in range(n):
            next(steps)

    return run, G, D


def synchronize(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def time_worker(args: argparse.Namespace) -> dict[str, Any]:
    """Alternate every configuration of one model; median seconds per step of each."""
    import torch

    dataset = load_images(args.mnist_dir)
    todo = variants(args.model)
    runners: dict[str, Callable[[int], None]] = {}
    params: dict[str, tuple[int, int]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for i, variant in enumerate(todo):
            run, G, D = build(args.model, variant, dataset, args.device, Path(tmp) / f"run{i}")
            runners[variant.name] = run
            params[variant.name] = (count(G), count(D))
        counts = set(params.values())
        assert len(counts) == 1, f"parameter counts differ between G/D versions: {params}"
        for variant in todo:
            runners[variant.name](args.warmup)
        synchronize(args.device)
        blocks: dict[str, list[float]] = {v.name: [] for v in todo}
        for r in range(args.rounds):
            order = todo[r % len(todo):] + todo[: r % len(todo)]
            for variant in order:
                synchronize(args.device)
                start = time.perf_counter()
                runners[variant.name](args.steps)
                synchronize(args.device)
                blocks[variant.name].append((time.perf_counter() - start) / args.steps)
    g_params, d_params = counts.pop()
    return {"model": args.model, "blocks": blocks, "g_params": g_params, "d_params": d_params,
            "batch_size": PLAIN_SETTINGS[args.model]["batch_size"],
            "torch": torch.__version__, "threads": torch.get_num_threads(),
            "variants": [asdict(v) for v in todo]}


def rss_mib() -> float:
    text = Path("/proc/self/status").read_text()
    found = re.search(r"VmRSS:\s+(\d+) kB", text)
    return int(found.group(1)) / 1024 if found else float("nan")


def memory_worker(args: argparse.Namespace) -> dict[str, Any]:
    """Peak memory of one configuration, alone in this process."""
    import torch
    from torch.utils.data import DataLoader  # noqa: F401  (both sides' modules count as baseline)

    import gankit.training.trainer  # noqa: F401

    dataset = load_images(args.mnist_dir)
    variant = next(v for v in variants(args.model) if v.name == args.variant)
    try:  # forget the data loader's transient peak
        Path("/proc/self/clear_refs").write_text("5")
        reset = True
    except OSError:
        reset = False
    baseline = rss_mib()
    cuda = args.device.startswith("cuda")
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    with tempfile.TemporaryDirectory() as tmp:
        run, _, _ = build(args.model, variant, dataset, args.device, Path(tmp) / "run")
        run(args.warmup + args.steps)
        synchronize(args.device)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out: dict[str, Any] = {"peak_rss_mib": peak, "baseline_rss_mib": baseline,
                           "peak_reset": reset}
    if cuda:
        out["cuda_peak_mib"] = torch.cuda.max_memory_allocated() / 2**20
    return out


# ---------------------------------------------------------------- the parent


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def call_worker(args: argparse.Namespace, extra: list[str]) -> dict[str, Any]:
    command = [sys.executable, str(Path(__file__).resolve()), "--mnist-dir", args.mnist_dir,
               "--device", args.device, "--rounds", str(args.rounds), "--steps", str(args.steps),
               "--warmup", str(args.warmup), *extra]
    done = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def table(result: dict[str, Any], memory: dict[str, dict[str, Any]], device: str) -> str:
    blocks: dict[str, list[float]] = result["blocks"]
    med = {name: statistics.median(times) for name, times in blocks.items()}
    plain, ours = med["plain (tutorial)"], med["gankit"]
    images = result["batch_size"]
    cuda = device.startswith("cuda")
    head = ("| configuration | ms/step (median) | min–max | images/s | plain / this | "
            "gankit / this | peak RSS (MiB) | RSS over baseline (MiB) |")
    if cuda:
        head += " CUDA peak (MiB) |"
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for name, times in blocks.items():
        m = memory.get(name, {})
        row = (f"| {name} | {1e3 * med[name]:.2f} | {1e3 * min(times):.2f}–"
               f"{1e3 * max(times):.2f} | {images / med[name]:,.0f} | "
               f"{plain / med[name]:.2f} | {ours / med[name]:.2f} | "
               f"{m.get('peak_rss_mib', float('nan')):,.0f} | "
               f"{m.get('peak_rss_mib', float('nan')) - m.get('baseline_rss_mib', 0.0):,.0f} |")
        if cuda:
            row += f" {m.get('cuda_peak_mib', float('nan')):,.0f} |"
        lines.append(row)
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mnist-dir", default="/work/shared/data/mnist",
                        help="folder with the MNIST IDX files (gankit's data.path)")
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    parser.add_argument("--models", nargs="+", choices=sorted(PRESETS), default=["mlp", "dcgan"])
    parser.add_argument("--rounds", type=int, default=9, help="timed blocks per configuration")
    parser.add_argument("--steps", type=int, default=10, help="training steps per block")
    parser.add_argument("--warmup", type=int, default=5, help="discarded steps per configuration")
    parser.add_argument("--no-memory", action="store_true", help="skip the peak memory runs")
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    parser.add_argument("--worker", choices=["time", "memory"], help=argparse.SUPPRESS)
    parser.add_argument("--model", choices=sorted(PRESETS), help=argparse.SUPPRESS)
    parser.add_argument("--variant", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        work = time_worker if args.worker == "time" else memory_worker
        print(json.dumps(work(args)))
        return

    start = time.perf_counter()
    results: dict[str, Any] = {}
    for model in args.models:
        progress(f"{model}: step times of every configuration")
        timing = call_worker(args, ["--worker", "time", "--model", model])
        memory: dict[str, dict[str, Any]] = {}
        if not args.no_memory:
            for name in timing["blocks"]:
                progress(f"{model}: peak memory of {name}")
                memory[name] = call_worker(args, ["--worker", "memory", "--model", model,
                                                  "--variant", name])
        results[model] = {"timing": timing, "memory": memory}
    any_result = next(iter(results.values()))["timing"]
    print(f"Machine: {cpu_model()}, {os.cpu_count()} cores, torch {any_result['torch']}, "
          f"{any_result['threads']} threads, Python {platform.python_version()}, "
          f"device {args.device}")
    print(f"Settings: {args.warmup} warm-up steps, then {args.rounds} rounds × {args.steps} "
          f"steps per configuration, alternating; medians over rounds. "
          f"Total {time.perf_counter() - start:.0f} s.")
    for model, res in results.items():
        timing = res["timing"]
        print(f"\n### {PRESETS[model]} (batch {timing['batch_size']}, G {timing['g_params']:,} "
              f"+ D {timing['d_params']:,} parameters)\n")
        print(table(timing, res["memory"], args.device))
    if args.json:
        atomic_write_text(args.json, json.dumps(results, indent=1))


if __name__ == "__main__":
    run_main(main, "no result table was written (and no --json file).")
