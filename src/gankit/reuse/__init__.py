"""Reusing parts of a trained GAN: the discriminator as a few-label classifier."""

from gankit.reuse.finetune import (
    DClassifier,
    FinetuneOptions,
    discriminator_body,
    finetune_d,
    finetune_markdown,
)

__all__ = ["DClassifier", "FinetuneOptions", "discriminator_body", "finetune_d",
           "finetune_markdown"]
