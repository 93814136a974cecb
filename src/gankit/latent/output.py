"""Where the latent tools write: ``RUN/latent/<name>.png`` (numbered, never overwritten) or an
explicit path."""

from __future__ import annotations

from pathlib import Path

from gankit.errors import GankitError
from gankit.fileio import atomic_write_bytes
from gankit.layout import LATENT
from gankit.run import Run

FOLDER = LATENT
SUFFIXES = (".png", ".gif", ".json")


def output_stem(run: Run, name: str, output: str | Path | None = None,
                allowed: tuple[str, ...] = (".png", ".gif")) -> Path:
    """The path without suffix for a result's files.

    With ``output`` (a path ending in one of ``allowed``) its stem; otherwise
    ``RUN/latent/<name>``, or ``<name>-2``, ``<name>-3``, ... when files of that name exist.
    """
    if output is not None:
        path = Path(output)
        if path.suffix.lower() not in allowed:
            raise GankitError(f"Output {str(path)!r} must end in {' or '.join(allowed)} (other "
                              "files of the result are written beside it).")
        if path.is_dir():
            raise GankitError(f"Output {str(path)!r} is a folder; give a file name ending in "
                              ".png.")
        return path.with_suffix("")
    folder = run.path / FOLDER
    stem, number = folder / name, 1
    while any(stem.with_name(stem.name + s).exists() for s in SUFFIXES):
        number += 1
        stem = folder / f"{name}-{number}"
    return stem


def write_files(files: dict[Path, bytes]) -> list[Path]:
    """Write a result's files (path → bytes, e.g. from ``result.files(stem)``), each
    atomically; returns their paths."""
    return [atomic_write_bytes(path, data) for path, data in files.items()]


def with_suffix(stem: str | Path, suffix: str) -> Path:
    """``stem`` + ``suffix`` (``Path.with_suffix`` would cut names that contain dots)."""
    stem = Path(stem)
    return stem.with_name(stem.name + suffix)
