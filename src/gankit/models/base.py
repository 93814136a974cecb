"""What a model family provides, and the registry families join."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from torch import nn

from gankit.registry import Registry


@dataclass(frozen=True)
class DataSpec:
    """What a model needs to know about the data (no tensors): saved as ``dataset.json``."""

    name: str
    kind: str
    sample_shape: tuple[int, ...]
    normalize: str = "symmetric"
    class_names: tuple[str, ...] = ()
    #: how the data source encodes its samples (JSON), for recipes that decode them, with an
    #: optional one-line ``summary`` that ``gankit train`` prints: a table's columns and
    #: fitted transformer (:mod:`gankit.data.table`); None for others
    codec: dict[str, Any] | None = field(default=None, compare=False, hash=False)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


GeneratorBuilder = Callable[[BaseModel, int, DataSpec], nn.Module]
DiscriminatorBuilder = Callable[[BaseModel, DataSpec], nn.Module]


@dataclass(frozen=True)
class ModelFamily:
    """Builders for G (options, z_dim, spec) and D (options, spec), and their options models.

    G maps ``(N, z_dim)`` noise to ``(N, *spec.sample_shape)`` samples; D maps samples to
    ``(N,)`` raw scores (logits).
    """

    build_g: GeneratorBuilder
    build_d: DiscriminatorBuilder
    g_options: type[BaseModel]
    d_options: type[BaseModel]
    description: str = ""


MODELS: Registry[ModelFamily] = Registry("model")
