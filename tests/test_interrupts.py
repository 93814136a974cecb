"""Ctrl-C during the long part of a command (issue 23, item 5): the real command, started in a
subprocess, is interrupted once its progress bar shows; it exits with 130, says the sentence its
parser declares for an interrupt (true for that command), and leaves nothing half-written: the
output is absent or the old one byte for byte, and no hidden temporary file or folder is left.

The end-to-end tests share one tiny class-conditional run and one classifier cache (trained once
per module; about a minute in all on 2 cores); the checks of the machinery itself are quick.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import select
import signal
import subprocess
import sys
import time
import weakref
from pathlib import Path

import pytest

from gankit.cli import build_parser, interrupted_message, main
from gankit.commands.common import writing
from gankit.training.runfolder import LOCK

TINY = ["--preset", "digits-cgan", "--no-progress", "--batch-size", "8", "--set", "model.z_dim=4",
        "--set", "model.g.hidden=[8]", "--set", "model.d.hidden=[8]", "--set", "eval.every=0",
        "--set", "train.final_grid=4", "--set", "train.sample_grid=4",
        "--set", "train.log_every=10", "--set", "train.sample_every=1000"]


def tree(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (relative name → SHA-256), the run lock left out."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and p.name != LOCK}


def hidden(folder: Path) -> list[str]:
    """What atomic writes and staged folders leave while they work (hidden names)."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob(".*") if p.name != LOCK)


def said(argv: list[str]) -> str:
    """The line ``gankit`` prints after Ctrl-C interrupts ``gankit ARGV``."""
    return f"gankit: interrupted: {interrupted_message(build_parser().parse_args(argv))}"


def gankit(env: dict[str, str], *args: object) -> None:
    proc = subprocess.run([sys.executable, "-m", "gankit", *map(str, args)], env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def interrupt(env: dict[str, str], argv: list[str], marker: str,
              timeout: float = 300.0) -> tuple[int, str]:
    """Start ``gankit ARGV``, wait until ``marker`` (a progress bar's name) shows on its stderr,
    press Ctrl-C; its exit code and everything it wrote to stderr."""
    proc = subprocess.Popen([sys.executable, "-m", "gankit", *argv], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    seen, deadline = b"", time.monotonic() + timeout
    try:
        while marker.encode() not in seen:
            assert time.monotonic() < deadline, f"no {marker!r} on stderr: {seen[-2000:]!r}"
            if select.select([proc.stderr], [], [], 0.2)[0]:
                chunk = os.read(proc.stderr.fileno(), 1 << 16)
                assert chunk, f"ended before {marker!r} showed: {seen.decode(errors='replace')}"
                seen += chunk
        os.kill(proc.pid, signal.SIGINT)
        _, rest = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, (seen + rest).decode(errors="replace")


def check(code: int, err: str, argv: list[str]) -> None:
    assert code == 130, err
    assert err.rstrip("\n").endswith(said(argv)), err[-2000:]
    assert "Traceback" not in err


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The subprocesses' environment: one classifier cache for the whole module."""
    env = {k: v for k, v in os.environ.items() if k != "GANKIT_DATA_DIR"}
    return {**env, "GANKIT_CACHE_DIR": str(tmp_path_factory.mktemp("cache"))}


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, env: dict[str, str]) -> Path:
    """A tiny class-conditional digits run, evaluated once (which trains and caches the
    evaluation classifier, and gives the run an eval.json to keep)."""
    out = tmp_path_factory.mktemp("runs") / "digits-cgan"
    gankit(env, "train", *TINY, "--steps", 20, "--out", out)
    gankit(env, "eval", out, "-n", 200, "--real", 200, "--no-progress")
    return out


def no_temporary_files(env: dict[str, str], *folders: Path) -> None:
    for folder in (Path(env["GANKIT_CACHE_DIR"]), *folders):
        assert hidden(folder) == [], folder


# ---------------------------------------------------------------- the real commands


def test_eval_interrupted_in_feature_extraction_leaves_the_run_as_it_was(run, env):
    before = tree(run)
    argv = ["eval", str(run), "-n", "60000", "--real", "1000"]
    code, err = interrupt(env, argv, "classifier features")
    check(code, err, argv)
    assert "eval.json, eval.md and report.html were not written" in err
    assert tree(run) == before
    no_temporary_files(env, run)


def test_sample_interrupted_keeps_the_old_file(run, env, tmp_path):
    out = tmp_path / "samples.npz"
    out.write_bytes(b"the old samples")
    argv = ["sample", str(run), "-n", "2000000", "-o", str(out)]
    code, err = interrupt(env, argv, "sampling")
    check(code, err, argv)
    assert out.read_bytes() == b"the old samples"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["samples.npz"]


def test_export_interrupted_while_writing_pngs_keeps_the_old_export(run, env, tmp_path):
    out = tmp_path / "synthetic"
    gankit(env, "export", run, "--per-class", 2, "-o", out, "--no-progress")
    before = tree(out)
    argv = ["export", str(run), "--per-class", "5000", "-o", str(out), "--overwrite"]
    code, err = interrupt(env, argv, "export (png)")
    check(code, err, argv)
    assert tree(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["synthetic"]  # no staged folder
    no_temporary_files(env, tmp_path)


def test_interpolate_interrupted_while_projecting_writes_no_picture(run, env):
    before = tree(run)
    argv = ["interpolate", str(run), "--between", "images", "--images", "0", "1",
            "--projection-steps", "10000000"]
    code, err = interrupt(env, argv, "projecting")
    check(code, err, argv)
    assert tree(run) == before and not (run / "latent").exists()
    no_temporary_files(env, run)


def test_latent_arithmetic_interrupted_while_sampling_writes_nothing(run, env, tmp_path):
    argv = ["latent-arithmetic", str(run), "--attribute", "ink", "-n", "1000000",
            "-o", str(tmp_path / "ink.png")]
    code, err = interrupt(env, argv, "latent arithmetic")
    check(code, err, argv)
    assert list(tmp_path.iterdir()) == []


def test_augment_bench_interrupted_writes_no_results(run, env):
    before = tree(run)
    argv = ["augment-bench", str(run), "--sizes", "10", "--seeds", "1", "--steps", "1000000",
            "--synthetic-per-class", "10"]
    code, err = interrupt(env, argv, "augment-bench")
    check(code, err, argv)
    assert tree(run) == before
    no_temporary_files(env, run)


def test_export_model_interrupted_keeps_the_old_model_folder(run, env, tmp_path, monkeypatch,
                                                             capsys):
    """export-model has no long part to wait for: Ctrl-C arrives while its staged folder is
    half full (in process)."""
    import gankit.share.export as share_export

    out = tmp_path / "model"
    monkeypatch.setenv("GANKIT_CACHE_DIR", env["GANKIT_CACHE_DIR"])
    assert main(["export-model", str(run), "-o", str(out)]) == 0
    before = tree(out)

    def ctrl_c(data: bytes, path: Path) -> None:
        path.write_bytes(data[: len(data) // 2])
        raise KeyboardInterrupt

    monkeypatch.setattr(share_export, "save_torchscript", ctrl_c)
    argv = ["export-model", str(run), "-o", str(out), "--overwrite"]
    capsys.readouterr()
    assert main(argv) == 130
    assert capsys.readouterr().err.splitlines() == [said(argv)]
    assert tree(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


# ---------------------------------------------------------------- the machinery


def commands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


@pytest.mark.parametrize("name", sorted(commands()))
def test_every_command_declares_what_an_interrupt_leaves(name):
    parser = commands()[name]
    sentence = parser.get_default("interrupted")
    assert isinstance(sentence, str) and sentence.endswith(".") and len(sentence) > 15
    filled = sentence.format_map({a.dest: a.dest.upper() for a in parser._actions})
    assert "{" not in filled  # it names only the command's own arguments


def test_an_interrupted_command_says_its_own_sentence(monkeypatch, capsys):
    import gankit.commands.presets as presets

    def ctrl_c(args: argparse.Namespace) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(presets, "run", ctrl_c)
    assert main(["presets"]) == 130
    assert capsys.readouterr().err == "gankit: interrupted: nothing was written.\n"


def test_a_ctrl_c_swallowed_by_a_callback_still_stops_the_command(monkeypatch, capsys):
    """Python only prints a KeyboardInterrupt raised in a weak-reference callback or finaliser
    (as when Ctrl-C lands in an import's module lock, seen in CI); gankit delivers it again."""
    import gankit.commands.presets as presets

    class Thing:
        pass

    def press_ctrl_c(ref: weakref.ref) -> None:
        raise KeyboardInterrupt

    def long_work(args: argparse.Namespace) -> int:
        thing = Thing()
        ref = weakref.ref(thing, press_ctrl_c)
        del thing  # the callback runs here and its interrupt is swallowed
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            pass
        return 0 if ref is not None else 1

    monkeypatch.setattr(presets, "run", long_work)
    assert main(["presets"]) == 130
    assert capsys.readouterr().err == "gankit: interrupted: nothing was written.\n"


def test_ctrl_c_while_writing_comes_after_the_files(tmp_path):
    args = argparse.Namespace(interrupted="nothing was written.")
    handler = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt), writing(args, "all was written."):
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)
        (tmp_path / "a").write_text("a")
        (tmp_path / "b").write_text("b")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b"]
    assert args.interrupted == "all was written."
    assert signal.getsignal(signal.SIGINT) is handler
    with writing(args, "never said"):
        (tmp_path / "c").write_text("c")
    assert args.interrupted == "all was written."
