"""``ganomaly``: the GANomaly anomaly detector (Akçay, Atapour-Abarghouei & Breckon 2018).

Trained on normal data only (``data.classes`` picks the normal classes). The generator is an
autoencoder with a second encoder (:mod:`gankit.models.ganomaly`): ``z = G_E(x)``,
``x̂ = G_D(z)``, ``ẑ = E(x̂)``; the discriminator D is the family's discriminator, whose features
``f`` under its scoring layer are compared. One step updates the generator, then D:

    L_G = w_adv · ‖f(x) − f(x̂)‖² + w_con · ‖x − x̂‖₁ + w_enc · ‖z − ẑ‖²   (means over elements)
    L_D = ½ (BCE(D(x), 1) + BCE(D(x̂), 0))

with the paper's weights 1, 50 and 1 and Adam (2e-4, β₁ 0.5) for both. As in the reference
code, D is re-initialised when its loss collapses (below ``anomaly.reinit_d``; checked every
:data:`REINIT_CHECK` steps so that training steps do not wait on the device).

The anomaly score of x is the latent distance ``‖G_E(x) − E(G_D(G_E(x)))‖²``: an image unlike
the normal data is reconstructed as a normal one, whose code differs from its own.

Two pitfalls of the reference code are avoided:

- scoring runs in eval mode: BatchNorm uses its running statistics and learns nothing from
  the scored images (which also makes a sample's score independent of its batch);
- nothing is selected on test data. A seeded share ``anomaly.holdout`` of the *normal*
  training data is held out (:func:`gankit.anomaly.holdout.split_normal`); every
  ``anomaly.select_every`` steps and at the last step the mean validation score and the
  generator's validation loss ``w_con · L_con + w_enc · L_enc`` are logged (``val_score``,
  ``val_loss``) and the weights with the lowest ``anomaly.select_on`` so far are copied into the
  ``generator_selected`` network (checkpointed, so a resumed run selects exactly as an
  uninterrupted one). Scores, residual maps and the final picture use the selected weights.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Literal

import torch
import torch.distributed as dist
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from gankit.anomaly.holdout import split_normal
from gankit.anomaly.residuals import residual_map
from gankit.config import MAX_STEPS, ModelFamilyConfig, RunConfig, ScheduleConfig
from gankit.data import Dataset
from gankit.data.ranges import from_unit
from gankit.data.sampler import Sampler
from gankit.errors import GankitError
from gankit.models import DataSpec
from gankit.models.ganomaly import build_ganomaly
from gankit.models.layers import InitScheme, eval_mode, init_weights
from gankit.options import StrictModel
from gankit.recipes.base import (
    RECIPES,
    Batch,
    HookContext,
    Recipe,
    Scalar,
    decay_schedule,
    use_bf16,
)
from gankit.recipes.capabilities import ScoresAnomalies
from gankit.training.distributed import World
from gankit.viz import save_image_grid

#: steps between checks of D's loss for a collapse (each check waits on the device)
REINIT_CHECK = 10
#: samples per forward when scoring
_CHUNK = 500


class GanomalyModelConfig(ModelFamilyConfig):
    """The family whose G is the decoder and whose D body makes both encoders and D."""

    arch: str = "dcgan"
    init: InitScheme = "dcgan"


class GanomalyOptimConfig(ScheduleConfig):
    """One Adam optimiser for the generator (both encoders and the decoder), one for D."""

    lr: float = Field(2e-4, gt=0.0, le=1.0)
    beta1: float = Field(0.5, ge=0.0, lt=1.0)
    beta2: float = Field(0.999, ge=0.0, lt=1.0)


class AnomalyConfig(StrictModel):
    """The losses' weights, the validation split and how the weights are selected on it."""

    holdout: float = Field(0.1, gt=0.0, lt=1.0, description="share of the normal data held "
                           "out for model selection")
    select_every: int = Field(200, ge=0, le=MAX_STEPS, description="steps between checks on "
                              "the validation split (0 = only at the last step)")
    select_on: Literal["loss", "score"] = Field(
        "loss", description="keep the weights of the lowest mean validation loss "
        "(w_con · L_con + w_enc · L_enc) or mean validation score")
    w_adv: float = Field(1.0, ge=0.0, le=1e6, description="feature-matching loss weight")
    w_con: float = Field(50.0, ge=0.0, le=1e6, description="L1 reconstruction loss weight")
    w_enc: float = Field(1.0, ge=0.0, le=1e6, description="latent (encoder) loss weight")
    reinit_d: float = Field(1e-5, ge=0.0, lt=1.0, description="re-initialise D when its loss "
                            "falls below this (0 = never)")
    pictures: int = Field(16, ge=1, le=256, description="validation images in the pictures")


class GanomalyConfig(RunConfig):
    """A GANomaly run: the shared sections plus model, optim and anomaly."""

    model: GanomalyModelConfig = Field(default_factory=GanomalyModelConfig)
    optim: GanomalyOptimConfig = Field(default_factory=GanomalyOptimConfig)
    anomaly: AnomalyConfig = Field(default_factory=AnomalyConfig)


@RECIPES.register("ganomaly")
class GanomalyRecipe(Recipe, ScoresAnomalies):
    """GANomaly (see the module docstring)."""

    Config = GanomalyConfig
    scalars = (Scalar("g_loss", "G loss"), Scalar("d_loss", "D loss"),
               Scalar("adv", "L_adv (feature matching)", group="generator", progress=False),
               Scalar("con", "L_con (L1 reconstruction)", group="generator"),
               Scalar("enc", "L_enc (latent)", group="generator", progress=False),
               Scalar("d_resets", "D re-initialisations", progress=False),
               Scalar("val_score", "mean validation score", group="validation",
                      progress=False),
               Scalar("val_loss", "validation loss", group="validation", progress=False))
    anomaly_score_name = "latent distance ‖G_E(x) − E(G_D(G_E(x)))‖²"
    cfg: GanomalyConfig

    def __init__(self, cfg: GanomalyConfig, spec: DataSpec, device: torch.device) -> None:
        super().__init__(cfg, spec, device)
        m = cfg.model
        if spec.kind != "image":
            raise GankitError(f"The ganomaly recipe needs images, and {spec.name!r} holds "
                              f"{spec.kind}; use mnist, fashion-mnist, digits or a folder.")
        if m.d.get("minibatch_std"):
            raise GankitError("The ganomaly encoders and discriminator must judge one image at "
                              "a time; set model.d.minibatch_std=0.")
        self.generator, self.discriminator = build_ganomaly(m.arch, m.g, m.d, m.z_dim, spec,
                                                            m.init)
        self.generator.to(device).train()
        self.discriminator.to(device).train()
        self.selected = copy.deepcopy(self.generator).eval().requires_grad_(False)
        self.generator_train, self.discriminator_train = self.generator, self.discriminator
        o, steps = cfg.optim, cfg.train.steps
        fused = device.type in ("cpu", "cuda")
        self.opt_g = torch.optim.Adam(
            [p for p in self.generator.parameters() if p.requires_grad], lr=o.lr,
            betas=(o.beta1, o.beta2), fused=fused)
        self.opt_d = torch.optim.Adam(
            [p for p in self.discriminator.parameters() if p.requires_grad], lr=o.lr,
            betas=(o.beta1, o.beta2), fused=fused)
        self.sched_g, self.sched_d = (torch.optim.lr_scheduler.LambdaLR(
            opt, decay_schedule(o.lr_decay, o.lr_decay_start, steps))
            for opt in (self.opt_g, self.opt_d))
        self.amp = use_bf16(cfg.train.amp, device)
        self.steps_done = 0
        self.d_resets = 0
        self.d_low = torch.tensor(float("inf"), device=device)  # lowest D loss since a check
        self.best: float | None = None  # the lowest validation criterion so far
        self.selected_step = 0
        self.val_x: torch.Tensor | None = None
        self.distributed = False

    # ------------------------------------------------------------------ data

    def sampler(self, dataset: Dataset, batch_size: int, seed: int, world: World,
                device: torch.device) -> Sampler:
        """Batches of the normal data less its validation split, which is kept for selection."""
        train, val = split_normal(dataset, self.cfg.anomaly.holdout, self.cfg.seed)
        self.val_x = val.rows().to(device)
        return train.sampler(batch_size, seed, world, device)

    def normal_holdout(self, dataset: Dataset) -> Dataset:
        """The validation split of the normal training data ``dataset``, rebuilt exactly."""
        return split_normal(dataset, self.cfg.anomaly.holdout, self.cfg.seed)[1]

    # ------------------------------------------------------------------ training

    def train_step(self, batches: list[Batch]) -> dict[str, torch.Tensor]:
        x, a = batches[0]["x"], self.cfg.anomaly
        with self.autocast():
            x_hat, z, z_hat = self.generator_train(x)
        # the generator's step, against the current D (frozen, called without DDP)
        self.discriminator.requires_grad_(False)
        with self.autocast():
            with torch.no_grad():
                _, real_features = self.discriminator(x)
            _, fake_features = self.discriminator(x_hat)
        adv = F.mse_loss(fake_features.float(), real_features.float())
        con = F.l1_loss(x_hat.float(), x)
        enc = F.mse_loss(z_hat.float(), z.float())
        g_loss = a.w_adv * adv + a.w_con * con + a.w_enc * enc
        self.opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        self.opt_g.step()
        self.discriminator.requires_grad_(True)
        # D's step on the real images and the reconstructions
        with self.autocast():
            real_logits, _ = self.discriminator_train(x)
            fake_logits, _ = self.discriminator_train(x_hat.detach())
        real_logits, fake_logits = real_logits.float(), fake_logits.float()
        d_loss = 0.5 * (F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(
            real_logits)) + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(
                fake_logits)))
        self.opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        self.opt_d.step()
        self.sched_g.step()
        self.sched_d.step()
        self.steps_done += 1
        self.d_low = torch.minimum(self.d_low, d_loss.detach())
        if a.reinit_d and self.steps_done % REINIT_CHECK == 0:
            self.check_collapse(a.reinit_d)
        return {"g_loss": g_loss.detach(), "d_loss": d_loss.detach(), "adv": adv.detach(),
                "con": con.detach(), "enc": enc.detach(),
                "d_resets": torch.tensor(float(self.d_resets), device=self.device)}

    def check_collapse(self, threshold: float) -> None:
        """Re-initialise D when its loss fell below ``threshold`` since the last check (the
        lowest loss of every process counts, and the fresh weights come from a generator
        seeded by the step, so every process draws the same ones)."""
        if self.distributed:
            dist.all_reduce(self.d_low, op=dist.ReduceOp.MIN)
        if float(self.d_low) < threshold:
            with torch.random.fork_rng(devices=[self.device] if self.device.type == "cuda"
                                       else []):
                torch.manual_seed(self.cfg.seed + self.steps_done)
                reinitialise(self.discriminator, self.cfg.model.init)
            self.d_resets += 1
        self.d_low.fill_(float("inf"))

    # ------------------------------------------------------------------ model selection

    @torch.no_grad()
    def validation_stats(self, x: torch.Tensor) -> dict[str, float]:
        """Mean score and mean loss ``w_con · L_con + w_enc · L_enc`` of the current weights on
        normal images ``x`` (eval mode)."""
        a = self.cfg.anomaly
        score = loss = 0.0
        with eval_mode(self.generator):
            for chunk in x.split(_CHUNK):
                chunk = chunk.to(self.device)
                x_hat, z, z_hat = self.generator(chunk)
                score += float(latent_distance(z, z_hat).sum())
                con = (x_hat.float() - chunk).abs().flatten(1).mean(1)
                enc = (z_hat.float() - z.float()).pow(2).mean(1)
                loss += float((a.w_con * con + a.w_enc * enc).sum())
        return {"val_score": score / len(x), "val_loss": loss / len(x)}

    def select(self, step: int) -> tuple[dict[str, float], bool]:
        """Check the current weights on the validation split; keep them when they are the best
        so far. Returns the statistics and whether they were kept."""
        if self.val_x is None:
            raise GankitError("The ganomaly recipe selects on its validation split, which its "
                              "sampler() sets aside; build the sampler first.")
        stats = self.validation_stats(self.val_x)
        value = stats["val_" + self.cfg.anomaly.select_on]
        better = self.best is None or value < self.best
        if better:
            self.best, self.selected_step = value, step
            self.selected.load_state_dict(self.generator.state_dict())
        return stats, better

    def hooks(self, context: HookContext) -> list:
        return [SelectionHook(self, context)]

    # ------------------------------------------------------------------ the contract

    def networks(self) -> dict[str, nn.Module]:
        return {"generator": self.generator, "discriminator": self.discriminator,
                "generator_selected": self.selected}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"opt_g": self.opt_g, "opt_d": self.opt_d}

    def schedulers(self) -> dict[str, torch.optim.lr_scheduler.LRScheduler]:
        return {"sched_g": self.sched_g, "sched_d": self.sched_d}

    def state_dict(self) -> dict[str, Any]:
        return {"steps_done": self.steps_done, "d_resets": self.d_resets, "d_low": self.d_low,
                "best": self.best, "selected_step": self.selected_step}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.steps_done, self.d_resets = int(state["steps_done"]), int(state["d_resets"])
        self.d_low = state["d_low"].to(self.device)
        self.best = None if state["best"] is None else float(state["best"])
        self.selected_step = int(state["selected_step"])

    def distribute(self, wrap) -> None:  # noqa: ANN001
        self.distributed = True
        self.generator_train = wrap(self.generator)
        self.discriminator_train = wrap(self.discriminator)

    # ------------------------------------------------------------------ capabilities

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor, selected: bool = True
                    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(x̂, z, ẑ)`` of images ``x`` in the data's range, on the CPU, in eval mode (the
        selected weights, or the current ones)."""
        net = self.selected if selected else self.generator
        parts = []
        with eval_mode(net):
            for chunk in x.split(_CHUNK):
                parts.append([t.float().cpu() for t in net(chunk.to(self.device))])
        return tuple(torch.cat(p) for p in zip(*parts, strict=True))  # type: ignore[return-value]

    def anomaly_scores(self, x: torch.Tensor) -> torch.Tensor:
        _, z, z_hat = self.reconstruct(x)
        return latent_distance(z, z_hat)

    def residual_maps(self, x: torch.Tensor, selected: bool = True) -> torch.Tensor:
        return residual_map(x.cpu(), self.reconstruct(x, selected)[0], self.spec.normalize)

    def pictures(self, dataset: Dataset) -> ResidualPictures:
        return ResidualPictures(self)


def reinitialise(module: nn.Module, scheme: str) -> None:
    """Fresh weights for every layer of ``module`` (PyTorch's initialisation, then ``scheme``'s),
    drawn from the global RNG."""
    for layer in module.modules():
        if layer is not module and callable(getattr(layer, "reset_parameters", None)):
            layer.reset_parameters()
    init_weights(module, scheme)


def latent_distance(z: torch.Tensor, z_hat: torch.Tensor) -> torch.Tensor:
    """Per-sample ``‖z − ẑ‖²``, float32 ``(N,)``."""
    return (z.float() - z_hat.float()).pow(2).sum(1)


class SelectionHook:
    """Every ``anomaly.select_every`` steps and at the last step: the validation statistics
    logged as ``val_*`` keys, the best weights so far kept (:meth:`GanomalyRecipe.select`)."""

    def __init__(self, recipe: GanomalyRecipe, context: HookContext) -> None:
        self.recipe, self.context = recipe, context
        self.every, self.last = recipe.cfg.anomaly.select_every, recipe.cfg.train.steps

    def __call__(self, step: int, scalars: dict[str, torch.Tensor]) -> None:
        if step != self.last and (not self.every or step % self.every):
            return
        stats, kept = self.recipe.select(step)
        if self.context.is_main:
            self.context.record({"step": step, **stats})
            note = "kept (best so far)" if kept else \
                f"best remains step {self.recipe.selected_step}"
            self.context.say(f"validation at step {step} | mean score {stats['val_score']:.4g} "
                             f"| loss {stats['val_loss']:.4g} | {note}")


class ResidualPictures:
    """Fixed validation images: inputs (top row), reconstructions, residuals |x − x̂|; the
    current weights while training, the selected ones in ``residuals_final.png``."""

    def __init__(self, recipe: GanomalyRecipe) -> None:
        self.recipe = recipe
        if recipe.val_x is None:
            raise GankitError("The ganomaly pictures show validation images, which the "
                              "recipe's sampler() sets aside; build the sampler first.")
        self.x = recipe.val_x[: recipe.cfg.anomaly.pictures].cpu()

    def _grid(self, path: Path, selected: bool) -> Path:
        r, n = self.recipe, self.recipe.spec.normalize
        x_hat = r.reconstruct(self.x, selected)[0]
        residual = r.residual_maps(self.x, selected).expand_as(self.x)
        rows = torch.cat([self.x, x_hat, from_unit(residual, n)])
        return save_image_grid(rows, path, normalize=n, nrow=len(self.x))

    def progress(self, path: Path, step: int) -> Path:
        return self._grid(path, selected=False)

    def final(self, run_dir: Path) -> list[Path]:
        return [self._grid(run_dir / "residuals_final.png", selected=True)]
