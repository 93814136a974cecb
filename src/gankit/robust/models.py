"""Classifiers to attack, whatever made them: one ``nn.Module`` from NCHW images in [0, 1] to
logits ``(N, K)``.

``load_classifier(source)`` accepts
- a gankit run folder whose recipe classifies (the ``classifier`` recipe: ``mnist-cnn``,
  ``mnist-robust``, ...);
- a TorchScript file (``torch.jit.save`` of a model taking [0, 1] images);
- ``eval:<data set>``, e.g. ``eval:mnist``: gankit's evaluation classifier of that data set (the
  one ``gankit eval`` uses; trained once and cached).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch
from torch import nn

from gankit.errors import GankitError

EVAL_PREFIX = "eval:"


class Normalised(nn.Module):
    """A model taking images in another range, behind an input in [0, 1]."""

    def __init__(self, model: nn.Module, normalize: str) -> None:
        super().__init__()
        self.model, self.normalize = model, normalize

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        from gankit.data.ranges import from_unit

        return self.model(from_unit(x, self.normalize, clamp=False))


def load_classifier(source: str | Path, device: torch.device | str = "cpu",
                    data_dir: str | None = None) -> nn.Module:
    """The classifier ``source`` names, in eval mode on ``device`` (see the module docstring)."""
    device = torch.device(device)
    text = str(source)
    if text.startswith(EVAL_PREFIX):
        return _evaluation_classifier(text[len(EVAL_PREFIX):], device, data_dir)
    path = Path(source)
    if path.is_dir():
        from gankit.recipes.capabilities import Classifies
        from gankit.run import load

        recipe = load(path, str(device)).capability(Classifies, "Attacking a model")
        return recipe.classifier().eval()
    if path.is_file():
        try:
            with warnings.catch_warnings():  # TorchScript is how such models are shared
                warnings.simplefilter("ignore", DeprecationWarning)
                model = torch.jit.load(str(path), map_location=device)
        except (RuntimeError, ValueError) as err:
            raise GankitError(f"{str(path)!r} is not a TorchScript model ({_first(err)}); save "
                              "yours with torch.jit.save(torch.jit.script(model), path).") from None
        return model.eval()
    raise GankitError(f"Model {text!r} is neither a run folder, a TorchScript file nor "
                      f"'{EVAL_PREFIX}<data set>'; check the path.")


def _evaluation_classifier(name: str, device: torch.device, data_dir: str | None) -> nn.Module:
    from gankit.config import DataConfig
    from gankit.metrics.classifier import load_or_train_classifier

    model, _ = load_or_train_classifier(DataConfig(name=name, path=data_dir), device)
    return model.eval()


def _first(err: Exception) -> str:
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__
