"""The training loop through the Python API: learning happens, resume is exact."""

import shutil

import pytest
import torch

import gankit
from gankit.recipes import base
from gankit.training.trainer import start_run

TINY = {"train": {"steps": 8, "log_every": 2, "sample_every": 4, "checkpoint_every": 4,
                  "batch_size": 32, "ema_decay": 0.9},
        "model": {"z_dim": 8, "g": {"hidden": [32]}, "d": {"hidden": [32]}}}


def weights(run):
    return {f"{name}.{k}": v for name, m in run.recipe.networks().items()
            for k, v in m.state_dict().items()}


def test_api_train_load_sample(tmp_path):
    run = gankit.train(TINY, out=tmp_path / "r", progress=False)
    x = run.sample(5, seed=1)
    assert x.shape == (5, 1, 8, 8) and x.min() >= -1 and x.max() <= 1
    assert torch.equal(x, run.sample(5, seed=1))
    again = gankit.load(tmp_path / "r")
    assert again.step == 8 and torch.equal(again.sample(5, seed=1), x)
    assert set(run.recipe.networks()) == {"G", "D", "G_ema"}


def test_resume_is_bit_identical_to_an_uninterrupted_run(tmp_path):
    full = gankit.train(TINY, out=tmp_path / "full", progress=False)
    half = {**TINY, "train": {**TINY["train"], "steps": 4}}
    gankit.train(half, out=tmp_path / "half", progress=False)
    resumed = gankit.resume(tmp_path / "half", steps=8, progress=False)
    a, b = weights(full), weights(resumed)
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_training_pulls_samples_onto_the_ring(tmp_path):
    """A real learning check: after a short run, samples lie much nearer the ring's modes."""
    cfg = {"preset": "ring8", "seed": 1,
           "train": {"steps": 300, "batch_size": 128, "sample_every": 300, "log_every": 50,
                     "checkpoint_every": 300},
           "model": {"z_dim": 8, "g": {"hidden": [64, 64]}, "d": {"hidden": [64, 64]}},
           "optim": {"g_lr": 1e-3, "d_lr": 1e-3, "d_steps": 3, "lr_decay": "none"}}
    run = gankit.train(cfg, out=tmp_path / "ring", progress=False)
    centres = torch.tensor(run.facts["mode_centres"])

    def mean_distance(x):
        return torch.cdist(x, centres).min(dim=1).values.mean().item()

    untrained = gankit.train({**cfg, "train": {**cfg["train"], "steps": 1}},
                             out=tmp_path / "untrained", progress=False)
    before, after = mean_distance(untrained.sample(500, seed=0)), mean_distance(run.sample(500, 0))
    assert after < 0.5 * before, (before, after)


def test_bf16_autocast_trains_on_the_cpu(tmp_path):
    cfg = {**TINY, "train": {**TINY["train"], "amp": "bf16"},
           "loss": {"name": "wasserstein", "gp_weight": 10.0}}
    run = gankit.train(cfg, out=tmp_path / "r", progress=False)
    x = run.sample(4, seed=0)
    assert x.dtype == torch.float32 and torch.isfinite(x).all()


def test_amp_auto_uses_bf16_exactly_where_the_device_runs_it_natively(monkeypatch):
    cpu = torch.device("cpu")
    for native in (True, False):
        monkeypatch.setattr(base, "native_bf16", lambda device, native=native: native)
        assert base.use_bf16("auto", cpu) is native
        assert base.use_bf16("off", cpu) is False
    with pytest.warns(UserWarning, match="no native bf16"):
        assert base.use_bf16("bf16", cpu) is True
    # a bare `off` in YAML or --set is read as false; it still means off
    assert gankit.build_config(None, None, {"train": {"amp": False}}).train.amp == "off"


def test_amp_auto_is_recorded_on_the_recipe(tmp_path):
    cfg = {**TINY, "train": {**TINY["train"], "steps": 2, "amp": "auto"}}
    run = gankit.train(cfg, out=tmp_path / "r", progress=False)
    assert run.recipe.amp is base.native_bf16(torch.device("cpu"))
    assert run.config.train.amp == "auto"


def test_linear_lr_decay_follows_its_formula_and_resumes_exactly(tmp_path):
    cfg = {**TINY, "optim": {"g_lr": 1e-3, "d_lr": 2e-3, "lr_decay": "linear",
                             "lr_decay_start": 0.5}}
    trainer = start_run(gankit.build_config(None, None, cfg), tmp_path / "full", False, False)
    trainer.fit()
    recipe = trainer.recipe
    # 1 until half way (step 4 of 8), then linearly to 0 at step 8
    schedule = recipe.sched_g.lr_lambdas[0]
    assert [schedule(s) for s in (0, 4, 5, 6, 8)] == [1.0, 1.0, 0.75, 0.5, 0.0]
    # after the last step the schedulers stand at step 8: a learning rate of 0
    assert recipe.sched_d.last_epoch == 8 and recipe.opt_d.param_groups[0]["lr"] == 0.0
    assert recipe.sched_g.base_lrs == [1e-3] and recipe.sched_d.base_lrs == [2e-3]
    full = gankit.load(tmp_path / "full")
    # stopped after the checkpoint at step 4 of 8 and resumed: the same schedule, the same weights
    shutil.copytree(tmp_path / "full", tmp_path / "cut")
    for path in (tmp_path / "cut" / "checkpoints").glob("step_0000008.*"):
        path.unlink()
    resumed = gankit.resume(tmp_path / "cut", progress=False)
    a, b = weights(full), weights(resumed)
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_throughput_counts_the_batches_each_step_drew(tmp_path, monkeypatch):
    """A recipe whose steps change their batch count (f-AnoGAN's phases) is timed per sample."""
    from types import SimpleNamespace

    from gankit.training import hooks
    from gankit.training.hooks import MetricsLogger

    clock = iter([0.0, 1.0, 1.0, 2.0, 2.0])
    monkeypatch.setattr(hooks, "time", SimpleNamespace(perf_counter=lambda: next(clock)))
    per_step = iter([6, 6, 1, 1])

    class Bar:
        def set_postfix_str(self, *a, **k): ...
        def write(self, *a): ...

    logger = MetricsLogger(tmp_path / "metrics.jsonl", 2, 100, lambda: next(per_step), (),
                           Bar(), 4)
    loss = {"loss": torch.tensor(1.0)}
    for step in (1, 2):
        logger(step, loss)
    assert logger.last["img_per_s"] == 12.0
    for step in (3, 4):
        logger(step, loss)
    assert logger.last["img_per_s"] == 2.0 and logger.last["elapsed_s"] == 2.0
