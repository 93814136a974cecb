"""Project real images into the latent space: find the code whose image matches each one.

GAN runs optimise z (Adam on z, pixel MSE on images scaled to [0, 1], several random starts, the
best kept). Gaussian codes are kept near the shell where N(0, I) codes live by a small penalty
on ``(|z|/√D − 1)²``; uniform codes are clamped to [0, 1]. Conditional runs project with the
given class, or try every class and keep the one that fits best. Recipes with an ``encode(x)``
method (the VAE) use their encoder instead (its mean, when it returns mean and log-variance).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from tqdm.auto import tqdm

from gankit.data.ranges import to_unit
from gankit.errors import GankitError
from gankit.latent.render import device_of, one_hot, render
from gankit.recipes.capabilities import Encodes
from gankit.run import Run


@dataclass
class Projection:
    """Codes found for N images and how well their images match.

    ``error`` is the per-image mean squared pixel error on the [0, 1] scale; ``history`` the mean
    over images of the best candidate's error at each optimisation step (0 = the random start).
    """

    z: torch.Tensor
    labels: torch.Tensor | None
    reconstruction: torch.Tensor
    error: torch.Tensor
    history: torch.Tensor
    method: str

    @property
    def mean_error(self) -> float:
        return float(self.error.mean())


def _unit(x: torch.Tensor, run: Run) -> torch.Tensor:
    """The run's data range → [0, 1] without clamping (keeps gradients everywhere)."""
    return to_unit(x, run.spec.normalize, clamp=False, detach=False)


def project(run: Run, images: torch.Tensor, labels: torch.Tensor | None = None, *,
            steps: int = 300, restarts: int = 4, lr: float = 0.05, prior_weight: float = 0.01,
            seed: int = 0, use_ema: bool = True, progress: bool = False) -> Projection:
    """Codes for ``images`` (N, C, H, W) in the run's data range; see the module docstring.

    ``labels`` (N,) fix the class for conditional runs (None: the best-fitting class).
    """
    if images.ndim != 4 or tuple(images.shape[1:]) != tuple(run.spec.sample_shape):
        shape = ", ".join(map(str, run.spec.sample_shape))
        raise GankitError(f"Images to project must be (N, {shape}) like the run's data, got "
                          f"{tuple(images.shape)}.")
    if labels is not None:
        labels = run.labels_for(len(images), labels)
    if isinstance(run.recipe, Encodes):
        return _encode(run, images, labels, use_ema)
    if steps < 1 or restarts < 1:
        raise GankitError(f"Projection needs at least 1 step and 1 restart (got {steps} steps, "
                          f"{restarts} restarts).")
    return _optimise(run, images, labels, steps, restarts, lr, prior_weight, seed, use_ema,
                     progress)


@torch.no_grad()
def _encode(run: Run, images: torch.Tensor, labels: torch.Tensor | None,
            use_ema: bool) -> Projection:
    device = device_of(run)
    z = run.capability(Encodes, "Projection").encode(images.to(device)).detach().float()
    codes = one_hot(labels, run.num_classes) if run.num_classes and labels is not None else None
    if run.num_classes and codes is None:
        raise GankitError("Projecting with an encoder on a conditional run needs the images' "
                          "classes; pass --label.")
    recon = render(run, z, codes, use_ema)
    err = _unit(recon, run) - _unit(images, run)
    error = err.pow(2).flatten(1).mean(1)
    return Projection(z.cpu(), labels, recon, error, error.mean()[None], "encoder")


def _optimise(run: Run, images: torch.Tensor, labels: torch.Tensor | None, steps: int,
              restarts: int, lr: float, prior_weight: float, seed: int, use_ema: bool,
              progress: bool) -> Projection:
    n, device, k = len(images), device_of(run), run.num_classes
    classes = (labels[:, None] if labels is not None else torch.arange(k).expand(n, k)) if k \
        else torch.zeros(n, 1, dtype=torch.long)
    per_image = classes.shape[1] * restarts  # candidates per image: classes × random starts
    cand_labels = classes.repeat_interleave(restarts, dim=1).reshape(-1).to(device)
    gen = torch.Generator().manual_seed(seed)
    z = run.generator.noise(n * per_image, gen).detach().clone().float().to(device)
    z.requires_grad_(True)
    target = _unit(images, run).to(device).repeat_interleave(per_image, 0)
    net = run.generator.generator(use_ema)
    noise_kind = run.generator.latent_kind
    dim = z.shape[1]
    was_training, flags = net.training, [p.requires_grad for p in net.parameters()]
    grad_was_on = torch.is_grad_enabled()
    net.eval()
    net.requires_grad_(False)
    opt = torch.optim.Adam([z], lr=lr)
    history = []

    def errors() -> torch.Tensor:
        out = net(z, cand_labels) if k else net(z)
        return (_unit(out, run) - target).pow(2).flatten(1).mean(1)

    try:
        torch.set_grad_enabled(True)  # projecting optimises z, even when called under no_grad
        for step in tqdm(range(steps + 1), desc="projecting", unit="step", leave=False,
                         disable=not progress):
            err = errors()
            history.append(float(err.detach().view(n, per_image).min(1).values.mean()))
            if step == steps:
                break
            loss = err.sum()
            if prior_weight > 0 and noise_kind != "uniform":
                loss = loss + prior_weight * ((z.norm(dim=1) / math.sqrt(dim)) - 1.0).pow(2).sum()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if noise_kind == "uniform":
                with torch.no_grad():
                    z.clamp_(0.0, 1.0)
        with torch.no_grad():
            final = errors().view(n, per_image)
            best = final.argmin(1)
            pick = torch.arange(n, device=device) * per_image + best
            z_best = z.detach()[pick].cpu()
            chosen = cand_labels[pick].cpu() if k else None
    finally:
        torch.set_grad_enabled(grad_was_on)
        net.train(was_training)
        for p, flag in zip(net.parameters(), flags, strict=True):
            p.requires_grad_(flag)
    codes = one_hot(chosen, k) if k else None
    recon = render(run, z_best.to(device), codes, use_ema)
    error = _unit(recon, run) - _unit(images, run)
    error = error.pow(2).flatten(1).mean(1)
    return Projection(z_best, chosen, recon, error, torch.tensor(history), "optimise")
