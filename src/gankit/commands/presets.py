"""The ``gankit presets`` command: the named presets, one line each with its description."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``gankit presets`` to ``sub``."""
    p = sub.add_parser("presets", help="list the named presets")
    p.set_defaults(func=run, interrupted="nothing was written.")


def run(args: argparse.Namespace) -> int:
    from gankit.config import load_preset, preset_names

    for name in preset_names():
        print(f"{name:14s} {load_preset(name).get('description', '')}")
    return 0
