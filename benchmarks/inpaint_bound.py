"""How much of a centre-masked MNIST digit can any inpainter keep? A small CNN trained on the
masked training inputs of ``mnist-inpaint`` names the masked test digits: its accuracy is a lower
estimate of the best accuracy any function of the masked input allows, so an inpainter's
recogniser score cannot be expected above it.

    OMP_NUM_THREADS=1 python benchmarks/inpaint_bound.py --data-dir /work/shared/data

Prints one Markdown row per mask size and epoch (test accuracy on the masked inputs).
"""

from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F
from stopping import ROWS_SO_FAR, progress, run
from torch import nn


def masked_digits(data_dir: str, split: str, mask_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The masked inputs (A) of ``mnist-inpaint`` and their digits."""
    from gankit.config import DataConfig
    from gankit.data import load_dataset

    ds = load_dataset(DataConfig(name="mnist-inpaint", path=data_dir,
                                 options={"split": split, "mask_size": mask_size}))
    labels = ds.labels_a if ds.labels_a is not None else ds.labels
    assert ds.a is not None and labels is not None
    return ds.a, labels


def small_cnn() -> nn.Module:
    return nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Dropout(0.3),
                         nn.Linear(128, 10))


@torch.no_grad()
def accuracy(net: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    net.eval()
    right = sum(int((net(x[i:i + 1000]).argmax(1) == y[i:i + 1000]).sum())
                for i in range(0, len(x), 1000))
    net.train()
    return right / len(x)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", required=True)
    p.add_argument("--mask-size", type=int, nargs="+", default=[14, 10])
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    print("| centre mask | epoch | accuracy on masked test digits |\n|---:|---:|---:|", flush=True)
    for size in args.mask_size:
        progress(f"mask {size} px: loading and training")
        x, y = masked_digits(args.data_dir, "train", size)
        xt, yt = masked_digits(args.data_dir, "test", size)
        torch.manual_seed(args.seed)
        net = small_cnn()
        opt = torch.optim.Adam(net.parameters(), 1e-3)
        for epoch in range(1, args.epochs + 1):
            for idx in torch.randperm(len(x)).split(128):
                loss = F.cross_entropy(net(x[idx]), y[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
            print(f"| {size} px | {epoch} | {accuracy(net, xt, yt):.2%} |", flush=True)


if __name__ == "__main__":
    run(main, ROWS_SO_FAR)
