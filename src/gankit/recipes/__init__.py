"""Recipes: what one training step means (alternating GAN steps, a VAE step, ...)."""

from gankit.recipes import classifier, curve_fit, fanogan, gan, ganomaly, vae  # noqa: F401  (register them)
from gankit.recipes.base import RECIPES, Batch, Recipe, Scalar

__all__ = ["RECIPES", "Batch", "Recipe", "Scalar"]
