"""Feature extractors behind one registry: what FID, KID and precision/recall compare.

An extractor maps samples to an ``(N, D)`` float64 feature array. Images come in as float
``(N, C, H, W)`` tensors in [0, 1] (the caller converts from the data's range); 2-D points come
in their own units. Every extractor states its protocol (network, input size, resize filter, ...)
so that each score can be recorded with how it was computed.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch

from gankit.registry import Registry

if TYPE_CHECKING:
    from gankit.config import DataConfig


@dataclass
class ExtractorContext:
    """What an extractor may need to build itself: the run's data config and a device."""

    data: DataConfig
    device: torch.device
    progress: bool = True
    #: a classifier learns these data's own labelled images even where the source names another
    #: classifier (the input domain of a translation source, read as its output domain)
    own_labels: bool = False


class FeatureExtractor(ABC):
    """Turns samples into features (and, for classifiers, class probabilities)."""

    name: str = ""

    @abstractmethod
    def features(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, D)`` float64 features on the CPU (batches internally)."""

    def probabilities(self, x: torch.Tensor) -> torch.Tensor | None:
        """``(N, K)`` class probabilities on the CPU, or None if the extractor has no classes."""
        return None

    @abstractmethod
    def protocol(self) -> dict[str, Any]:
        """How features are computed (JSON-ready): recorded beside every score."""


ExtractorFactory = Callable[[ExtractorContext], FeatureExtractor]
EXTRACTORS: Registry[ExtractorFactory] = Registry("feature extractor")


class RawExtractor(FeatureExtractor):
    """The samples' own coordinates, flattened: the natural features of 2-D points."""

    name = "raw"

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return x.detach().reshape(x.shape[0], -1).double().cpu()

    def protocol(self) -> dict[str, Any]:
        return {"extractor": "raw", "features": "sample coordinates, flattened"}


EXTRACTORS.add("raw", lambda ctx: RawExtractor())


def build_extractor(name: str, ctx: ExtractorContext) -> FeatureExtractor:
    """The extractor registered under ``name`` (unknown names list the valid ones)."""
    _register_builtin()
    return EXTRACTORS.get(name)(ctx)


def extractor_names() -> list[str]:
    _register_builtin()
    return EXTRACTORS.names()


def _register_builtin() -> None:
    """Import the modules whose extractors register themselves (lazily: they pull in more)."""
    import importlib

    for module in _BUILTIN_MODULES:
        importlib.import_module(module)


_BUILTIN_MODULES = ("gankit.metrics.inception", "gankit.metrics.classifier")
