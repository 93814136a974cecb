"""Model families (G and D builders) behind the MODELS registry."""

from gankit.models import dcgan, mlp  # noqa: F401  (register the families)
from gankit.models.base import MODELS, DataSpec, ModelFamily
from gankit.models.layers import count_parameters, init_weights
from gankit.models.pack import PackedDiscriminator, packed_spec

__all__ = ["MODELS", "DataSpec", "ModelFamily", "build_models", "count_parameters"]


def build_models(arch: str, g_opts: dict, d_opts: dict, z_dim: int, spec: DataSpec,
                 init: str = "default", pack: int = 1):
    """Build (G, D) for a family from validated option dictionaries (D packed if pack > 1)."""
    family = MODELS.get(arch)
    generator = family.build_g(family.g_options.model_validate(g_opts), z_dim, spec)
    d_spec = packed_spec(spec, pack) if pack > 1 else spec
    discriminator = family.build_d(family.d_options.model_validate(d_opts), d_spec)
    init_weights(generator, init)
    init_weights(discriminator, init)
    if pack > 1:
        discriminator = PackedDiscriminator(discriminator, pack)
    return generator, discriminator
