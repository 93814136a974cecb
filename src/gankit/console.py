"""Messages about what gankit is doing, printed before long work (to stderr, beside any bar)."""

from __future__ import annotations

import sys

from tqdm.auto import tqdm


def say(message: str) -> None:
    """Print one line to stderr without breaking a progress bar that is showing."""
    tqdm.write(f"gankit: {message}", file=sys.stderr)
