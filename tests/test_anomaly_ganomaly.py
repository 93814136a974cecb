"""The ganomaly recipe: trains through the real CLI on the 8×8 digits, scores in eval mode
(BatchNorm learns nothing from scored images), selects its weights on the normal validation
split only, resumes bit-identically, and detects the other digits."""

import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from sklearn.metrics import roc_auc_score
from torch import nn

from gankit.anomaly.holdout import split_normal
from gankit.cli import main
from gankit.config import DataConfig, build_config
from gankit.data import load_dataset
from gankit.errors import GankitError
from gankit.models import DataSpec
from gankit.recipes.capabilities import ScoresAnomalies
from gankit.recipes.ganomaly import GanomalyRecipe
from gankit.run import load
from gankit.training.checkpoint import load_checkpoint

pytestmark = pytest.mark.usefixtures("one_thread")

TINY = ["--preset", "digits-ganomaly", "--no-progress", "--set", "data.classes=[0]",
        "--set", "train.log_every=10"]


def train(out, steps, *extra):
    assert main(["train", *TINY, "--steps", str(steps), *extra, "--out", str(out)]) == 0
    return out


def records(run_dir):
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def digits_split(seed=0, holdout=0.1):
    """The (training, validation) split of the normal digit 0 a default run uses."""
    return split_normal(load_dataset(DataConfig(name="digits", classes=[0])), holdout, seed)


def bn_state(modules):
    """Copies of every BatchNorm buffer (running mean, variance, batch count) and flag."""
    out = {}
    for name, net in modules.items():
        for sub, m in net.named_modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                out[f"{name}.{sub}"] = ([b.clone() for b in m.buffers()], m.training)
    return out


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    return train(tmp_path_factory.mktemp("ganomaly") / "zero", 150)


def test_it_trains_logs_validation_and_draws(run_dir):
    logged = records(run_dir)
    val = [r for r in logged if "val_score" in r]
    assert [r["step"] for r in val] == [50, 100, 150]  # anomaly.select_every=50 and the last
    assert all(np.isfinite(r["val_score"]) and np.isfinite(r["val_loss"]) for r in val)
    train_rows = [r for r in logged if "g_loss" in r]
    assert {"g_loss", "d_loss", "adv", "con", "enc", "d_resets"} <= train_rows[-1].keys()
    assert train_rows[-1]["con"] < train_rows[0]["con"]  # it learns to reconstruct
    names = sorted(p.name for p in (run_dir / "samples").iterdir())
    assert names == ["step_000000.png", "step_000100.png"]
    assert (run_dir / "residuals_final.png").is_file()
    doc = (run_dir / "config.yaml").read_text()
    assert "recipe: ganomaly" in doc and "select_every: 50" in doc and "loss:" not in doc


def test_scores_are_finite_deterministic_and_independent_of_the_batch(run_dir):
    recipe = load(run_dir).recipe
    assert isinstance(recipe, ScoresAnomalies) and "latent" in recipe.anomaly_score_name
    x = load_dataset(DataConfig(name="digits")).rows(slice(0, 300))
    scores = recipe.anomaly_scores(x)
    assert scores.shape == (300,) and scores.dtype == torch.float32
    assert scores.device.type == "cpu" and torch.isfinite(scores).all() and (scores >= 0).all()
    assert torch.equal(scores, recipe.anomaly_scores(x))
    one_by_one = torch.cat([recipe.anomaly_scores(x[i:i + 1]) for i in range(10)])
    assert torch.allclose(one_by_one, scores[:10], rtol=1e-5, atol=1e-7)


def test_scoring_never_changes_batchnorm_even_from_training_mode(run_dir):
    recipe = load(run_dir).recipe
    nets = recipe.networks()
    for net in nets.values():
        net.train()  # as left by training: scoring must still run in eval mode
    before = bn_state(nets)
    assert any(training for _, training in before.values())
    x = load_dataset(DataConfig(name="digits")).rows(slice(300, 600)) * 0.5  # unlike the data
    scores = recipe.anomaly_scores(x)
    maps = recipe.residual_maps(x)
    after = bn_state(nets)
    assert before.keys() == after.keys() and len(before) > 4
    for key, (buffers, training) in before.items():
        assert after[key][1] == training, key  # every module's own flag restored
        for a, b in zip(buffers, after[key][0], strict=True):
            assert torch.equal(a, b), key
    for net in nets.values():
        net.eval()
    assert torch.equal(scores, recipe.anomaly_scores(x))  # the same as in eval mode
    assert torch.equal(maps, recipe.residual_maps(x))


def test_residual_maps_are_one_channel_in_unit_range(run_dir):
    recipe = load(run_dir).recipe
    x = load_dataset(DataConfig(name="digits")).rows(slice(0, 40))
    maps = recipe.residual_maps(x)
    assert maps.shape == (40, 1, 8, 8) and maps.dtype == torch.float32
    assert maps.device.type == "cpu" and maps.min() >= 0 and maps.max() <= 1
    assert maps.mean() > 0  # nothing is reconstructed perfectly
    zeros = torch.zeros(2, 1, 8, 8) - 1.0  # blank images (the data range is [-1, 1])
    assert recipe.residual_maps(zeros).shape == (2, 1, 8, 8)


def test_the_other_digits_score_higher_than_unseen_zeros(run_dir):
    """AUROC on images the run never trained on: the held-out zeros vs every other digit."""
    recipe = load(run_dir).recipe
    _, val = digits_split()
    data = load_dataset(DataConfig(name="digits"))
    others = data.rows(data.labels != 0)
    scores = torch.cat([recipe.anomaly_scores(val.rows()), recipe.anomaly_scores(others)])
    truth = np.r_[np.zeros(len(val)), np.ones(len(others))]
    assert roc_auc_score(truth, scores.numpy()) > 0.8


def test_selection_sees_only_the_normal_validation_split(tmp_path, monkeypatch):
    """Every selection check gets the held-out normal images, never training or test data,
    and the kept weights are those of the best check (scripted losses 3, 1, 2)."""
    seen, script = [], iter([3.0, 1.0, 2.0])

    def scripted(self, x):
        seen.append((self.steps_done, x.detach().clone()))
        return {"val_score": 0.5, "val_loss": next(script)}

    monkeypatch.setattr(GanomalyRecipe, "validation_stats", scripted)
    out = train(tmp_path / "r", 30, "--set", "anomaly.select_every=10",
                "--set", "train.checkpoint_every=10", "--set", "train.keep_checkpoints=5")
    train_part, val = digits_split()
    assert [step for step, _ in seen] == [10, 20, 30]
    for _, x in seen:
        assert torch.equal(x, val.rows())
    flat_train = train_part.rows().flatten(1)
    assert not any(bool((flat_train == row).all(1).any()) for row in val.rows().flatten(1))
    _, state = load_checkpoint(out / "checkpoints" / "step_0000030.json")
    assert state["recipe"]["best"] == 1.0 and state["recipe"]["selected_step"] == 20
    at_20 = load_file(out / "checkpoints" / "step_0000020.safetensors")
    final = load_file(out / "checkpoints" / "step_0000030.safetensors")
    selected = {k: v for k, v in final.items() if k.startswith("/modules/generator_selected/")}
    assert selected
    for key, value in selected.items():
        assert torch.equal(value, at_20[key.replace("generator_selected", "generator", 1)]), key
    assert any(not torch.equal(value, final[key.replace("generator_selected", "generator", 1)])
               for key, value in selected.items())  # not the weights of the last step
    logged = [r for r in records(out) if "val_loss" in r]
    assert [(r["step"], r["val_loss"]) for r in logged] == [(10, 3.0), (20, 1.0), (30, 2.0)]
    held = load(out).recipe.normal_holdout(load_dataset(DataConfig(name="digits", classes=[0])))
    assert torch.equal(held.rows(), val.rows())  # what `gankit score` thresholds on


def test_resume_is_bit_identical_including_the_selection_and_d_resets(tmp_path):
    extra = ["--set", "anomaly.select_every=10", "--set", "train.checkpoint_every=10",
             "--set", "anomaly.reinit_d=0.9"]  # D's loss starts below 0.9: it is reset
    train(tmp_path / "full", 40, *extra)
    train(tmp_path / "half", 20, *extra)
    assert main(["train", "--resume", str(tmp_path / "half"), "--steps", "40",
                 "--no-progress"]) == 0
    a = load_file(tmp_path / "full" / "checkpoints" / "step_0000040.safetensors")
    b = load_file(tmp_path / "half" / "checkpoints" / "step_0000040.safetensors")
    assert a.keys() == b.keys() and any("generator_selected" in k for k in a)
    for key in a:
        assert torch.equal(a[key], b[key]), key
    _, state_a = load_checkpoint(tmp_path / "full" / "checkpoints" / "step_0000040.json")
    _, state_b = load_checkpoint(tmp_path / "half" / "checkpoints" / "step_0000040.json")
    assert state_a["recipe"]["best"] == state_b["recipe"]["best"]
    assert state_a["recipe"]["selected_step"] == state_b["recipe"]["selected_step"]
    assert state_a["recipe"]["d_resets"] == state_b["recipe"]["d_resets"] > 0
    val_a = [r for r in records(tmp_path / "full") if "val_loss" in r]
    val_b = [r for r in records(tmp_path / "half") if "val_loss" in r]
    assert val_a == val_b and [r["step"] for r in val_a] == [10, 20, 30, 40]


def test_config_presets_and_refusals(tmp_path, capsys):
    for preset in ("digits-ganomaly", "mnist-ganomaly"):
        cfg = build_config(preset)
        assert cfg.recipe == "ganomaly" and cfg.anomaly.holdout == 0.1
        assert (cfg.anomaly.w_adv, cfg.anomaly.w_con, cfg.anomaly.w_enc) == (1.0, 50.0, 1.0)
    assert build_config("mnist-ganomaly").data.name == "mnist"
    assert main(["train", *TINY, "--set", "loss.name=ns", "--out", str(tmp_path / "x")]) == 2
    assert "Unknown config key 'loss'" in capsys.readouterr().err
    assert main(["train", *TINY, "--set", "model.d.minibatch_std=4",
                 "--out", str(tmp_path / "x")]) == 2
    assert "minibatch_std" in capsys.readouterr().err
    assert main(["train", "--preset", "digits-ganomaly", "--data", "ring8", "--no-progress",
                 "--out", str(tmp_path / "x")]) == 2
    assert "needs images" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
    with pytest.raises(GankitError, match="validation split"):
        recipe(build_config("digits-ganomaly"), (1, 8, 8)).select(1)


def recipe(cfg, shape):
    return GanomalyRecipe(cfg, DataSpec("data", "image", shape), torch.device("cpu"))


@pytest.mark.parametrize(("preset", "shape"), [("digits-ganomaly", (1, 8, 8)),
                                               ("mnist-ganomaly", (1, 28, 28)),
                                               ("mnist-ganomaly", (3, 32, 32))])
def test_the_networks_fit_8_28_and_32_pixel_images(preset, shape):
    r = recipe(build_config(preset), shape)
    x = torch.rand(3, *shape) * 2 - 1
    x_hat, z, z_hat = r.reconstruct(x, selected=False)
    assert x_hat.shape == x.shape and z.shape == z_hat.shape == (3, r.cfg.model.z_dim)
    logits, features = r.discriminator(x)
    assert logits.shape == (3,) and features.shape[0] == 3
    assert r.anomaly_scores(x).shape == (3,) and r.residual_maps(x).shape == (3, 1, *shape[1:])
