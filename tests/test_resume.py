"""Runs you can trust: exact resume after SIGKILL, corrupt checkpoints, divergence."""

import json
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

import gankit
from gankit.recipes.gan import GANRecipe
from gankit.training.checkpoint import load_checkpoint
from gankit.training.guard import Diverged

TINY = {"train": {"steps": 9, "log_every": 1, "sample_every": 9, "checkpoint_every": 3,
                  "batch_size": 32},
        "model": {"z_dim": 8, "g": {"hidden": [32]}, "d": {"hidden": [32]}}}


def final_tensors(run_dir):
    last = sorted((run_dir / "checkpoints").glob("*.safetensors"))[-1]
    return last.name, load_file(last)


def test_sigkill_then_resume_is_bit_identical(tmp_path):
    args = ["--steps", "600", "--set", "train.checkpoint_every=100", "--set", "train.log_every=50",
            "--set", "train.sample_every=600", "--set", "model.g.hidden=[64]",
            "--set", "model.d.hidden=[64]", "--set", "train.batch_size=16", "--no-progress"]
    cmd = [sys.executable, "-m", "gankit", "train", *args]
    subprocess.run([*cmd, "--out", str(tmp_path / "full")], check=True, capture_output=True)

    killed = tmp_path / "killed"
    proc = subprocess.Popen([*cmd, "--out", str(killed)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while not list((killed / "checkpoints").glob("step_*.json")) and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (killed / "grid_final.png").exists(), "the run finished before it was killed"
    done = subprocess.run([sys.executable, "-m", "gankit", "train", "--resume", str(killed),
                           "--no-progress"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    name_a, a = final_tensors(tmp_path / "full")
    name_b, b = final_tensors(killed)
    assert name_a == name_b == "step_0000600.safetensors"
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    steps = [json.loads(x)["step"] for x in (killed / "metrics.jsonl").read_text().splitlines()]
    assert steps == list(range(50, 601, 50))  # no duplicated or missing log lines


def test_corrupt_latest_checkpoint_falls_back_to_the_previous_one(tmp_path):
    gankit.train(TINY, out=tmp_path / "r", progress=False)
    blob = tmp_path / "r" / "checkpoints" / "step_0000009.safetensors"
    blob.write_bytes(blob.read_bytes()[:-10])  # truncated
    with pytest.warns(UserWarning, match="step_0000009.safetensors.*corrupt.*older one"):
        run = gankit.load(tmp_path / "r")
    assert run.step == 6
    proc = subprocess.run([sys.executable, "-m", "gankit", "train", "--resume",
                           str(tmp_path / "r"), "--steps", "12", "--no-progress"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "corrupt" in proc.stderr and "from step 6 to 12" in proc.stdout


def nan_at(step_to_fail, times=1):
    """Patch GANRecipe.train_step to report a NaN loss at one step (``times`` times)."""
    original = GANRecipe.train_step
    state = {"left": times}

    def train_step(self, batches):
        out = original(self, batches)
        if self.steps_done == step_to_fail and state["left"] > 0:
            state["left"] -= 1
            out["g_loss"] = torch.tensor(float("nan"))
        return out

    return train_step


def test_divergence_stops_at_the_step_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    monkeypatch.setattr(GANRecipe, "train_step", nan_at(5))
    with pytest.raises(Diverged, match="at step 5; last good checkpoint: step 3") as info:
        gankit.train(TINY, out=tmp_path / "r", progress=False)
    assert info.value.exit_code == 3
    ckpts = sorted(p.name for p in (tmp_path / "r" / "checkpoints").glob("*.json"))
    assert ckpts == ["step_0000003.json"]
    logged = [json.loads(x) for x in (tmp_path / "r" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in logged] == [1, 2, 3, 4]
    assert all(np.isfinite(r["g_loss"]) for r in logged)


def test_divergence_rollback_lowers_the_learning_rate_and_finishes(tmp_path, monkeypatch):
    monkeypatch.setattr(GANRecipe, "train_step", nan_at(5))
    cfg = {**TINY, "train": {**TINY["train"], "on_divergence": "rollback"}}
    run = gankit.train(cfg, out=tmp_path / "r", progress=False)
    assert run.step == 9
    _, state = load_checkpoint(tmp_path / "r" / "checkpoints" / "step_0000009.json")
    lrs = {g["lr"] for o in state["optimizers"].values() for g in o["param_groups"]}
    assert lrs == {1e-4}  # 2e-4 halved once, and kept in the checkpoint
    logged = [json.loads(x)["step"] for x in (tmp_path / "r" / "metrics.jsonl").read_text().split(
        "\n") if x]
    assert logged == list(range(1, 10))


def test_cli_reports_divergence_with_exit_code_3(tmp_path):
    points = np.full((256, 2), np.finfo(np.float32).max, dtype=np.float32)  # overflows in D
    points[::2] *= -1
    np.save(tmp_path / "huge.npy", points)
    proc = subprocess.run(
        [sys.executable, "-m", "gankit", "train", "--data", "arrays", "--data-dir",
         str(tmp_path / "huge.npy"), "--model", "mlp", "--steps", "50", "--out",
         str(tmp_path / "r"), "--no-progress", "--set", "train.checkpoint_every=1000"],
        capture_output=True, text=True)
    assert proc.returncode == 3, proc.stderr
    assert "Training diverged" in proc.stderr and "at step 1;" in proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "r" / "grid_final.png").exists()
