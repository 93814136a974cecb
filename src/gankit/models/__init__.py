"""Model families (G and D builders) behind the MODELS registry."""

from gankit.models import dcgan, mlp  # noqa: F401  (register the families)
from gankit.models.base import MODELS, DataSpec, ModelFamily
from gankit.models.layers import count_parameters

__all__ = ["MODELS", "DataSpec", "ModelFamily", "build_models", "count_parameters"]


def build_models(arch: str, g_opts: dict, d_opts: dict, z_dim: int, spec: DataSpec):
    """Build (G, D) for a family from validated option dictionaries."""
    family = MODELS.get(arch)
    generator = family.build_g(family.g_options.model_validate(g_opts), z_dim, spec)
    discriminator = family.build_d(family.d_options.model_validate(d_opts), spec)
    return generator, discriminator
