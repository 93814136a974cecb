"""Two real processes under torchrun (gloo on the CPU): same weights, one complete run folder."""

import json
import os
import subprocess
import sys

import pytest
import torch
import torch.distributed as dist


def checkpoint_meta(run_dir, step):
    meta = json.loads((run_dir / "checkpoints" / f"step_{step:07d}.json").read_text())
    return dict(meta["state"]["__dict__"])


def four_steps_under_torchrun(tmp_path, args, batch):
    """Train 4 steps with ``args`` in two processes; the run folder, checked to hold one set of
    weights across both ranks."""
    out = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         "-m", "gankit", "train", *args, "--steps", "4", "--out", str(out), "--no-progress",
         "--set", "train.checkpoint_every=4", "--set", "train.log_every=2",
         "--set", "train.sample_every=4", "--set", f"train.batch_size={batch}"],
        capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    world = dict(checkpoint_meta(out, 4)["world"]["__dict__"])
    assert world["size"] == 2 and len(set(world["weights_sha256"])) == 1
    return out


@pytest.mark.skipif(not dist.is_available(), reason="torch.distributed is not available")
def test_two_processes_keep_identical_weights(tmp_path):
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         "-m", "gankit", "train", "--steps", "8", "--out", str(out), "--no-progress",
         "--set", "train.checkpoint_every=4", "--set", "train.log_every=2",
         "--set", "train.sample_every=4", "--set", "train.batch_size=32"],
        capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("Done. Run folder") == 1  # rank 0 alone speaks
    for step in (4, 8):
        world = dict(checkpoint_meta(out, step)["world"]["__dict__"])
        assert world["size"] == 2
        assert len(set(world["weights_sha256"])) == 1
    for name in ("config.yaml", "metrics.jsonl", "grid_final.png", "curves.png", "report.html"):
        assert (out / name).is_file(), name
    steps = [json.loads(x)["step"] for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert steps == [2, 4, 6, 8]  # one writer, no duplicated lines


@pytest.mark.skipif(not dist.is_available(), reason="torch.distributed is not available")
def test_two_process_resume_is_bit_identical(tmp_path):
    from safetensors.torch import load_file

    def torchrun(*args):
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        proc = subprocess.run(
            [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node",
             "2", "-m", "gankit", "train", *args, "--no-progress"],
            capture_output=True, text=True, timeout=300, env=env)
        assert proc.returncode == 0, proc.stderr[-3000:]

    common = ["--set", "train.checkpoint_every=3", "--set", "train.log_every=3",
              "--set", "train.sample_every=6", "--set", "train.batch_size=32"]
    torchrun("--steps", "6", "--out", str(tmp_path / "full"), *common)
    torchrun("--steps", "3", "--out", str(tmp_path / "half"), *common)
    torchrun("--resume", str(tmp_path / "half"), "--steps", "6")
    a = load_file(tmp_path / "full" / "checkpoints" / "step_0000006.safetensors")
    b = load_file(tmp_path / "half" / "checkpoints" / "step_0000006.safetensors")
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


@pytest.mark.skipif(not dist.is_available(), reason="torch.distributed is not available")
@pytest.mark.parametrize(("preset", "tiny"), [
    ("ctgan", ["--set", "model.pack=4", "--set", "model.g_hidden=[16]",
               "--set", "model.d_hidden=[16]"]),
    ("adult-tvae", ["--set", "model.encoder_hidden=[16]", "--set", "model.decoder_hidden=[16]"]),
])
def test_table_recipes_train_under_torchrun(tmp_path, preset, tiny):
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    table = tmp_path / "t.csv"
    pd.DataFrame({"x": rng.normal(size=200).round(3), "k": rng.choice(["a", "b", "c"], 200),
                  "n": rng.integers(0, 5, 200)}).to_csv(table, index=False)
    out = four_steps_under_torchrun(tmp_path, ["--preset", preset, "--data", "table",
                                               "--data-dir", str(table), *tiny], batch=16)
    assert (out / "columns_final.png").is_file()


@pytest.mark.skipif(not dist.is_available(), reason="torch.distributed is not available")
@pytest.mark.parametrize(("preset", "source", "tiny"), [
    ("pix2pix", "pairs", ["--set", "model.g_width=4", "--set", "model.d_width=4"]),
    ("cyclegan", "unpaired", ["--set", "model.g_width=4", "--set", "model.d_width=4",
                              "--set", "model.blocks=1", "--set", "loss.pool_size=3"]),
])
def test_translation_recipes_train_under_torchrun(tmp_path, preset, source, tiny):
    from test_translation import write_pairs, write_unpaired

    folder = (write_pairs if source == "pairs" else write_unpaired)(tmp_path / "images")
    out = four_steps_under_torchrun(tmp_path, ["--preset", preset, "--data-dir", str(folder),
                                               *tiny], batch=2)
    assert (out / "translation_final.png").is_file()


@pytest.mark.skipif(not dist.is_available(), reason="torch.distributed is not available")
def test_leave_closes_only_the_group_join_opened(tmp_path, monkeypatch):
    from gankit.training.distributed import join, leave

    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0,
                            world_size=1)
    try:
        monkeypatch.setenv("WORLD_SIZE", "2")
        monkeypatch.setenv("RANK", "0")
        join(torch.device("cpu"))  # the caller's group is in use already: join opens none
        leave()
        assert dist.is_initialized()  # so leave() keeps it
    finally:
        dist.destroy_process_group()
