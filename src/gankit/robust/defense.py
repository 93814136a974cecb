"""Defense-GAN (Samangouei, Kabkab & Chellappa 2018), evaluated honestly.

The defence projects an input onto the range of a trained generator — the code z* that
minimises ‖G(z) − x‖² (gankit's latent projection: Adam on z, the best of several random
starts) — and classifies G(z*) instead of x. Two attacks are run against it, side by side:

- **plain**: PGD against the classifier alone (the attacker does not know about the defence);
  the defended model then classifies the adversarial images. This is the number the paper
  reported as robust.
- **BPDA** (Athalye, Carlini & Wagner 2018): PGD against the whole defended model, with the
  projection's gradient approximated by the identity (the straight-through estimator). This
  adaptive attack is known to break Defense-GAN.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from gankit.data.ranges import from_unit, to_unit
from gankit.robust.attacks import build_attack
from gankit.run import Run


class DefenseGAN(nn.Module):
    """``classifier(G(z*(x)))`` for images ``x`` in [0, 1]; ``bpda=True`` passes the gradient
    straight through the projection."""

    def __init__(self, classifier: nn.Module, run: Run, steps: int = 200, restarts: int = 4,
                 bpda: bool = False) -> None:
        super().__init__()
        self.classifier, self.run = classifier, run
        self.steps, self.restarts, self.bpda = steps, restarts, bpda
        run.generator  # noqa: B018  (refuses a run that cannot sample from noise)

    def purify(self, x: torch.Tensor) -> torch.Tensor:
        """G(z*) of each image, in [0, 1]."""
        from gankit.latent.projection import project

        images = from_unit(x.detach().cpu(), self.run.spec.normalize)
        found = project(self.run, images, steps=self.steps, restarts=self.restarts)
        return to_unit(found.reconstruction, self.run.spec.normalize).to(x.device)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        purified = self.purify(x)
        if self.bpda:  # forward: the purified image; backward: the identity
            purified = x + (purified - x).detach()
        return self.classifier(purified)


def defense_gan_robustness(classifier: nn.Module, run: Run, x: torch.Tensor, y: torch.Tensor,
                           eps: float, steps: int = 20, projection_steps: int = 200,
                           restarts: int = 4, batch_size: int = 100,
                           seed: int = 0, progress: bool = True) -> dict[str, Any]:
    """Accuracy of the undefended and the defended classifier, clean and under the plain and
    the BPDA PGD attack at ``eps`` (L∞), with the protocol (a progress bar per batch)."""
    defended = DefenseGAN(classifier, run, projection_steps, restarts)
    through = DefenseGAN(classifier, run, projection_steps, restarts, bpda=True)
    plain = build_attack("pgd", classifier, eps, steps=steps, seed=seed)
    adaptive = build_attack("pgd", through, eps, steps=steps, seed=seed)
    hits: dict[str, list[torch.Tensor]] = {k: [] for k in (
        "undefended clean", "undefended PGD", "Defense-GAN clean", "Defense-GAN plain PGD",
        "Defense-GAN BPDA PGD")}
    batches = tqdm(list(zip(x.split(batch_size), y.split(batch_size), strict=True)),
                   desc=f"Defense-GAN ε={eps:g}", unit="batch", leave=False,
                   disable=not progress)
    for xb, yb in batches:
        adv = plain(xb, yb)
        bpda = adaptive(xb, yb)
        with torch.no_grad():
            for key, model, images in (("undefended clean", classifier, xb),
                                       ("undefended PGD", classifier, adv),
                                       ("Defense-GAN clean", defended, xb),
                                       ("Defense-GAN plain PGD", defended, adv),
                                       ("Defense-GAN BPDA PGD", defended, bpda)):
                hits[key].append((model(images).argmax(1) == yb).cpu())
    return {"accuracy": {k: 100 * float(torch.cat(v).float().mean()) for k, v in hits.items()},
            "protocol": {"defense": "Defense-GAN (projection onto the generator's range)",
                         "generator_run": str(run.path), "generator_step": run.step,
                         "projection": {"steps": projection_steps, "restarts": restarts,
                                        "optimiser": "Adam on z, lr 0.05, pixel MSE"},
                         "attack": plain.protocol(), "bpda": "identity gradient through the "
                         "projection (Athalye et al. 2018)", "samples": len(y)}}
