"""Synthetic data from a trained run: labelled export, and whether it helps a classifier."""

from gankit.synthetic.augment import AugmentOptions, augment_bench, augment_markdown
from gankit.synthetic.export import SyntheticSet, export, synthesize, write_synthetic

__all__ = ["AugmentOptions", "SyntheticSet", "augment_bench", "augment_markdown", "export",
           "synthesize", "write_synthetic"]
