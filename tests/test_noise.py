"""Latent noise distributions of the GAN recipe: Gaussian, uniform and a mixture of Gaussians."""

import pytest
import torch

from gankit.config import build_config
from gankit.data import load_dataset
from gankit.recipes.gan import GANRecipe
from gankit.training.trainer import spec_of


def recipe(**model):
    cfg = build_config("ring8", None, {"model": model, "data": {"options": {"n_samples": 64}}})
    return GANRecipe(cfg, spec_of(load_dataset(cfg.data)), torch.device("cpu"))


def test_uniform_and_gaussian_noise():
    z = recipe(noise="uniform", z_dim=5).noise(4000, torch.Generator().manual_seed(0))
    assert z.shape == (4000, 5) and z.min() >= 0 and z.max() < 1
    z = recipe(noise="gaussian", z_dim=5).noise(4000, torch.Generator().manual_seed(0))
    assert abs(z.mean()) < 0.05 and abs(z.std() - 1) < 0.05


def test_mixture_noise_draws_from_fixed_components():
    r = recipe(noise="mixture", z_dim=6, noise_components=10, noise_spread=0.05)
    z = r.noise(5000, torch.Generator().manual_seed(1))
    dist, nearest = torch.cdist(z, r.latent_centres).min(dim=1)
    # within 6 spreads of a centre: chi(6) at 6 sigma is far in the tail
    assert dist.max() < 6 * 0.05
    counts = torch.bincount(nearest, minlength=10)
    assert counts.min() > 350 and counts.max() < 650  # 500 expected per component
    # the centres come from the config alone: the same in a new recipe, other for another seed
    assert torch.equal(r.latent_centres, recipe(noise="mixture", z_dim=6,
                                                noise_components=10).latent_centres)
    assert torch.equal(r.noise(3, torch.Generator().manual_seed(2)),
                       r.noise(3, torch.Generator().manual_seed(2)))


def test_mixture_noise_options_are_validated():
    from gankit.errors import GankitError

    with pytest.raises(GankitError, match="noise_components"):
        build_config("ring8", None, {"model": {"noise_components": 0}})
