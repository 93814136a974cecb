"""Projecting images onto codes: a known z is recovered, the encoder is used when there is one."""

import pytest
import torch

import gankit
import gankit.latent
from gankit.errors import GankitError
from gankit.latent import file_images, project, render
from gankit.latent.images import dataset_images
from gankit.latent.render import one_hot
from gankit.recipes.capabilities import Encodes

TINY = {"model": {"z_dim": 8, "g": {"hidden": [32]}, "d": {"hidden": [32]}},
        "train": {"steps": 20, "log_every": 5, "sample_every": 10, "checkpoint_every": 10,
                  "batch_size": 32, "ema_decay": 0.9, "final_grid": 20, "sample_grid": 10}}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return gankit.train(TINY, out=tmp_path_factory.mktemp("runs") / "tiny", progress=False)


@pytest.fixture(scope="module")
def cond_run(tmp_path_factory):
    cfg = {**TINY, "model": {**TINY["model"], "conditional": "projection"}}
    return gankit.train(cfg, out=tmp_path_factory.mktemp("runs") / "cond", progress=False)


def test_projection_recovers_an_image_made_by_the_generator(run):
    z_star = run.recipe.noise(3, torch.Generator().manual_seed(5))
    target = render(run, z_star)
    proj = project(run, target, steps=300, restarts=2, seed=1)
    assert proj.method == "optimise" and proj.z.shape == (3, 8)
    assert proj.history[-1] < 0.05 * proj.history[0]  # the error really went down
    assert proj.mean_error < 1e-3
    # the reported error is the MSE of the returned reconstruction on the [0, 1] scale
    expected = (((proj.reconstruction - target) / 2) ** 2).flatten(1).mean(1)
    torch.testing.assert_close(proj.error, expected)
    torch.testing.assert_close(render(run, proj.z), proj.reconstruction)


def test_more_steps_fit_better_and_the_result_is_seeded(run):
    real = dataset_images(run, [0, 1]).x
    short = project(run, real, steps=5, restarts=1, seed=0)
    long = project(run, real, steps=200, restarts=1, seed=0)
    assert long.mean_error < short.mean_error
    again = project(run, real, steps=5, restarts=1, seed=0)
    assert torch.equal(again.z, short.z)


def test_the_encoder_is_used_when_the_recipe_has_one(run, monkeypatch):
    codes = torch.randn(2, 8)
    seen = []

    class WithEncoder(type(run.recipe), Encodes):  # the run's recipe, now able to encode
        def encode(self, x):
            seen.append(x.shape)
            return codes

    monkeypatch.setattr(run.recipe, "__class__", WithEncoder)
    images = dataset_images(run, [3, 4]).x
    proj = project(run, images)
    assert proj.method == "encoder" and seen == [(2, 1, 8, 8)]
    torch.testing.assert_close(proj.z, codes)
    expected = (((render(run, codes) - images) / 2) ** 2).flatten(1).mean(1)
    torch.testing.assert_close(proj.error, expected)


def test_a_vae_run_projects_with_its_encoder(tmp_path):
    from gankit.recipes import RECIPES

    if "vae" not in RECIPES:
        pytest.skip("no VAE recipe")
    cfg = {"preset": "digits-vae", "model": {"z_dim": 4, "g": {"hidden": [32]},
                                             "d": {"hidden": [32]}},
           "train": {**TINY["train"], "steps": 4}}
    vae = gankit.train(cfg, out=tmp_path / "vae", progress=False)
    images = dataset_images(vae, [0, 1]).x
    proj = project(vae, images)
    assert proj.method == "encoder" and len(proj.history) == 1
    torch.testing.assert_close(proj.z, vae.recipe.encode(images).cpu())
    res = gankit.latent.interpolate(vae, "images", "linear", steps=3, images=images)
    torch.testing.assert_close(res.frames[0, 0, 0], render(vae, proj.z[:1])[0])


def test_conditional_projection_keeps_given_labels_and_finds_the_class(cond_run):
    z = cond_run.recipe.noise(2, torch.Generator().manual_seed(3))
    labels = torch.tensor([2, 7])
    target = render(cond_run, z, one_hot(labels, 10))
    given = project(cond_run, target, labels, steps=200, restarts=2)
    assert torch.equal(given.labels, labels) and given.mean_error < 1e-3
    searched = project(cond_run, target, steps=200, restarts=1)
    assert searched.labels.shape == (2,)
    assert searched.mean_error <= given.mean_error + 1e-3  # the best class fits as well


def test_image_files_are_converted_and_bad_files_are_named(run, tmp_path):
    from PIL import Image

    big = (torch.linspace(0, 255, 32 * 40).reshape(32, 40)).to(torch.uint8).numpy()
    Image.fromarray(big).convert("RGB").save(tmp_path / "big.png")
    x = file_images(run, [tmp_path / "big.png"]).x
    assert x.shape == (1, 1, 8, 8) and float(x.min()) >= -1 and float(x.max()) <= 1
    (tmp_path / "bad.png").write_text("not an image")
    with pytest.raises(GankitError, match="bad.png"):
        file_images(run, [tmp_path / "bad.png"])
    with pytest.raises(GankitError, match="does not exist"):
        file_images(run, [tmp_path / "missing.png"])
    with pytest.raises(GankitError, match="out of range"):
        dataset_images(run, [0, 10**6])
