"""What every benchmark script does on Ctrl-C: one line saying what it left, then exit 130.

    if __name__ == "__main__":
        run(main, "no result table was written.")
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

#: what a benchmark that prints each row of its table as it is measured leaves
ROWS_SO_FAR = "the table above holds only the rows measured so far; no file was written."


def run(main: Callable[[], None], left: str) -> None:
    """Run a benchmark's ``main``; after Ctrl-C print ``left`` (what the interrupt left, true
    for that script) instead of a traceback, and exit with 130."""
    try:
        main()
    except KeyboardInterrupt:
        print(f"\n{Path(sys.argv[0]).name}: interrupted: {left}", file=sys.stderr)
        raise SystemExit(130) from None


def progress(message: str) -> None:
    """One line on stderr about the measurement starting now (the table goes to stdout)."""
    print(f"... {message}", file=sys.stderr, flush=True)
