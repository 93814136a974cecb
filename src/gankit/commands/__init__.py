"""Sub-commands beyond train/sample/eval, one module each; every module has ``register(sub)``,
which adds its parser (with ``set_defaults(func=...)``) to the ``gankit`` command."""

from __future__ import annotations

import argparse
from importlib import import_module

COMMAND_MODULES = ("compare", "interpolate", "export", "augment", "finetune")


def register_all(sub: argparse._SubParsersAction) -> None:
    """Add every command module's parser to ``sub``."""
    for name in COMMAND_MODULES:
        import_module(f"gankit.commands.{name}").register(sub)
