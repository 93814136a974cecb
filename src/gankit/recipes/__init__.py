"""Recipes: what one training step means (alternating GAN steps, a VAE step, ...)."""

from gankit.recipes import (  # noqa: F401  (register them)
    classifier,
    ctgan,
    curve_fit,
    cyclegan,
    fanogan,
    gan,
    ganomaly,
    pix2pix,
    tvae,
    vae,
)
from gankit.recipes.base import RECIPES, Batch, Recipe, Scalar

__all__ = ["RECIPES", "Batch", "Recipe", "Scalar"]
