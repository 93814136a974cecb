"""Model families (G and D builders) behind the MODELS registry."""

from gankit.models import dcgan, mlp  # noqa: F401  (register the families)
from gankit.models.base import MODELS, DataSpec, ModelFamily
from gankit.models.conditional import ConditionalDiscriminator, ConditionalGenerator
from gankit.models.layers import count_parameters, init_weights
from gankit.models.pack import PackedDiscriminator, packed_spec

__all__ = ["MODELS", "ConditionalDiscriminator", "ConditionalGenerator", "DataSpec",
           "ModelFamily", "build_models", "count_parameters"]


def build_models(arch: str, g_opts: dict, d_opts: dict, z_dim: int, spec: DataSpec,
                 init: str = "default", pack: int = 1, conditional: str = "none"):
    """Build (G, D) for a family from validated option dictionaries.

    D is packed if ``pack > 1``; with ``conditional`` (projection or acgan) both networks take
    the class as a second input (``spec.class_names`` gives the classes).
    """
    family = MODELS.get(arch)
    classes = spec.num_classes if conditional != "none" else 0
    generator = family.build_g(family.g_options.model_validate(g_opts), z_dim + classes, spec)
    d_spec = packed_spec(spec, pack) if pack > 1 else spec
    discriminator = family.build_d(family.d_options.model_validate(d_opts), d_spec)
    init_weights(generator, init)
    init_weights(discriminator, init)
    if pack > 1:
        discriminator = PackedDiscriminator(discriminator, pack)
    if classes:
        generator = ConditionalGenerator(generator, classes)
        discriminator = ConditionalDiscriminator(discriminator, classes, conditional)
    return generator, discriminator
