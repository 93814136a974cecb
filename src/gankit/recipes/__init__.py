"""Recipes: what one training step means (alternating GAN steps, a VAE step, ...)."""

from gankit.recipes import curve_fit, gan, vae  # noqa: F401  (register the recipes)
from gankit.recipes.base import RECIPES, Batch, Recipe, Scalar

__all__ = ["RECIPES", "Batch", "Recipe", "Scalar"]
