"""The VAE baseline recipe: its loss, training, the run folder, exact resume, sampling, encoding."""

import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from torch.distributions import Normal, kl_divergence

import gankit
from gankit.cli import main
from gankit.config import build_config
from gankit.models import DataSpec
from gankit.recipes import RECIPES
from gankit.recipes.vae import POINT_STD, VAERecipe, kl_to_standard_normal, reconstruction_nll

DIGITS = DataSpec("digits", "image", (1, 8, 8), "symmetric", tuple(str(i) for i in range(10)))
SMALL = {"model": {"z_dim": 3, "g": {"hidden": [16]}, "d": {"hidden": [16]}}}
TINY = {"train": {"steps": 6, "log_every": 1, "sample_every": 6, "checkpoint_every": 3,
                  "batch_size": 32, "ema_decay": 0.9},
        "model": {"z_dim": 4, "g": {"hidden": [32]}, "d": {"hidden": [32]}}}


def tiny_recipe(spec=DIGITS, **sections):
    cfg = build_config("digits-vae", None, {**SMALL, **sections})
    torch.manual_seed(0)
    return VAERecipe(cfg, spec, torch.device("cpu"))


def test_the_recipe_is_registered_with_the_recipe_interface():
    assert RECIPES.get("vae") is VAERecipe
    recipe = tiny_recipe()
    assert recipe.progress_keys == ("loss", "recon", "kl") and recipe.num_classes == 0
    assert set(recipe.networks()) == {"encoder", "decoder", "decoder_ema"}
    assert set(recipe.optimizers()) == {"opt"}
    assert recipe.generator(use_ema=False) is recipe.decoder
    assert recipe.generator() is recipe.generator_ema
    # the discriminator's scoring head is frozen: not trained, not counted
    assert "body.net.3.weight" in recipe.encoder.state_dict()
    assert recipe.describe()["encoder"] == (64 * 16 + 16) + (16 * 6 + 6)


def test_train_step_loss_equals_reconstruction_plus_closed_form_kl():
    recipe = tiny_recipe(train={"ema_decay": 0.0})
    x = torch.rand(5, 1, 8, 8) * 2 - 1
    enc, dec = recipe.encoder, recipe.decoder
    with torch.no_grad():  # by hand, from the weights before the step
        h = enc.body.features(x)
        params = h @ enc.out.weight.T + enc.out.bias
        mean, logvar = params[:, :3], params[:, 3:]
        torch.manual_seed(11)
        eps = torch.randn(5, 3)
        std = torch.exp(0.5 * logvar)
        p = (dec(mean + std * eps) + 1) / 2
        t = (x + 1) / 2
        recon = -(t * p.log() + (1 - t) * (1 - p).log()).flatten(1).sum(1)
        kl = kl_divergence(Normal(mean, std), Normal(0.0, 1.0)).sum(1)
    before = recipe.decoder.net[0].weight.clone()
    torch.manual_seed(11)  # the step draws the same ε from the global RNG
    out = recipe.train_step([{"x": x}])
    assert set(out) == {"loss", "recon", "kl"} and all(v.ndim == 0 for v in out.values())
    assert not any(v.requires_grad for v in out.values())
    torch.testing.assert_close(out["recon"], recon.mean(), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(out["kl"], kl.mean(), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(out["loss"], (recon + kl).mean(), rtol=1e-5, atol=1e-5)
    assert not torch.equal(before, recipe.decoder.net[0].weight)  # one Adam step was taken


def test_closed_form_kl_agrees_with_monte_carlo():
    gen = torch.Generator().manual_seed(0)
    mean = torch.randn(3, 4, generator=gen)
    logvar = torch.randn(3, 4, generator=gen) * 0.5
    std = (0.5 * logvar).exp()
    z = mean + std * torch.randn(200_000, 3, 4, generator=gen)
    log_q = (-0.5 * ((z - mean) / std) ** 2 - std.log() - 0.5 * math.log(2 * math.pi)).sum(-1)
    log_p = (-0.5 * z**2 - 0.5 * math.log(2 * math.pi)).sum(-1)
    monte_carlo = (log_q - log_p).mean(0)
    torch.testing.assert_close(kl_to_standard_normal(mean, logvar), monte_carlo, rtol=0.02,
                               atol=0.01)


def test_points_use_a_gaussian_likelihood_with_fixed_variance():
    x, x_hat = torch.randn(6, 2), torch.randn(6, 2)
    nll = -Normal(x_hat, POINT_STD).log_prob(x).sum(1)
    constant = 2 * math.log(POINT_STD * math.sqrt(2 * math.pi))
    torch.testing.assert_close(reconstruction_nll(x_hat, x, "points", "symmetric"),
                               nll - constant)


def test_unit_images_use_binary_cross_entropy_on_the_data_as_it_is():
    x, x_hat = torch.rand(4, 1, 3, 3), torch.rand(4, 1, 3, 3).clamp(0.01, 0.99)
    bce = -(x * x_hat.log() + (1 - x) * (1 - x_hat).log()).flatten(1).sum(1)
    torch.testing.assert_close(reconstruction_nll(x_hat, x, "image", "unit"), bce)


def test_a_few_steps_lower_the_loss(tmp_path):
    run = gankit.train("digits-vae", out=tmp_path / "r", progress=False,
                       train={"steps": 120, "log_every": 1, "sample_every": 120,
                              "checkpoint_every": 120})
    records = [json.loads(x) for x in (run.path / "metrics.jsonl").read_text().splitlines()]
    late = np.mean([r["loss"] for r in records[-20:]])
    assert late < 0.7 * records[0]["loss"]
    assert all(r["loss"] == pytest.approx(r["recon"] + r["kl"], rel=1e-4) for r in records)


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "vae"
    code = main(["train", "--preset", "digits-vae", "--steps", "20", "--out", str(out),
                 "--no-progress", "--set", "train.log_every=5", "--set", "train.sample_every=10",
                 "--set", "train.checkpoint_every=10"])
    assert code == 0
    return out


def test_cli_train_writes_the_usual_run_folder(cli_run, capsys):
    out = cli_run
    for name in ("config.yaml", "dataset.json", "metrics.jsonl", "curves.png", "grid_final.png",
                 "report.html"):
        assert (out / name).is_file(), name
    assert "recipe: vae" in (out / "config.yaml").read_text()
    records = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [5, 10, 15, 20]
    assert {"loss", "recon", "kl", "img_per_s"} <= set(records[0])
    assert sorted(p.name for p in (out / "samples").iterdir()) == [
        "step_000000.png", "step_000010.png", "step_000020.png"]
    assert sorted(p.name for p in (out / "checkpoints").glob("*.json")) == [
        "step_0000010.json", "step_0000020.json"]
    tensors = load_file(out / "checkpoints" / "step_0000020.safetensors")
    assert any(k.startswith("/modules/encoder/") for k in tensors)
    assert any(k.startswith("/modules/decoder_ema/") for k in tensors)


def test_cli_sample_and_encode_on_the_vae_run(cli_run, tmp_path):
    assert main(["sample", str(cli_run), "-n", "10", "-o", str(tmp_path / "s.png")]) == 0
    assert (tmp_path / "s.png").is_file()
    assert main(["sample", str(cli_run), "-n", "7", "-o", str(tmp_path / "s.npz"),
                 "--seed", "3"]) == 0
    x = np.load(tmp_path / "s.npz")["x"]
    assert x.shape == (7, 1, 8, 8) and x.min() >= -1 and x.max() <= 1
    run = gankit.load(cli_run)
    again = run.sample(7, seed=3).numpy()
    np.testing.assert_array_equal(x, again)  # codes from the CPU generator: reproducible
    images = run.sample(5, seed=0)
    z = run.recipe.encode(images)
    assert z.shape == (5, 16) and torch.isfinite(z).all()
    assert torch.equal(z, run.recipe.encode(images))  # the mean, no sampling
    assert run.recipe.reconstruct(images).shape == images.shape


def test_resume_is_bit_identical(tmp_path):
    gankit.train("digits-vae", out=tmp_path / "full", progress=False, **TINY)
    half = {**TINY, "train": {**TINY["train"], "steps": 3}}
    gankit.train("digits-vae", out=tmp_path / "half", progress=False, **half)
    gankit.resume(tmp_path / "half", steps=6, progress=False)
    a = load_file(tmp_path / "full" / "checkpoints" / "step_0000006.safetensors")
    b = load_file(tmp_path / "half" / "checkpoints" / "step_0000006.safetensors")
    assert a.keys() == b.keys() and any("opt" in k for k in a)
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_bad_settings_stop_before_anything_is_written(tmp_path, capsys):
    out = tmp_path / "r"
    code = main(["train", "--preset", "digits-vae", "--set", "model.noise=uniform",
                 "--out", str(out), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and "Unknown config key 'model.noise'" in err
    assert len(err.strip().splitlines()) == 1
    assert not out.exists()


@pytest.mark.slow
def test_two_processes_train_the_vae(tmp_path):
    out = tmp_path / "ddp"
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         "-m", "gankit", "train", "--preset", "digits-vae", "--steps", "6", "--out", str(out),
         "--no-progress", "--set", "train.checkpoint_every=3", "--set", "train.batch_size=32"],
        capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    meta = json.loads((out / "checkpoints" / "step_0000006.json").read_text())
    world = dict(dict(meta["state"]["__dict__"])["world"]["__dict__"])
    assert world["size"] == 2 and len(set(world["weights_sha256"])) == 1
