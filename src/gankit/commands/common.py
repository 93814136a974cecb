"""What several commands share, defined here once: their common flags, as argparse parent
parsers (``sub.add_parser(name, parents=[common("device", "seed", "no_progress")])``), checks
of their arguments, how a command writes the files of one result together (Ctrl-C held
meanwhile), and how the benchmarks write and show their results."""

from __future__ import annotations

import argparse
import signal
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from gankit.errors import GankitError

#: the help of ``--device`` in every command that has it
DEVICE_HELP = "cpu, cuda, cuda:N or auto"

#: each shared flag: its name on the command line and its argparse options
FLAGS: dict[str, tuple[str, dict[str, Any]]] = {
    "seed": ("--seed", {"type": int}),
    "no_ema": ("--no-ema", {"action": "store_true", "help": "use the raw generator weights"}),
    "device": ("--device", {"help": DEVICE_HELP}),
    "no_progress": ("--no-progress", {"action": "store_true", "help": "no progress bar"}),
}

#: the title of the help section that lists them
TITLE = "common options"


def common(*names: str, seed: int | None = 0, unseeded: str = "", device: str | None = "cpu"
           ) -> argparse.ArgumentParser:
    """A parent parser with the shared flags ``names`` (keys of :data:`FLAGS`).

    ``seed`` and ``device`` are the defaults of ``--seed`` and ``--device`` for this command;
    ``unseeded`` says what a seed of None means (e.g. "the config's seed"). A fresh parser
    each call, so that one command's defaults never leak into another's.
    """
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group(TITLE)
    defaults: dict[str, Any] = {"seed": seed, "device": device}
    for name in names:
        flag, options = FLAGS[name]
        options = dict(options)
        if name in defaults:
            options["default"] = defaults[name]
        if name == "seed":
            options["help"] = f"random seed (default {seed})" if seed is not None else \
                f"random seed (default: {unseeded})"
        group.add_argument(flag, **options)
    return parent


def at_least(*checks: tuple[str, int | None, int]) -> None:
    """Refuse any ``(flag, value, least)`` whose value is under its least (None: not given)."""
    for flag, value, least in checks:
        if value is not None and value < least:
            raise GankitError(f"{flag} must be at least {least} (got {value}).")


def class_index(names: Sequence[str], value: str, flag: str) -> int:
    """A class given by number or name → its index."""
    if value in names:
        return list(names).index(value)
    try:
        index = int(value)
    except ValueError:
        index = -1
    if not 0 <= index < len(names):
        known = ", ".join(names) if names else "none: the run has no classes"
        raise GankitError(f"{flag} {value!r} is not a class of this run (classes: {known}).")
    return index


@contextmanager
def writing(args: argparse.Namespace, done: str) -> Iterator[None]:
    """Hold Ctrl-C while the block writes the files of one result (each atomically), so that
    they are written all together: an interrupt that comes meanwhile stops the command only
    after the block, and what ``gankit`` then says (``args.interrupted``, see
    :func:`gankit.cli.interrupted_message`) becomes ``done``."""
    if threading.current_thread() is not threading.main_thread():  # signals reach main only
        yield
        return
    asked: list[int] = []
    old = signal.signal(signal.SIGINT, lambda signum, frame: asked.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)
    if asked:
        args.interrupted = done
        raise KeyboardInterrupt


def show_results(args: argparse.Namespace, result: dict[str, Any], markdown: str,
                 json_path: Path, also: tuple[Path, bytes] | None = None) -> int:
    """Write a benchmark's ``result`` as JSON to ``json_path`` and its ``markdown`` table
    beside it (and ``also``: a file's path and bytes) together, print the table and where they
    went; the exit code (0)."""
    from gankit.fileio import atomic_write_bytes
    from gankit.synthetic.fewshot import write_results

    with writing(args, "the benchmark had finished and its JSON and Markdown tables"
                 f"{' (and the file of --save-model)' if also else ''} were all written."):
        if also:
            atomic_write_bytes(*also)
        json_path, md_path = write_results(result, markdown, json_path)
    print(markdown)
    print(f"Wrote {json_path} and {md_path}" + (f" (and {also[0]})" if also else ""))
    return 0
