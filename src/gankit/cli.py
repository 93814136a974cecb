"""The ``gankit`` command: parse arguments, run one command module, turn errors into clear
messages, and after Ctrl-C say what the interrupted command left (each command's parser
declares it: ``set_defaults(interrupted="...")``, a sentence that may name its arguments as
``{run}``, ``{output}``, ...)."""

from __future__ import annotations

import _thread
import argparse
import shutil
import sys
import threading
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib import import_module
from typing import NoReturn

from gankit.errors import GankitError
from gankit.fileio import describe_os_error

#: the modules under ``gankit.commands``, in the order ``gankit`` lists their commands
COMMAND_MODULES = ("train", "sample", "eval", "presets", "report", "compare", "interpolate",
                   "arithmetic", "export", "export_model", "augment", "finetune",
                   "robustness", "anomaly_bench", "score", "translate")


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (exit code 2) instead of a usage block."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"gankit: error: {message}; see '{self.prog} --help'.\n")


class _CommandList(argparse.HelpFormatter):
    """Help with every command's help on one line beside its name."""

    def __init__(self, prog: str) -> None:
        width = max(shutil.get_terminal_size().columns - 2, 100)
        super().__init__(prog, max_help_position=26, width=width)

    def add_argument(self, action: argparse.Action) -> None:
        super().add_argument(action)
        for command in self._iter_indented_subactions(action):  # measured as indented
            length = len(self._format_action_invocation(command)) + self._current_indent
            self._action_max_length = max(self._action_max_length, length)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="gankit", formatter_class=_CommandList,
                     description="Train, evaluate and use GANs. Start with 'gankit train' (the "
                     "default preset trains on real digits in about a minute); 'gankit COMMAND "
                     "--help' explains each command.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMAND_MODULES:
        import_module(f"gankit.commands.{name}").register(sub)
    return parser


def _one_line_warning(message, category, filename, lineno, line=None) -> str:  # noqa: ANN001
    return f"gankit: warning: {message}\n"


def main(argv: Sequence[str] | None = None) -> int:
    warnings.formatwarning = _one_line_warning
    parser = build_parser()
    args = parser.parse_args(sys.argv[1:] if argv is None else list(argv))
    if args.command is None:  # a bare ``gankit``: the list of commands
        parser.print_help()
        return 0
    try:
        with _ctrl_c_never_swallowed():
            return args.func(args)
    except GankitError as err:
        if args.debug:
            raise
        print(f"gankit: {err.label}: {err}", file=sys.stderr)
        return err.exit_code
    except OSError as err:
        if args.debug:
            raise
        print(f"gankit: error: {describe_os_error(err)}", file=sys.stderr)
        return GankitError.exit_code
    except KeyboardInterrupt:
        _close_progress_bars()
        print(f"gankit: interrupted: {interrupted_message(args)}", file=sys.stderr)
        return 130


@contextmanager
def _ctrl_c_never_swallowed() -> Iterator[None]:
    """Deliver again a Ctrl-C that Python swallowed: a KeyboardInterrupt raised while a
    finaliser or weak-reference callback runs (the garbage collector, an import's module lock)
    is only printed as "Exception ignored", and the command would go on."""
    previous = sys.unraisablehook

    def hook(unraisable: sys.UnraisableHookArgs) -> None:
        if unraisable.exc_type is not None and issubclass(unraisable.exc_type, KeyboardInterrupt):
            # the SIGINT handler in force runs again, once main code runs (not in this hook)
            threading.Timer(0.01, _thread.interrupt_main).start()
        else:
            previous(unraisable)

    sys.unraisablehook = hook
    try:
        yield
    finally:
        sys.unraisablehook = previous


def interrupted_message(args: argparse.Namespace) -> str:
    """What the command of ``args`` left when Ctrl-C stopped it: its ``interrupted`` sentence
    with its arguments filled in."""
    template = getattr(args, "interrupted", None)
    if not template:
        return "nothing more was done."
    try:
        return template.format_map({k: str(v) for k, v in vars(args).items()})
    except (KeyError, IndexError, ValueError):
        return template


def _close_progress_bars() -> None:
    """Clear the progress bars that were showing, so that the message gets a line of its own."""
    from tqdm import tqdm

    for bar in list(getattr(tqdm, "_instances", ())):
        bar.close()
