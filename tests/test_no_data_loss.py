"""No data loss, ever: --overwrite, run locks, OS errors, limits, Ctrl-C (issue 17).

Each test reproduces a failure of the earlier code and checks the fix; the property-based test
throws random --out / --overwrite / --resume combinations at folders holding foreign files.
"""

import errno
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.torch import load_file

from gankit.cli import main
from gankit.training.checkpoint import checkpoint_paths, load_latest, save_checkpoint
from gankit.training.runfolder import LOCK, REPLACES, lock, staging_path

TINY = ["--no-progress", "--batch-size", "8", "--set", "model.z_dim=4",
        "--set", "model.g.hidden=[8]", "--set", "model.d.hidden=[8]",
        "--set", "train.final_grid=4", "--set", "train.sample_grid=4",
        "--set", "train.log_every=1", "--set", "train.sample_every=1000"]


def train(*args: object) -> int:
    return main(["train", *TINY, *map(str, args)])


def tree(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (relative name → SHA-256), the lock file left out."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and p.name != LOCK}


def foreign(folder: Path) -> Path:
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "keep.txt").write_text("keep")
    return folder / "sub" / "keep.txt"


# ---------------------------------------------------------------- --overwrite


def test_overwrite_never_touches_the_working_folder(tmp_path, monkeypatch, capsys):
    keep = foreign(tmp_path / "t")
    monkeypatch.chdir(tmp_path / "t")
    assert train("--steps", 2, "--out", ".", "--overwrite") == 2
    assert "working folder" in capsys.readouterr().err
    assert keep.read_text() == "keep" and sorted(os.listdir(".")) == ["sub"]
    monkeypatch.chdir(tmp_path / "t" / "sub")
    assert train("--steps", 2, "--out", "..", "--overwrite") == 2  # a parent of it
    assert keep.read_text() == "keep"


def test_overwrite_refuses_a_folder_that_is_not_a_run(tmp_path, capsys):
    keep = foreign(tmp_path / "mine")
    assert train("--steps", 2, "--out", tmp_path / "mine", "--overwrite") == 2
    err = capsys.readouterr().err
    assert "not a gankit run folder" in err and len(err.strip().splitlines()) == 1
    assert keep.read_text() == "keep"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine"]


def test_a_failing_overwrite_leaves_the_old_run_as_it_was(tmp_path, capsys):
    run = tmp_path / "R"
    assert train("--steps", 6, "--set", "train.checkpoint_every=2", "--out", run) == 0
    before = tree(run)
    assert main(["train", "--out", str(run), "--overwrite", "--batch-size", "1",
                 "--steps", "20", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "batch normalisation needs at least 2 samples" in err
    assert tree(run) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["R"]  # no staging folder left


def test_a_finished_overwrite_replaces_the_run(tmp_path, capsys):
    run = tmp_path / "R"
    assert train("--steps", 3, "--out", run) == 0
    assert train("--steps", 5, "--out", run, "--overwrite") == 0
    assert "trains in" in capsys.readouterr().out
    assert "steps: 5" in (run / "config.yaml").read_text()
    assert [p.name for p in checkpoint_paths(run / "checkpoints")] == ["step_0000005.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["R"]
    assert not (run / REPLACES).exists()


def test_an_interrupted_overwrite_keeps_the_old_run_and_resumes_into_its_place(tmp_path):
    run = tmp_path / "R"
    assert train("--steps", 3, "--out", run) == 0
    before = tree(run)
    proc = subprocess.Popen(
        [sys.executable, "-m", "gankit", "train", *TINY, "--steps", "100000", "--out", str(run),
         "--overwrite", "--set", "train.checkpoint_every=100000"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    staging = staging_path(run)
    wait_for(lambda: (staging / "metrics.jsonl").is_file())
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "gankit: stopped: Stopped after step" in err and "was left as it was" in err
    assert tree(run) == before
    step = int(err.split("Stopped after step ")[1].split(":")[0])
    assert [p.name for p in checkpoint_paths(staging / "checkpoints")] == [f"step_{step:07d}.json"]
    target = step + 2
    assert main(["train", "--resume", str(staging), "--steps", str(target), "--no-progress"]) == 0
    assert not staging.exists()
    assert f"steps: {target}" in (run / "config.yaml").read_text()


def wait_for(condition, timeout: float = 120.0) -> None:
    deadline = time.time() + timeout
    while not condition():
        assert time.time() < deadline, "timed out"
        time.sleep(0.05)


# ---------------------------------------------------------------- checkpoints


def test_checkpoints_are_ordered_by_step_past_seven_digits(tmp_path):
    for step in range(9_999_000, 10_001_001, 500):
        save_checkpoint(tmp_path, step, {"w": torch.full((2,), float(step))}, keep=2)
    assert [int(p.stem.split("_")[1]) for p in checkpoint_paths(tmp_path)] == [
        10_000_000, 10_000_500, 10_001_000]
    step, state, _ = load_latest(tmp_path)
    assert step == 10_001_000 and float(state["w"][0]) == 10_001_000


def test_a_tensors_file_that_is_not_safetensors_is_skipped(tmp_path):
    save_checkpoint(tmp_path, 1, {"w": torch.ones(2)}, keep=5)
    save_checkpoint(tmp_path, 2, {"w": torch.ones(2) * 2}, keep=5)
    junk = b"this is not a safetensors file at all"
    (tmp_path / "step_0000002.safetensors").write_bytes(junk)
    meta = json.loads((tmp_path / "step_0000002.json").read_text())
    meta["sha256"] = hashlib.sha256(junk).hexdigest()  # the checksum matches the junk
    (tmp_path / "step_0000002.json").write_text(json.dumps(meta))
    with pytest.warns(UserWarning, match="cannot be read"):
        step, state, _ = load_latest(tmp_path)
    assert step == 1 and torch.equal(state["w"], torch.ones(2))


def test_stale_temporary_files_are_removed_at_the_next_start(tmp_path):
    run = tmp_path / "R"
    assert train("--steps", 2, "--out", run) == 0
    stale = [run / "checkpoints" / ".step_0000002.safetensors.abcd1234.tmp",
             run / ".metrics.jsonl.x_y9ab12.tmp"]
    for path in stale:
        path.write_bytes(b"half")
    (run / "notes.tmp").write_text("a user's file, not one of gankit's temporary files")
    assert main(["train", "--resume", str(run), "--steps", "3", "--no-progress"]) == 0
    assert not any(p.exists() for p in stale) and (run / "notes.tmp").exists()


# ---------------------------------------------------------------- locks


def test_a_second_process_is_refused_while_a_run_trains(tmp_path, capsys):
    run = tmp_path / "R"
    assert train("--steps", 2, "--out", run) == 0
    held = lock(run)
    try:
        assert main(["train", "--resume", str(run), "--steps", "4", "--no-progress"]) == 2
        assert "in use by another gankit process" in capsys.readouterr().err
        assert train("--steps", 2, "--out", run, "--overwrite") == 2
        assert "in use" in capsys.readouterr().err
    finally:
        held.release()
    assert main(["train", "--resume", str(run), "--steps", "4", "--no-progress"]) == 0


def test_a_killed_process_leaves_no_stale_lock(tmp_path):
    run = tmp_path / "R"
    proc = subprocess.Popen([sys.executable, "-m", "gankit", "train", *TINY, "--steps", "100000",
                             "--out", str(run)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    wait_for(lambda: (run / "metrics.jsonl").is_file())
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    lock(run).release()  # would raise if the dead process still held it
    assert main(["train", "--resume", str(run), "--steps", "3", "--no-progress"]) == 0


# ---------------------------------------------------------------- Ctrl-C and resume


def test_ctrl_c_writes_a_checkpoint_and_resume_is_bit_identical(tmp_path):
    args = [*TINY, "--set", "train.checkpoint_every=100000"]
    full, stopped = tmp_path / "full", tmp_path / "stopped"
    proc = subprocess.Popen([sys.executable, "-m", "gankit", "train", *args, "--steps",
                             "100000", "--out", str(stopped)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for(lambda: (stopped / "metrics.jsonl").is_file()
             and len((stopped / "metrics.jsonl").read_text().splitlines()) >= 5)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130
    step = int(err.split("Stopped after step ")[1].split(":")[0])
    assert f"the newest checkpoint is step {step}" in err and "--resume" in err
    total = step + 7
    assert main(["train", "--resume", str(stopped), "--steps", str(total),
                 "--no-progress"]) == 0
    assert train("--steps", total, "--out", full, "--set", "train.checkpoint_every=100000") == 0
    name = f"step_{total:07d}.safetensors"
    a, b = load_file(full / "checkpoints" / name), load_file(stopped / "checkpoints" / name)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_a_run_without_a_checkpoint_resumes_from_step_0(tmp_path):
    from gankit.config import build_config
    from gankit.training.trainer import start_run

    cfg = build_config(None, None, {"train": {"steps": 4, "batch_size": 8},
                                    "model": {"g": {"hidden": [8]}, "d": {"hidden": [8]}}})
    start_run(cfg, tmp_path / "R", False, False).folder.release()  # made, never trained
    assert not checkpoint_paths(tmp_path / "R" / "checkpoints")
    assert main(["train", "--resume", str(tmp_path / "R"), "--no-progress"]) == 0
    assert main(["train", "--out", str(tmp_path / "new"), "--steps", "4", "--batch-size", "8",
                 "--set", "model.g.hidden=[8]", "--set", "model.d.hidden=[8]",
                 "--no-progress"]) == 0
    name = "checkpoints/step_0000004.safetensors"
    a, b = load_file(tmp_path / "R" / name), load_file(tmp_path / "new" / name)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_a_shape_changing_edit_of_config_yaml_is_one_sentence(tmp_path, capsys):
    run = tmp_path / "R"
    assert train("--steps", 2, "--out", run) == 0
    config = run / "config.yaml"
    config.write_text(config.read_text().replace("- 8\n", "- 16\n", 1))
    assert main(["train", "--resume", str(run), "--steps", "4", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "does not fit the networks" in err and len(err.strip().splitlines()) == 1
    assert main(["sample", str(run), "-o", str(tmp_path / "s.png")]) == 2
    assert "does not fit" in capsys.readouterr().err


# ---------------------------------------------------------------- first-step failures


def test_batch_size_1_with_batchnorm_leaves_no_run_folder(tmp_path, capsys):
    assert main(["train", "--steps", "3", "--batch-size", "1", "--out", str(tmp_path / "R"),
                 "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("gankit: error: Training failed at its first step (batch")
    assert not (tmp_path / "R").exists()
    (tmp_path / "empty").mkdir()  # a folder the user made stays, empty
    assert main(["train", "--steps", "3", "--batch-size", "1", "--out", str(tmp_path / "empty"),
                 "--no-progress"]) == 2
    assert list((tmp_path / "empty").iterdir()) in ([], [tmp_path / "empty" / LOCK])


# ---------------------------------------------------------------- OS errors


def symlink_loop(folder: Path) -> Path:
    (folder / "loop").symlink_to(folder / "loop")
    return folder / "loop" / "run"


def under_a_file(folder: Path) -> Path:
    (folder / "file").write_text("x")
    return folder / "file" / "run"


@pytest.mark.parametrize("make, cause", [
    (symlink_loop, "Too many levels of symbolic links"),
    (lambda folder: folder / ("x" * 300), "File name too long"),
    (under_a_file, "Not a directory"),
])
def test_os_errors_are_one_sentence_with_exit_2(tmp_path, capsys, make, cause):
    out = make(tmp_path)
    assert train("--steps", 2, "--out", out) == 2
    err = capsys.readouterr().err
    assert err.startswith("gankit: error: ") and cause in err, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS, errno.EACCES])
def test_a_write_failing_mid_training_is_one_sentence_and_keeps_the_last_checkpoint(
        tmp_path, capsys, monkeypatch, code):
    import gankit.training.checkpoint as checkpoint

    run = tmp_path / "R"
    assert train("--steps", 4, "--set", "train.checkpoint_every=2", "--out", run) == 0
    real = checkpoint.save_file

    def failing(tensors, path):
        if "step_0000006" in str(path):
            raise OSError(code, os.strerror(code), str(path))
        return real(tensors, path)

    monkeypatch.setattr(checkpoint, "save_file", failing)
    assert main(["train", "--resume", str(run), "--steps", "8", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert os.strerror(code) in err and "step_0000006" in err
    assert len(err.strip().splitlines()) == 1
    assert [p.name for p in checkpoint_paths(run / "checkpoints")][-1] == "step_0000004.json"
    assert not list(run.rglob("*.tmp"))


# ---------------------------------------------------------------- sample counts


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "small"
    assert train("--steps", 2, "--out", out) == 0
    return out


@pytest.mark.parametrize("n", ["0", "-1"])
def test_sample_refuses_counts_below_1(small_run, tmp_path, capsys, n):
    assert main(["sample", str(small_run), "-n", n, "-o", str(tmp_path / "s.png")]) == 2
    assert "at least 1" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_huge_sample_requests_are_refused_or_streamed(small_run, tmp_path, capsys,
                                                      monkeypatch):
    import gankit.run as run_module

    assert main(["sample", str(small_run), "-n", "100000000", "-o",
                 str(tmp_path / "s.png")]) == 2
    assert "at most 10,000" in capsys.readouterr().err
    monkeypatch.setattr(run_module, "available_memory", lambda: 2**20)
    run = run_module.load(small_run)
    with pytest.raises(run_module.GankitError, match="need 2.4 GiB of memory"):
        run.sample(10_000_000)
    monkeypatch.setattr(run_module.shutil, "disk_usage",
                        lambda p: type("U", (), {"free": 10**6})())
    assert main(["sample", str(small_run), "-n", "100000000", "-o",
                 str(tmp_path / "s.npz")]) == 2
    assert "is free on that disk" in capsys.readouterr().err
    monkeypatch.undo()
    path = run.save_samples(tmp_path / "s.npz", 1234, seed=3)  # streamed, 500 at a time
    assert torch.equal(torch.from_numpy(np.load(path)["x"]), run.sample(1234, seed=3))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.npz"]


# ---------------------------------------------------------------- config values


@pytest.mark.parametrize("setting, message", [
    ("train.steps=true", "not true or false"),
    ("train.steps=1e20", "far too large"),
    ("train.steps=2000000000", "less than or equal"),
    ("loss.gp_weight=.inf", "finite number"),
    ("optim.g_lr=.nan", "finite number"),
    ("model.g.hidden=[true]", "not true or false"),
    ("data.options.radius=1e9", "less than or equal"),
])
def test_numbers_are_validated(tmp_path, capsys, setting, message):
    extra = ["--data", "ring8"] if "radius" in setting else []
    assert main(["train", *extra, "--set", setting, "--out", str(tmp_path / "r"),
                 "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "r").exists()


def test_duplicate_yaml_keys_and_config_folders_are_errors(tmp_path, capsys):
    (tmp_path / "dup.yaml").write_text("train:\n  steps: 5\n  steps: 7\n")
    assert main(["train", "--config", str(tmp_path / "dup.yaml")]) == 2
    assert "'steps' is given twice" in capsys.readouterr().err
    assert main(["train", "--config", str(tmp_path)]) == 2
    assert "is a folder" in capsys.readouterr().err


def test_a_config_file_without_a_preset_starts_from_the_default_preset(tmp_path):
    from gankit.config import build_config

    (tmp_path / "c.yaml").write_text("train:\n  steps: 5\n")
    cfg = build_config(None, tmp_path / "c.yaml")
    assert cfg.preset == "digits" and cfg.train.steps == 5
    assert cfg.train.ema_decay == build_config("digits").train.ema_decay
    (tmp_path / "none.yaml").write_text("preset: null\ntrain:\n  steps: 5\n")
    assert build_config(None, tmp_path / "none.yaml").preset is None


def test_classifier_training_is_announced_without_a_progress_bar(monkeypatch, capsys):
    import gankit.metrics.classifier as classifier
    from gankit.config import DataConfig

    monkeypatch.setattr(classifier, "train_classifier",
                        lambda *a, **k: {"epochs": 0, "steps": 0, "train_time_s": 0.0})
    classifier.load_or_train_classifier(DataConfig(name="digits"), progress=False)
    assert "training the evaluation classifier of digits" in capsys.readouterr().err


# ---------------------------------------------------------------- property: nothing foreign lost


OUTS = ["..", ".", "sub", "../A", "../A/sub", "../B", "../run", "../run.new", "../run/checkpoints"]


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(OUTS), st.booleans(), st.booleans(), st.booleans()),
                min_size=1, max_size=5))
def test_no_foreign_file_is_ever_deleted(tmp_path_factory, monkeypatch, commands):
    root = tmp_path_factory.mktemp("prop")
    keep = [foreign(root / "A"), foreign(root / "work"), root / "B" / "run-notes.txt"]
    keep[2].parent.mkdir()
    keep[2].write_text("notes")
    monkeypatch.chdir(root / "work")
    for out, overwrite, resume, fail in commands:
        if resume:
            main(["train", "--resume", out, "--steps", "3", "--no-progress"])
        else:
            flags = ["--overwrite"] if overwrite else []
            size = ["--batch-size", "1"] if fail else []
            train("--steps", 2, "--out", out, *flags, *size)
        for path in keep:
            assert path.read_text() in ("keep", "notes"), (commands, path)


@pytest.mark.parametrize("argv, message", [
    (["eval", "{run}", "--kid-subsets", "0"], "--kid-subsets must be from 1"),
    (["eval", "{run}", "-n", "10000000000"], "-n must be from 2 to 1,000,000"),
    (["export", "{run}", "--per-class", "1000000000", "-o", "{tmp}/e"], "of memory"),
])
def test_other_commands_bound_their_counts(small_run, tmp_path, capsys, argv, message):
    argv = [a.format(run=small_run, tmp=tmp_path) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1, err
    assert not list(tmp_path.iterdir())
