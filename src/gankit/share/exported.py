"""An exported model folder read back: ``gankit.load(DIR)`` on a folder of ``gankit
export-model``.

The folder's ``config.json`` holds the run's full config, so the recipe is rebuilt exactly as
for a run folder (``RECIPES.get(cfg.recipe)(cfg, spec, device)``); ``model.safetensors`` holds
only the generator's weights, which go into the recipe's generator (and its EMA copy, when the
config has one). The :class:`~gankit.run.Run` this gives can sample — and do what needs only
the generator — but nothing else: its recipe is an :class:`ExportedGenerator`, which offers
:class:`SamplesFromNoise` alone, so that commands needing a discriminator, an encoder or the
optimisers refuse it in one sentence instead of using networks that were never exported.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from gankit.errors import GankitError
from gankit.layout import MODEL_CONFIG, MODEL_LATENT, MODEL_WEIGHTS
from gankit.recipes.capabilities import SamplesFromNoise

#: the key of ``config.json`` that marks a gankit model export; its value is the format
MARKER = "gankit_export"
#: the format this gankit writes (and the newest it reads)
FORMAT = 1
#: the names of the weights kinds in ``config.json``
EMA, RAW = "ema", "generator"


def read_model_config(path: str | Path) -> dict[str, Any] | None:
    """The ``config.json`` of an exported model folder, or None when ``path`` is not one."""
    try:
        doc = json.loads((Path(path) / MODEL_CONFIG).read_text())
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) and MARKER in doc else None


def is_model_export(path: str | Path) -> bool:
    """Whether ``path`` holds a model written by ``gankit export-model`` (its ``config.json``
    carries the :data:`MARKER` key and ``model.safetensors`` is beside it)."""
    path = Path(path)
    return read_model_config(path) is not None and (path / MODEL_WEIGHTS).is_file()


class ExportedGenerator(SamplesFromNoise):
    """The generator of an exported model: it samples from noise and can do nothing else (the
    discriminator, encoder and optimisers of the run were not exported).

    The folder holds one set of weights; when they are the EMA weights, asking for the raw
    generator (``use_ema=False``, ``--no-ema``) is refused rather than answered with them.
    """

    def __init__(self, recipe: Any, weights: str, where: Path) -> None:
        self.recipe, self.weights, self.where = recipe, weights, where
        self.num_classes = int(getattr(recipe, "num_classes", 0))
        self.z_dim = int(recipe.z_dim)

    @property
    def device(self) -> torch.device:
        return self.recipe.device

    @property
    def has_ema(self) -> bool:
        return self.weights == EMA

    @property
    def latent_kind(self) -> str:
        return self.recipe.latent_kind

    @property
    def latent_centres(self) -> torch.Tensor | None:
        """The mixture latent's component centres (None for other latents)."""
        return getattr(self.recipe, "latent_centres", None)

    def _check(self, use_ema: bool) -> None:
        if not use_ema and self.has_ema:
            raise GankitError(f"{str(self.where)!r} is an exported model holding only the EMA "
                              "weights of the generator; sample without --no-ema "
                              "(use_ema=True).")

    def noise(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.recipe.noise(n, generator)

    def generate(self, z: torch.Tensor, use_ema: bool = True,
                 labels: torch.Tensor | None = None) -> torch.Tensor:
        self._check(use_ema)
        return self.recipe.generate(z, use_ema=True, labels=labels)

    def generator(self, use_ema: bool = True) -> nn.Module:
        self._check(use_ema)
        return self.recipe.generator(True)


def load_export(path: str | Path, device: str = "cpu"):  # noqa: ANN201 (a gankit.run.Run)
    """Rebuild the :class:`~gankit.run.Run` of an exported model folder (see the module)."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from gankit.config import migrate, validate
    from gankit.models import DataSpec
    from gankit.recipes import RECIPES
    from gankit.recipes.capabilities import require
    from gankit.run import Run
    from gankit.training.trainer import resolve_device

    path = Path(path)
    doc = read_model_config(path)
    if doc is None:
        raise GankitError(f"{str(path)!r} is not a model exported by 'gankit export-model' (no "
                          f"{MODEL_CONFIG} with a {MARKER!r} key).")
    if not isinstance(doc[MARKER], int) or doc[MARKER] > FORMAT:
        raise GankitError(f"The model in {str(path)!r} was exported in format {doc[MARKER]!r} "
                          f"and this gankit reads format {FORMAT}; upgrade gankit.")
    try:
        cfg = validate(migrate(doc["config"]))
        data = doc["data"]
        spec = DataSpec(name=data["name"], kind=data["kind"],
                        sample_shape=tuple(data["sample_shape"]), normalize=data["normalize"],
                        class_names=tuple(data["class_names"]), codec=data.get("codec"))
        facts, step, weights = dict(data.get("facts", {})), int(doc["step"]), doc["weights"]
    except (KeyError, TypeError, ValueError) as err:
        raise GankitError(f"The {MODEL_CONFIG} of {str(path)!r} is incomplete or was edited "
                          f"({type(err).__name__}: {err}); export the model again.") from None
    recipe = RECIPES.get(cfg.recipe)(cfg, spec, resolve_device(device))
    sampler = require(recipe, SamplesFromNoise, "Loading an exported model", str(path))
    try:
        state = load_file(path / MODEL_WEIGHTS)
    except (OSError, SafetensorError) as err:
        raise GankitError(f"Cannot read {str(path / MODEL_WEIGHTS)!r} ({err}); export the model "
                          "again.") from None
    nets = {id(net): net for net in (sampler.generator(True), sampler.generator(False))}
    for net in nets.values():
        try:
            net.load_state_dict(state)
        except RuntimeError as err:
            last = str(err).strip().splitlines()[-1].strip()
            raise GankitError(f"The weights in {str(path / MODEL_WEIGHTS)!r} do not fit the "
                              f"generator its {MODEL_CONFIG} describes ({last}); export the "
                              "model again.") from None
    if (path / MODEL_LATENT).is_file() and getattr(recipe, "latent_centres", None) is not None:
        # the recorded centres are the ones the generator was trained with
        recipe.latent_centres = load_file(path / MODEL_LATENT)["centres"].to(
            recipe.latent_centres.dtype)
    return Run(path, cfg, spec, facts, ExportedGenerator(recipe, weights, path), step)
