"""Multi-process training with PyTorch's own engine (torchrun + torch.distributed).

Under ``torchrun`` every process trains on its own shard of each global batch; G and D are
wrapped in DistributedDataParallel so gradients are averaged (gloo on CPU, NCCL on GPU), and
rank 0 alone writes files. Outside torchrun everything here is a no-op.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import nn


@dataclass(frozen=True)
class World:
    """This process's place among the training processes."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.size > 1


def join(device: torch.device) -> tuple[World, torch.device]:
    """Join the process group torchrun describes in the environment (if any)."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size == 1:
        return World(), device
    world = World(int(os.environ["RANK"]), size, int(os.environ.get("LOCAL_RANK", "0")))
    if device.type == "cuda":
        device = torch.device("cuda", world.local_rank)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        _owned.append(True)
    return world, device


_owned: list[bool] = []  # set while a process group that join() created is open


def leave() -> None:
    """Close the process group join() opened (one a caller opened stays open).

    Left open, gloo's worker threads can abort the process as the interpreter exits
    ("terminate called without an active exception")."""
    if _owned and dist.is_initialized():
        dist.destroy_process_group()
    _owned.clear()


def wrap(module: nn.Module, world: World, device: torch.device) -> nn.Module:
    """DDP around ``module`` when distributed (parameters broadcast from rank 0), else itself."""
    if not world.enabled:
        return module
    ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(module, device_ids=ids)


def barrier(world: World) -> None:
    if world.enabled:
        dist.barrier()


def gather(obj: Any, world: World) -> list[Any]:
    """Every rank's ``obj``, in rank order (just ``[obj]`` when not distributed)."""
    if not world.enabled:
        return [obj]
    out: list[Any] = [None] * world.size
    dist.all_gather_object(out, obj)
    return out


def all_max(value: torch.Tensor, world: World) -> torch.Tensor:
    if world.enabled:
        dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return value


def all_mean(value: torch.Tensor, world: World) -> torch.Tensor:
    if world.enabled:
        dist.all_reduce(value)
        value = value / world.size
    return value


def weights_digest(modules: dict[str, nn.Module]) -> str:
    """SHA-256 of every parameter's bytes: equal on all ranks when they are in sync."""
    digest = hashlib.sha256()
    for name, module in sorted(modules.items()):
        for key, param in sorted(module.named_parameters()):
            digest.update(f"{name}.{key}".encode())
            digest.update(param.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()
