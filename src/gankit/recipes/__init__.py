"""Recipes: what one training step means (alternating GAN steps, later a VAE step, ...)."""

from gankit.recipes import gan  # noqa: F401  (registers the recipe)
from gankit.recipes.base import RECIPES, Batch, Recipe

__all__ = ["RECIPES", "Batch", "Recipe"]
