"""Turn latent codes (and, for conditional runs, class codes) into images."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from gankit.errors import GankitError
from gankit.models.conditional import ConditionalGenerator
from gankit.recipes.capabilities import SamplesFromNoise
from gankit.run import Run


def device_of(run: Run) -> torch.device:
    """The device the run's generator lives on."""
    net = run.generator.generator(True)
    param = next(net.parameters(), None)
    return param.device if param is not None else torch.device("cpu")


def one_hot(labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Float one-hot class codes ``(N, K)``."""
    return F.one_hot(labels.long().cpu(), num_classes).float()


def require_images(run: Run, what: str) -> None:
    """Latent tools need a generator of pictures: stop with a clear message otherwise."""
    run.capability(SamplesFromNoise, what)
    if run.spec.kind != "image" or len(run.spec.sample_shape) != 3:
        raise GankitError(f"{what} needs a run trained on images, but {str(run.path)!r} was "
                          f"trained on {run.spec.kind} data ({run.spec.name}).")


@torch.no_grad()
def render(run: Run, z: torch.Tensor, codes: torch.Tensor | None = None, use_ema: bool = True,
           batch_size: int = 500, bar: tqdm | None = None) -> torch.Tensor:
    """Images (CPU, data range) of codes ``z`` (N, D), ``batch_size`` at a time (``bar``, a
    progress bar, counts them).

    Conditional runs also take class codes ``codes`` (N, K): one-hot rows draw that class;
    mixed rows (e.g. ``0.7·onehot(3) + 0.3·onehot(8)``) go straight into the inner G of a
    :class:`ConditionalGenerator`, which sees the class as a one-hot vector beside z.
    """
    if run.num_classes == 0:
        if codes is not None:
            raise GankitError(f"Run {str(run.path)!r} is not class-conditional; class codes need "
                              "a run trained with model.conditional=projection or acgan.")
        parts = [_counted(run.generator.generate(c, use_ema=use_ema).float().cpu(), bar)
                 for c in z.split(batch_size)]
        return torch.cat(parts)
    if codes is None or codes.shape != (len(z), run.num_classes):
        raise ValueError(f"a conditional run needs class codes of shape ({len(z)}, "
                         f"{run.num_classes})")
    labels = codes.argmax(1)
    if torch.allclose(codes.float().cpu(), one_hot(labels, run.num_classes), atol=1e-6):
        parts = [_counted(run.generator.generate(c, use_ema=use_ema, labels=y.to(c.device))
                          .float().cpu(), bar)
                 for c, y in zip(z.split(batch_size), labels.split(batch_size), strict=True)]
        return torch.cat(parts)
    net = run.generator.generator(use_ema)
    if not isinstance(net, ConditionalGenerator):
        raise GankitError(f"Mixing classes needs a generator that takes a one-hot class code; "
                          f"the generator of {str(run.path)!r} is a {type(net).__name__}.")
    return _mixed(net, z, codes, batch_size, bar)


def _counted(images: torch.Tensor, bar: tqdm | None) -> torch.Tensor:
    if bar is not None:
        bar.update(len(images))
    return images


def _mixed(net: ConditionalGenerator, z: torch.Tensor, codes: torch.Tensor,
           batch_size: int, bar: tqdm | None = None) -> torch.Tensor:
    """The inner G on ``[z, code]`` with arbitrary (mixed) class codes, in eval mode."""
    device = z.device
    was_training = net.training
    net.eval()
    try:
        parts = [_counted(_call(net.inner, torch.cat([c, k.to(device, c.dtype)], dim=1)), bar)
                 for c, k in zip(z.split(batch_size), codes.split(batch_size), strict=True)]
    finally:
        net.train(was_training)
    return torch.cat(parts)


def _call(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    return net(x).float().cpu()
