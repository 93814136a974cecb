"""Attack throughput (images/s) of gankit's FGSM, PGD-40 and APGD-CE against torchattacks'.

    python benchmarks/bench_attacks.py [--mnist-dir /work/shared/data/mnist] [--model net.pt]
        [--images 1000] [--rounds 3] [--eps 0.1] [--train-seconds 60] [--device cpu]
        [--threads N]

Both implementations attack the same model and the same MNIST test images: a small CNN trained
for ``--train-seconds`` inside the script, or a TorchScript file given with ``--model`` (images
``(N, 1, 28, 28)`` in [0, 1] → logits).  The two implementations alternate over ``--rounds``
rounds (who goes first alternates too); the table reports the median throughput and the robust
accuracy each reached, so that their agreement is visible.  Needs ``pip install --no-deps
torchattacks==3.5.1``.  Settings: FGSM; PGD with 40 steps of 2.5·ε/40 from a random start; APGD
with the CE loss, 100 steps, one restart.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from stopping import ROWS_SO_FAR, progress
from stopping import run as run_main
from torch import nn

from gankit.config import DataConfig
from gankit.data import load_dataset
from gankit.robust import build_attack


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def small_cnn() -> nn.Module:
    return nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, 10))


def train(x: torch.Tensor, y: torch.Tensor, seconds: float, device: torch.device) -> nn.Module:
    """The small CNN trained with Adam for about ``seconds`` (batches of 128)."""
    progress(f"training the small CNN for {seconds:g} s")
    torch.manual_seed(0)
    net = small_cnn().to(device)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    started, steps = time.perf_counter(), 0
    while time.perf_counter() - started < seconds:
        i = torch.randint(0, len(x), (128,))
        loss = F.cross_entropy(net(x[i].to(device)), y[i].to(device))
        opt.zero_grad()
        loss.backward()
        opt.step()
        steps += 1
    print(f"Trained the small CNN for {steps} steps ({time.perf_counter() - started:.0f} s).")
    return net.eval()


def accuracy(net: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return 100 * float((net(x).argmax(1) == y).float().mean())


def timed(run: Callable[[], torch.Tensor], device: torch.device) -> tuple[float, torch.Tensor]:
    if device.type == "cuda":
        torch.cuda.synchronize()
    started = time.perf_counter()
    out = run()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - started, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mnist-dir", default="/work/shared/data/mnist")
    parser.add_argument("--model", help="a TorchScript classifier instead of training one")
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--eps", type=float, default=0.1)
    parser.add_argument("--train-seconds", type=float, default=60.0)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    import torchattacks  # the peer; imported here so that --help works without it

    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)

    def split(name: str):
        return load_dataset(DataConfig(name="mnist", path=args.mnist_dir, normalize="unit",
                                       options={"split": name}))

    test = split("test")
    x = test.x[:args.images].to(device)
    y = torch.as_tensor(test.labels[:args.images]).long().to(device)
    if args.model:
        net = torch.jit.load(args.model, map_location=device).eval()
    else:
        train_set = split("train")
        net = train(train_set.x, torch.as_tensor(train_set.labels).long(), args.train_seconds,
                    device)
    net.requires_grad_(False)
    eps, steps = args.eps, 40
    alpha = 2.5 * eps / steps
    pairs = {
        "FGSM": (build_attack("fgsm", net, eps), torchattacks.FGSM(net, eps=eps)),
        "PGD-40": (build_attack("pgd", net, eps, steps=steps, step_size=alpha),
                   torchattacks.PGD(net, eps=eps, alpha=alpha, steps=steps, random_start=True)),
        "APGD-CE (100)": (build_attack("apgd-ce", net, eps, steps=100),
                          torchattacks.APGD(net, norm="Linf", eps=eps, steps=100, n_restarts=1,
                                            loss="ce", seed=0)),
    }
    gpu = f", {torch.cuda.get_device_name(device)}" if device.type == "cuda" else ""
    print(f"\nMachine: {cpu_model()}, {os.cpu_count()} cores, {torch.get_num_threads()} torch "
          f"threads, torch {torch.__version__}, torchattacks {torchattacks.__version__}, "
          f"device {device}{gpu}")
    print(f"Model: {args.model or 'small CNN trained in the script'}; {len(y)} MNIST test images, "
          f"ε = {eps:g} (L∞), clean accuracy {accuracy(net, x, y):.2f} %, "
          f"median of {args.rounds} rounds\n")
    print("| attack | gankit (img/s) | torchattacks (img/s) | gankit / torchattacks "
          "| robust acc. gankit | robust acc. torchattacks |")
    print("|---|---|---|---|---|---|")
    for label, (ours, peer) in pairs.items():
        times: dict[str, list[float]] = {"gankit": [], "torchattacks": []}
        accs: dict[str, float] = {}
        progress(f"{label}: {args.rounds} rounds of both implementations")
        for r in range(args.rounds):
            order = [("gankit", ours), ("torchattacks", peer)]
            for who, attack in order if r % 2 == 0 else order[::-1]:
                seconds, adv = timed(lambda a=attack: a(x, y), device)
                times[who].append(seconds)
                accs[who] = accuracy(net, adv, y)
        rate = {who: len(y) / statistics.median(t) for who, t in times.items()}
        print(f"| {label} | {rate['gankit']:,.0f} | {rate['torchattacks']:,.0f} "
              f"| {rate['gankit'] / rate['torchattacks']:.2f} | {accs['gankit']:.2f} % "
              f"| {accs['torchattacks']:.2f} % |", flush=True)


if __name__ == "__main__":
    run_main(main, ROWS_SO_FAR)
