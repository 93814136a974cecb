"""What the image-translation recipes (``pix2pix``, ``cyclegan``) share: the pair data's shapes,
the papers' jitter and flips, the adversarial criterion, translating in eval mode, pictures.

A translation run trains on a pair source (``kind="pair"``: the input domain A in the batch's
``a``, the output domain B in ``b``). Images are resized up by ``augment.jitter`` pixels and
randomly cropped back, and flipped with ``augment.flip``, the two halves of a pair alike (the
papers resize 256 → 286: ``jitter`` None means that share, ``round(size · 30 / 256)``).
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable
from typing import TYPE_CHECKING, Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from gankit.config import ScheduleConfig
from gankit.data.augment import JitterFlip
from gankit.errors import GankitError
from gankit.models import DataSpec
from gankit.models.layers import eval_mode
from gankit.options import StrictModel
from gankit.recipes.base import Recipe
from gankit.recipes.capabilities import Translates

if TYPE_CHECKING:
    from gankit.data import Dataset
    from gankit.data.sampler import Sampler
    from gankit.training.distributed import World

Direction = Literal["AtoB", "BtoA"]
#: images translated per forward pass outside training
CHUNK = 64


class TranslationOptimConfig(ScheduleConfig):
    """Adam for G and D as both papers set it: 2e-4, β = (0.5, 0.999), constant for the first
    half of ``train.steps`` and decaying linearly to 0 over the second."""

    lr_decay: Literal["none", "linear", "cosine"] = "linear"
    lr_decay_start: float = Field(0.5, ge=0.0, lt=1.0)
    g_lr: float = Field(2e-4, gt=0.0, le=1.0)
    d_lr: float = Field(2e-4, gt=0.0, le=1.0)
    beta1: float = Field(0.5, ge=0.0, lt=1.0)
    beta2: float = Field(0.999, ge=0.0, lt=1.0)


class AugmentConfig(StrictModel):
    """The papers' random jitter (resize up, crop back) and horizontal flips."""

    jitter: int | None = Field(None, ge=0, le=1024, description="pixels added before the random "
                               "crop (None: 30/256 of the side, as 256 → 286)")
    flip: bool = Field(True, description="random horizontal flips (off for digits and text)")


def gan_criterion(kind: str) -> Callable[[torch.Tensor, float], torch.Tensor]:
    """The patch-wise criterion against a target of 1 (real) or 0 (fake): binary cross-entropy on
    logits (``vanilla``, pix2pix) or least squares (``lsgan``, CycleGAN)."""
    if kind == "lsgan":
        return lambda scores, target: (scores.float() - target).pow(2).mean()
    return lambda scores, target: F.binary_cross_entropy_with_logits(
        scores.float(), torch.full_like(scores.float(), target))


def pair_shapes(spec: DataSpec, recipe: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The (A, B) image shapes of a translation run's data, or one sentence for other data."""
    if spec.kind != "pair" or not spec.codec or "input_shape" not in spec.codec:
        raise GankitError(f"The {recipe} recipe translates images and trains on image pairs "
                          f"(--data mnist-edges, pairs, unpaired, ...), and {spec.name!r} "
                          f"holds {spec.kind}s.")
    return tuple(spec.codec["input_shape"]), tuple(spec.sample_shape)


class TranslationRecipe(Recipe, Translates):
    """A recipe that maps images of domain A to domain B (and, where it can, back)."""

    #: the directions this recipe translates in
    directions: tuple[Direction, ...] = ("AtoB",)

    def __init__(self, cfg, spec: DataSpec, device: torch.device) -> None:  # noqa: ANN001
        super().__init__(cfg, spec, device)
        self.shape_a, self.shape_b = pair_shapes(spec, cfg.recipe)
        if self.shape_a[1:] != self.shape_b[1:]:
            raise GankitError(f"The {cfg.recipe} recipe needs A and B images of one size, and "
                              f"{spec.name!r} has A {self.shape_a} and B {self.shape_b}.")
        self.size = int(self.shape_b[-1])

    def sampler(self, dataset: Dataset, batch_size: int, seed: int, world: World,
                device: torch.device) -> Sampler:
        aug = self.cfg.augment
        jitter = round(self.size * 30 / 256) if aug.jitter is None else aug.jitter
        augment = JitterFlip(("a", "b"), jitter, 0.5 if aug.flip else 0.0) \
            if jitter or aug.flip else None
        return dataset.sampler(batch_size, seed, world, device, augment)

    @abstractmethod
    def translator(self, direction: Direction = "AtoB") -> nn.Module:
        """The trained generator of ``direction`` (not wrapped for multi-process training)."""

    def check_direction(self, direction: str) -> Direction:
        if direction not in self.directions:
            raise GankitError(f"This {self.cfg.recipe} run translates "
                              f"{' and '.join(self.directions)} only, not {direction}.")
        return direction  # type: ignore[return-value]

    def shapes(self, direction: Direction = "AtoB") -> tuple[tuple[int, ...], tuple[int, ...]]:
        """The (input, output) image shapes of ``direction``."""
        self.check_direction(direction)
        return (self.shape_a, self.shape_b) if direction == "AtoB" else \
            (self.shape_b, self.shape_a)

    @torch.no_grad()
    def translate(self, x: torch.Tensor, direction: Direction = "AtoB") -> torch.Tensor:
        """Outputs (float32, CPU) for inputs ``x`` in the data range, in eval mode."""
        shape_in, shape_out = self.shapes(direction)
        if tuple(x.shape[1:]) != shape_in:
            raise GankitError(f"{direction} translates images of shape {shape_in}, got "
                              f"{tuple(x.shape[1:])}.")
        net = self.translator(direction)
        outputs = [x.new_zeros(0, *shape_out)]
        with eval_mode(net), self.autocast():
            outputs += [net(chunk.to(self.device)).float().cpu() for chunk in x.split(CHUNK)]
        return torch.cat(outputs)

    def pictures(self, dataset: Dataset):  # noqa: ANN201
        from gankit.translation.pictures import TranslationPictures

        return TranslationPictures(self, dataset)
