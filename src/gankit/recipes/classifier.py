"""``classifier``: a small CNN trained on labelled images, naturally or adversarially.

``adversarial.method``: ``none`` (natural training), ``pgd`` (Madry et al. 2018: train on PGD
examples) or ``fgsm-rs`` (Wong, Rice & Kolter 2020: FGSM from a random start, α = 1.25 ε).
Images are fed to the network in [0, 1] (the data's range is converted), so ε is in pixel units.

Catastrophic overfitting — FGSM training suddenly losing its robustness to PGD — is watched:
every ``adversarial.check_every`` steps the clean and PGD accuracy on a held-out slice of the
*training* split (``holdout`` images, never the test set) go to metrics.jsonl, and when the PGD
accuracy falls below ``adversarial.collapse`` × its best so far, the step is reported as a
divergence: the run stops, or with ``train.on_divergence: rollback`` returns to its last
checkpoint with the learning rate halved.

Capabilities: :class:`~gankit.recipes.capabilities.Classifies` (``gankit robustness`` and
:func:`gankit.robust.load_classifier` use it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import torch
import torch.nn.functional as F
from pydantic import Field, model_validator
from torch import nn

from gankit.config import RunConfig, ScheduleConfig
from gankit.data import Dataset
from gankit.data.ranges import to_unit
from gankit.data.sampler import Sampler, TensorSampler
from gankit.errors import GankitError
from gankit.models import DataSpec
from gankit.models.layers import eval_mode
from gankit.options import StrictModel, Width
from gankit.recipes.base import (
    RECIPES,
    Batch,
    HookContext,
    OneNetworkRecipe,
    Scalar,
    decay_schedule,
)
from gankit.recipes.capabilities import Classifies
from gankit.training.distributed import World
from gankit.training.guard import Diverged
from gankit.viz import save_image_grid


class ClassifierModelConfig(StrictModel):
    """Convolutions of stride 2 (``channels``, ``kernel_size``), then a dense layer."""

    channels: list[Width] = Field(default_factory=lambda: [16, 32], min_length=1, max_length=4)
    kernel_size: int = Field(4, ge=2, le=7)
    hidden: Width = 100


class ClassifierOptimConfig(ScheduleConfig):
    lr: float = Field(1e-3, gt=0.0, le=1.0)
    warmup: float = Field(0.0, ge=0.0, lt=1.0, description="share of the steps over which the "
                          "learning rate rises linearly from 0")


class AdversarialConfig(StrictModel):
    method: Literal["none", "pgd", "fgsm-rs"] = "none"
    eps: float = Field(0.3, gt=0.0, le=1.0, description="L∞ radius in pixels of [0, 1]")
    steps: int = Field(40, ge=1, le=1000, description="pgd: attack steps per training step")
    step_size: float | None = Field(None, gt=0.0, le=1.0, description="pgd: 0.01 by default; "
                                    "fgsm-rs: α, 1.25 · eps by default")
    eps_ramp: float = Field(0.0, ge=0.0, lt=1.0, description="share of the steps over which "
                            "eps rises linearly from 0")
    check_every: int = Field(500, ge=0, le=10**9, description="steps between held-out checks "
                             "(0 = off)")
    check_steps: int = Field(10, ge=1, le=1000, description="PGD steps of the held-out check")
    collapse: float = Field(0.2, ge=0.0, le=1.0, description="PGD accuracy below this share "
                            "of its best means catastrophic overfitting (0 = never)")


class ClassifierConfig(RunConfig):
    """A classifier run: the shared sections plus model, optim and adversarial."""

    model: ClassifierModelConfig = Field(default_factory=ClassifierModelConfig)
    optim: ClassifierOptimConfig = Field(default_factory=ClassifierOptimConfig)
    adversarial: AdversarialConfig = Field(default_factory=AdversarialConfig)
    holdout: int = Field(1000, ge=10, le=100_000, description="training images held out for "
                         "the checks")

    @model_validator(mode="after")
    def _fits(self) -> ClassifierConfig:
        if self.optim.warmup > self.optim.lr_decay_start and self.optim.lr_decay != "none":
            raise ValueError("optim.warmup must end before optim.lr_decay_start")
        return self


def cnn(opts: ClassifierModelConfig, spec: DataSpec) -> nn.Sequential:
    """Stride-2 convolutions with ReLU, a dense layer and the class logits."""
    channels, side = spec.sample_shape[0], spec.sample_shape[-1]
    k = opts.kernel_size
    layers: list[nn.Module] = []
    for width in opts.channels:
        layers += [nn.Conv2d(channels, width, k, stride=2, padding=(k - 1) // 2), nn.ReLU()]
        channels, side = width, (side + 2 * ((k - 1) // 2) - k) // 2 + 1
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(channels * side * side, opts.hidden),
                         nn.ReLU(), nn.Linear(opts.hidden, spec.num_classes))


@RECIPES.register("classifier")
class ClassifierRecipe(OneNetworkRecipe, Classifies):
    Config = ClassifierConfig
    scalars = (Scalar("loss", "loss"), Scalar("acc", "training accuracy", kind="share"),
               Scalar("eps", "ε", group="schedule", progress=False),
               Scalar("val_acc", "held-out accuracy", group="held-out", kind="share",
                      progress=False),
               Scalar("val_pgd_acc", "held-out PGD accuracy", group="held-out", kind="share",
                      progress=False))
    cfg: ClassifierConfig

    def __init__(self, cfg: ClassifierConfig, spec: DataSpec, device: torch.device) -> None:
        super().__init__(cfg, spec, device)
        if spec.kind != "image" or spec.num_classes < 2:
            raise GankitError(f"The classifier recipe needs labelled images, and {spec.name!r} "
                              "has none; use mnist, fashion-mnist, digits or a folder of "
                              "class sub-folders.")
        self.net = cnn(cfg.model, spec).to(device)
        self.net_train = self.net
        o, adv = cfg.optim, cfg.adversarial
        self.opt = torch.optim.Adam(self.net.parameters(), lr=o.lr)
        self.sched = torch.optim.lr_scheduler.LambdaLR(
            self.opt, decay_schedule(o.lr_decay, o.lr_decay_start, cfg.train.steps, o.warmup))
        self.step_size = adv.step_size or (0.01 if adv.method == "pgd" else 1.25 * adv.eps)
        self.steps_done = 0
        self.best_robust = 0.0
        self.val_x = self.val_y = None

    # ------------------------------------------------------------------ data

    def sampler(self, dataset: Dataset, batch_size: int, seed: int, world: World,
                device: torch.device) -> Sampler:
        """Batches of the training images in [0, 1] except a fixed held-out slice."""
        x = to_unit(dataset.rows(), dataset.normalize)
        perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed + 17))
        held, rest = perm[: self.cfg.holdout], perm[self.cfg.holdout:]
        self.val_x, self.val_y = x[held].to(device), dataset.labels[held].to(device)
        return TensorSampler({"x": x[rest].to(device), "labels": dataset.labels[rest].to(device)},
                             batch_size, seed, world.rank, world.size)

    # ------------------------------------------------------------------ training

    def current_eps(self) -> float:
        adv = self.cfg.adversarial
        ramp = adv.eps_ramp * self.cfg.train.steps
        return adv.eps if self.steps_done >= ramp else adv.eps * (self.steps_done + 1) / ramp

    def train_step(self, batches: list[Batch]) -> dict[str, torch.Tensor]:
        from gankit.robust.training import fgsm_rs, pgd_train

        x, y = batches[0]["x"], batches[0]["labels"]
        adv, eps = self.cfg.adversarial, self.current_eps()
        if adv.method == "fgsm-rs":
            x = fgsm_rs(self.net, x, y, eps, self.step_size * eps / adv.eps)
        elif adv.method == "pgd":
            x = pgd_train(self.net, x, y, eps, self.step_size, adv.steps)
        with self.autocast():
            logits = self.net_train(x)
        loss = F.cross_entropy(logits.float(), y)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        self.sched.step()
        self.steps_done += 1
        acc = (logits.detach().argmax(1) == y).float().mean()
        out = {"loss": loss.detach(), "acc": acc}
        if adv.method != "none":
            out["eps"] = torch.tensor(eps)
        return out

    def check(self, eps: float | None = None) -> dict[str, float]:
        """Clean and PGD accuracy on the held-out slice (eval mode, seeded attack)."""
        from gankit.robust.attacks import build_attack

        adv = self.cfg.adversarial
        attack = build_attack("pgd", self.net, eps or adv.eps, steps=adv.check_steps,
                              step_size=2.5 * (eps or adv.eps) / adv.check_steps, seed=0)
        clean = robust = 0.0
        for x, y in zip(self.val_x.split(500), self.val_y.split(500), strict=True):
            clean += float((self.classify(x).argmax(1) == y.cpu()).sum())
            robust += float((self.classify(attack(x, y)).argmax(1) == y.cpu()).sum())
        n = len(self.val_y)
        return {"val_acc": clean / n, "val_pgd_acc": robust / n}

    def hooks(self, context: HookContext) -> list:
        if not self.cfg.adversarial.check_every:
            return []
        return [RobustnessWatch(self, context)]

    # ------------------------------------------------------------------ the contract

    def state_dict(self) -> dict[str, Any]:
        return {"steps_done": self.steps_done, "best_robust": self.best_robust}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.steps_done = int(state["steps_done"])
        self.best_robust = float(state["best_robust"])

    # ------------------------------------------------------------------ capabilities

    @torch.no_grad()
    def classify(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of images ``x`` in [0, 1] (eval mode), on the CPU."""
        with eval_mode(self.net):
            return self.net(x.to(self.device)).float().cpu()

    def classifier(self) -> nn.Module:
        """The network: NCHW images in [0, 1] → logits."""
        return self.net

    def pictures(self, dataset: Dataset) -> AdversarialPictures:
        return AdversarialPictures(self)


class RobustnessWatch:
    """Every ``adversarial.check_every`` steps: held-out clean and PGD accuracy logged as
    ``val_*`` keys (metrics.jsonl, TensorBoard); a collapse of the PGD accuracy is reported as
    a divergence."""

    def __init__(self, recipe: ClassifierRecipe, context: HookContext) -> None:
        self.recipe, self.context = recipe, context
        self.every = recipe.cfg.adversarial.check_every

    def __call__(self, step: int, scalars: dict[str, torch.Tensor]) -> None:
        if step % self.every:
            return
        r, adv = self.recipe, self.recipe.cfg.adversarial
        result = r.check()
        if self.context.is_main:
            self.context.record({"step": step, **result})
            self.context.say(f"held-out at step {step} | accuracy {result['val_acc']:.1%} | "
                             f"PGD-{adv.check_steps} at ε {adv.eps:g} "
                             f"{result['val_pgd_acc']:.1%}")
        robust = result["val_pgd_acc"]
        if adv.method != "none" and robust < adv.collapse * r.best_robust:
            raise Diverged(step, f"catastrophic overfitting: held-out PGD accuracy fell from "
                                 f"{r.best_robust:.1%} to {robust:.1%}")
        r.best_robust = max(r.best_robust, robust)


class AdversarialPictures:
    """Held-out images (top rows) and their PGD adversarial versions at ε (bottom rows)."""

    def __init__(self, recipe: ClassifierRecipe) -> None:
        self.recipe = recipe

    def _grid(self, path: Path) -> Path:
        from gankit.robust.attacks import build_attack

        r = self.recipe
        x, y = r.val_x[:32], r.val_y[:32]
        adv = build_attack("pgd", r.net, r.cfg.adversarial.eps, steps=10, seed=0)(x, y)
        return save_image_grid(torch.cat([x, adv]).cpu(), path, normalize="unit", nrow=16)

    def progress(self, path: Path, step: int) -> Path:
        return self._grid(path)

    def final(self, run_dir: Path) -> list[Path]:
        return [self._grid(run_dir / "adversarial_final.png")]
