"""Latent tools on a loaded run: interpolation, projection of real images, latent arithmetic.

>>> run = gankit.load("runs/digits")
>>> result = gankit.latent.interpolate(run, between="random", mode="both", steps=10)
>>> result.save(Path("interp"), gif=True)            # interp.png + interp.gif
>>> proj = gankit.latent.project(run, images)          # codes whose images match `images`
>>> grid = gankit.latent.latent_arithmetic(run, "thickness")
>>> grid.values, grid.class_agreement                  # measured per column
"""

from gankit.latent.arithmetic import Arithmetic, latent_arithmetic
from gankit.latent.attributes import ATTRIBUTES, ink, measure, slant, thickness
from gankit.latent.directions import Direction, attribute_direction, class_direction
from gankit.latent.images import RealImages, dataset_images, file_images
from gankit.latent.interpolation import Interpolation, interpolate
from gankit.latent.paths import interpolation_path, lerp, slerp
from gankit.latent.projection import Projection, project
from gankit.latent.render import render

__all__ = [
    "ATTRIBUTES", "Arithmetic", "Direction", "Interpolation", "Projection", "RealImages",
    "attribute_direction", "class_direction", "dataset_images", "file_images", "ink",
    "interpolate", "interpolation_path", "latent_arithmetic", "lerp", "measure", "project",
    "render", "slant", "slerp", "thickness",
]
