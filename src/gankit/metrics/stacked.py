"""Stacked MNIST mode counting: how many of the 1,000 digit triples a generator produces.

Each channel of a sample is classified by an MNIST classifier: any object whose ``classify``
maps ``(M, 1, H, W)`` images in [0, 1] to digits, such as the network that
:func:`gankit.metrics.classifier.load_or_train_classifier` returns for
:func:`gankit.metrics.classifier.classifier_config` (or the ``classifier`` extractor of a
``stacked-mnist`` run). The sample's mode is ``100·c_R + 10·c_G + c_B``.
The standard protocol counts the modes hit by 26,000 samples and reports KL(mode histogram ‖
uniform) in nats.
"""

from __future__ import annotations

from typing import Any, Protocol

import torch

from gankit.data.stacked import NUM_MODES, stack_labels
from gankit.errors import GankitError
from gankit.metrics.modes import kl_to_uniform

STANDARD_SAMPLES = 26_000
_TOL = 1e-3


class DigitClassifier(Protocol):
    def classify(self, x: torch.Tensor) -> torch.Tensor:
        """Digit labels 0..9 of ``(M, 1, H, W)`` images in [0, 1]."""
        ...


def stacked_mnist_modes(samples_unit: torch.Tensor, classifier: DigitClassifier) -> dict[str, Any]:
    """Modes hit and KL to uniform of ``(N, 3, H, W)`` Stacked MNIST samples in [0, 1]."""
    x = samples_unit
    if x.ndim != 4 or x.shape[1] != 3 or len(x) == 0:
        raise GankitError(f"Stacked MNIST mode counting needs (N, 3, H, W) images with N ≥ 1, "
                          f"got {tuple(x.shape)}.")
    lo, hi = float(x.min()), float(x.max())
    if lo < -_TOL or hi > 1 + _TOL:
        raise GankitError(f"Stacked MNIST mode counting needs images in [0, 1], got values in "
                          f"[{lo:.3g}, {hi:.3g}]; map [-1, 1] samples with (x + 1) / 2.")
    if getattr(classifier, "per_channel", False):  # the stacked-mnist 'classifier' extractor
        classifier = classifier.model  # type: ignore[attr-defined]
    digits = torch.as_tensor(classifier.classify(x.reshape(-1, 1, *x.shape[2:]))).cpu()
    digits = digits.long().reshape(len(x), 3)
    if digits.min() < 0 or digits.max() > 9:
        raise GankitError("The Stacked MNIST classifier must return digits 0..9.")
    counts = torch.bincount(stack_labels(digits), minlength=NUM_MODES)
    return {"modes": int((counts > 0).sum()), "modes_total": NUM_MODES,
            "kl_uniform": kl_to_uniform(counts), "num_samples": len(x)}
