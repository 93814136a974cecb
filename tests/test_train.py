"""The training loop through the Python API: learning happens, resume is exact."""

import torch

import gankit

TINY = {"train": {"steps": 8, "log_every": 2, "sample_every": 4, "checkpoint_every": 4,
                  "batch_size": 32, "ema_decay": 0.9},
        "model": {"z_dim": 8, "g": {"hidden": [32]}, "d": {"hidden": [32]}}}


def weights(run):
    return {f"{name}.{k}": v for name, m in run.recipe.modules().items()
            for k, v in m.state_dict().items()}


def test_api_train_load_sample(tmp_path):
    run = gankit.train(TINY, out=tmp_path / "r", progress=False)
    x = run.sample(5, seed=1)
    assert x.shape == (5, 1, 8, 8) and x.min() >= -1 and x.max() <= 1
    assert torch.equal(x, run.sample(5, seed=1))
    again = gankit.load(tmp_path / "r")
    assert again.step == 8 and torch.equal(again.sample(5, seed=1), x)
    assert set(run.recipe.modules()) == {"G", "D", "G_ema"}


def test_resume_is_bit_identical_to_an_uninterrupted_run(tmp_path):
    full = gankit.train(TINY, out=tmp_path / "full", progress=False)
    half = {**TINY, "train": {**TINY["train"], "steps": 4}}
    gankit.train(half, out=tmp_path / "half", progress=False)
    resumed = gankit.resume(tmp_path / "half", steps=8, progress=False)
    a, b = weights(full), weights(resumed)
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_short_training_moves_d_and_g_apart_from_init(tmp_path):
    cfg = {**TINY, "train": {**TINY["train"], "steps": 30}}
    run = gankit.train(cfg, out=tmp_path / "r", progress=False)
    records = [line for line in (run.path / "metrics.jsonl").read_text().splitlines()]
    assert len(records) == 15
