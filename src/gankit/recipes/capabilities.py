"""What a trained recipe can do, as small interfaces a recipe may implement.

Commands ask for the capability they need with :func:`require` and refuse a run that lacks it in
one sentence (``gankit sample`` needs :class:`SamplesFromNoise`, ``finetune-d`` needs
:class:`HasDiscriminator`, ...); nothing assumes a recipe is a GAN.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, TypeVar

import torch
from torch import nn

from gankit.errors import GankitError

C = TypeVar("C")


class SamplesFromNoise(ABC):
    """Draws samples in the data's range from latent codes (a GAN's G, a VAE's decoder)."""

    #: classes the generator is conditioned on (0 = unconditional)
    num_classes: int = 0

    @abstractmethod
    def noise(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """A latent batch of ``n`` codes on the recipe's device (drawn on the CPU)."""

    @abstractmethod
    def generate(self, z: torch.Tensor, use_ema: bool = True,
                 labels: torch.Tensor | None = None) -> torch.Tensor:
        """Samples from codes ``z``, in eval mode, without grads (class ``labels[i]`` for
        ``z[i]`` when conditional; every class equally often without labels)."""

    @abstractmethod
    def generator(self, use_ema: bool = True) -> nn.Module:
        """The differentiable network ``net(z)`` (``net(z, labels)`` when conditional)."""

    @property
    @abstractmethod
    def has_ema(self) -> bool:
        """Whether an EMA copy of the generator's weights exists (used by default)."""

    @property
    def latent_kind(self) -> str:
        """The distribution :meth:`noise` draws from (``gaussian``, ``uniform``, ``mixture``)."""
        return "gaussian"


class Encodes(ABC):
    """Maps samples to latent codes (a VAE's encoder)."""

    @abstractmethod
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Codes ``(N, z_dim)`` of samples ``x`` in the data's range (eval mode, no grads)."""


class Translates(ABC):
    """Maps an input image of domain A to an output image of domain B (image-to-image
    translation), and back where the recipe learnt both directions (``directions``)."""

    directions: tuple[str, ...] = ("AtoB",)

    @abstractmethod
    def translate(self, x: torch.Tensor, direction: str = "AtoB") -> torch.Tensor:
        """Outputs for inputs ``x`` in the data range (eval mode, no grads, float32 on the
        CPU)."""

    @abstractmethod
    def shapes(self, direction: str = "AtoB") -> tuple[tuple[int, ...], tuple[int, ...]]:
        """The (input, output) image shapes ``(C, H, W)`` of ``direction``."""


class Classifies(ABC):
    """Predicts class logits for samples."""

    @abstractmethod
    def classify(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(N, K)`` for samples ``x`` in the data's range (eval mode, no grads)."""


class HasDiscriminator(ABC):
    """A trained discriminator whose features can be reused."""

    @abstractmethod
    def discriminator(self) -> nn.Module:
        """The trained discriminator (not wrapped for multi-process training)."""

    @abstractmethod
    def discriminator_facts(self) -> dict[str, Any]:
        """How it was built: model family, options, initialisation, packing, conditioning."""


class ScoresAnomalies(ABC):
    """Scores samples by how unlike the (normal) training data they are: an anomaly detector."""

    #: what the score is, for tables and files (e.g. "pixel + 1.0 · feature residual")
    anomaly_score_name: str = "anomaly score"

    @abstractmethod
    def anomaly_scores(self, x: torch.Tensor) -> torch.Tensor:
        """One score per sample of ``x`` (the data's range), higher = more anomalous: ``(N,)``
        float32 on the CPU, computed in eval mode (BatchNorm uses its running statistics and
        learns nothing from ``x``) without grads; the same ``x`` always gives the same scores."""

    def residual_maps(self, x: torch.Tensor) -> torch.Tensor | None:
        """Where each image differs from its reconstruction: ``(N, 1, H, W)``, the absolute
        difference in [0, 1] units averaged over channels (eval mode, no grads); None for a
        detector that reconstructs nothing."""
        return None

    def normal_holdout(self, dataset: Any) -> Any | None:
        """The normal samples this detector held out of its training data ``dataset`` (its
        validation split, rebuilt exactly), for thresholds; None when it held none out."""
        return None


class SamplesTables(ABC):
    """Generates rows of a table, optionally with some columns fixed."""

    @abstractmethod
    def sample_table(self, n: int, where: dict[str, Any] | None = None, seed: int = 0) -> Any:
        """``n`` synthetic rows as a pandas DataFrame with the real table's columns and types;
        ``where`` ({column: value}) fixes columns (one sentence for an unknown column or
        value)."""


CAPABILITIES: dict[type, str] = {
    SamplesFromNoise: "draw samples from noise",
    Encodes: "encode samples into latent codes",
    Translates: "translate images",
    Classifies: "classify samples",
    HasDiscriminator: "offer a trained discriminator",
    ScoresAnomalies: "score samples as normal or anomalous",
    SamplesTables: "generate table rows",
}


def require(recipe: Any, capability: type[C], command: str, where: str = "") -> C:
    """``recipe`` as a ``capability``, or a one-sentence refusal naming what is missing."""
    if isinstance(recipe, capability):
        return recipe
    name = type(recipe).__name__
    place = f" of {where!r}" if where else ""
    can = [text for cap, text in CAPABILITIES.items() if isinstance(recipe, cap)]
    has = f"; it can {', '.join(can)}" if can else ""
    raise GankitError(f"{command} needs a run that can {CAPABILITIES[capability]}, and the "
                      f"recipe{place} ({name}) cannot{has}.")
