"""gankit: train, evaluate, understand and use generative adversarial networks.

``gankit.train(config)`` trains a run and ``gankit.load(run_dir)`` loads one back; both are
imported on first use so that ``import gankit`` stays light.
"""

from __future__ import annotations

from typing import Any

from gankit.errors import GankitError

__version__ = "0.1.0"
__all__ = ["GankitError", "Run", "RunConfig", "build_config", "evaluate", "load", "resume",
           "train"]

_LAZY = {"train": "gankit.api", "resume": "gankit.api", "evaluate": "gankit.api",
         "load": "gankit.run",
         "Run": "gankit.run", "RunConfig": "gankit.config", "build_config": "gankit.config"}


_SUBPACKAGES = ("latent", "compare", "synthetic", "reuse", "metrics")


def __getattr__(name: str) -> Any:
    import importlib

    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    if name in _SUBPACKAGES:  # gankit.latent.interpolate(...) without importing it first
        return importlib.import_module(f"gankit.{name}")
    raise AttributeError(f"module 'gankit' has no attribute {name!r}")
