"""``gankit export-model``: a trained generator as a self-contained folder people can share.

The folder follows the Hugging Face Hub's conventions, so it can be uploaded as it is::

    README.md           the model card: YAML front matter (library_name: gankit, tags,
                        license), what the model is, its data, training, scores, how to use it
    config.json         everything needed to rebuild and use the generator: the run's full
                        validated config, the data spec, recipe, step, latent, classes, files
    model.safetensors   the generator's weights (its EMA copy when the run has one), nothing else
    generator.pt        the generator as TorchScript: G(z) or G(z, labels) with plain PyTorch
    latent.safetensors  mixture latents only: the component centres (key "centres")
    samples.png         example samples (image and point data)
    eval.json           the run's evaluation, when it was evaluated (gankit eval)

The folder is written into a hidden temporary sibling and renamed into place at the end, so it
appears whole or not at all; an existing folder is replaced only with ``overwrite`` and only when
it is an earlier model export. ``gankit.load(DIR)`` reads it back
(:mod:`gankit.share.exported`).
"""

from __future__ import annotations

import copy
import io
import json
import math
import os
import warnings
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file
from torch import nn

from gankit import __version__
from gankit.errors import GankitError
from gankit.fileio import check_output_folder, staged_folder
from gankit.layout import (
    EVAL_JSON,
    MODEL_CARD,
    MODEL_CONFIG,
    MODEL_LATENT,
    MODEL_SAMPLES,
    MODEL_TORCHSCRIPT,
    MODEL_WEIGHTS,
)
from gankit.models import count_parameters
from gankit.recipes.capabilities import SamplesFromNoise
from gankit.run import Run
from gankit.share.card import model_card
from gankit.share.exported import EMA, FORMAT, MARKER, RAW, is_model_export

#: what ``check_output_folder`` calls the folders it may replace
WHAT = "gankit model export"
#: the samples of the model card's picture
CARD_SAMPLES = 64
#: how ``gankit.load(DIR).sample(n, seed=s)`` draws its codes, for plain-PyTorch users
SEEDED = ("gankit.load(DIR).sample(n, seed=s) draws these codes in this order with "
          "generator=torch.Generator().manual_seed(s), at most 500 at a time; conditional "
          "samples without labels take the classes 0, 1, ..., K-1, 0, ... (torch.arange(n) % K)")


def check_target(out: str | Path, overwrite: bool, run: Run | None = None) -> Path:
    """Refuse an output folder that is the run itself (or holds it), a file, or a non-empty
    folder without ``overwrite`` or that is not an earlier model export."""
    out = Path(os.path.abspath(out))  # "." and ".." named, symbolic links not followed
    here, cwd = out.resolve(), Path.cwd().resolve()
    if here == cwd or here in cwd.parents:
        raise GankitError(f"Output {str(out)!r} is the working folder or one of its parents; "
                          "choose a new folder with -o.")
    if run is not None:
        source = Path(run.path).resolve()
        if here == source or here in source.parents:
            raise GankitError(f"Output {str(out)!r} would replace the run folder itself; choose "
                              "another folder with -o.")
    check_output_folder(out, overwrite, WHAT, is_model_export)
    return out


# ---------------------------------------------------------------------- the latent codes

def latent_description(run: Run, sampler: SamplesFromNoise,
                       z_dim: int) -> tuple[dict[str, Any], torch.Tensor | None]:
    """How to draw ``z`` without gankit (for config.json and the card), and the mixture
    latent's centres (None for the others)."""
    kind = sampler.latent_kind
    if kind == "gaussian":
        return {"distribution": "gaussian", "description": "z ~ N(0, I)",
                "code": f"z = torch.randn(n, {z_dim})", "seeded": SEEDED}, None
    if kind == "uniform":
        return {"distribution": "uniform",
                "description": "z ~ U(0, 1) in every dimension",
                "code": f"z = torch.rand(n, {z_dim})", "seeded": SEEDED}, None
    centres = getattr(run.recipe, "latent_centres", None)
    spread = getattr(getattr(run.config, "model", None), "noise_spread", None)
    if kind != "mixture" or centres is None or spread is None:
        raise GankitError(f"The latent distribution of {str(run.path)!r} ({kind!r}) cannot be "
                          "written down for plain PyTorch; gankit exports gaussian, uniform and "
                          "mixture latents.")
    centres = centres.detach().float().cpu().clone().contiguous()
    code = "\n".join([
        "from safetensors.torch import load_file",
        f"centres = load_file(\"{MODEL_LATENT}\")[\"centres\"]  # {tuple(centres.shape)}",
        f"eps = torch.randn(n, {z_dim})",
        "k = torch.randint(len(centres), (n,))",
        f"z = centres[k] + {spread!r} * eps"])
    return {"distribution": "mixture", "components": len(centres), "spread": spread,
            "centres": {"file": MODEL_LATENT, "key": "centres", "shape": list(centres.shape)},
            "description": f"a mixture of {len(centres)} Gaussians: z = centres[k] + {spread!r} "
                           "· ε, with k uniform over the centres and ε ~ N(0, I) (ε drawn "
                           "first, then k)",
            "code": code, "seeded": SEEDED}, centres


def draw_latent(latent: dict[str, Any], n: int, z_dim: int,
                generator: torch.Generator | None = None,
                centres: torch.Tensor | None = None) -> torch.Tensor:
    """``n`` codes drawn as ``latent`` (a :func:`latent_description`) says, with plain torch."""
    kind = latent["distribution"]
    if kind == "uniform":
        return torch.rand((n, z_dim), generator=generator)
    z = torch.randn((n, z_dim), generator=generator)
    if kind == "mixture":
        k = torch.randint(len(centres), (n,), generator=generator)
        z = centres[k] + latent["spread"] * z
    return z


def _check_latent(latent: dict[str, Any], sampler: SamplesFromNoise, z_dim: int,
                  centres: torch.Tensor | None) -> None:
    """The written-down recipe must give exactly the codes gankit draws."""
    ours = draw_latent(latent, 64, z_dim, torch.Generator().manual_seed(1), centres)
    theirs = sampler.noise(64, torch.Generator().manual_seed(1)).float().cpu()
    if not torch.equal(ours, theirs):
        raise GankitError("The run's latent codes cannot be reproduced from their description "
                          f"({latent['distribution']}); this is a bug, please report it.")


# ---------------------------------------------------------------------- the generator

def _example(z_dim: int, num_classes: int) -> tuple[torch.Tensor, ...]:
    z = torch.randn(3, z_dim, generator=torch.Generator().manual_seed(0))
    return (z,) if not num_classes else (z, torch.arange(3) % num_classes)


def trace_generator(net: nn.Module, z_dim: int, num_classes: int) -> bytes:
    """The generator traced to TorchScript on the CPU, in eval mode: ``G(z)``, or ``G(z,
    labels)`` with int64 class numbers when conditional; checked against the network."""
    model = copy.deepcopy(net).cpu().float().eval().requires_grad_(False)
    example = _example(z_dim, num_classes)
    try:
        with warnings.catch_warnings():  # torch deprecates torch.jit; it is how models travel
            warnings.simplefilter("ignore")
            with torch.no_grad():
                traced = torch.jit.trace(model, example)
                same = torch.equal(traced(*example), model(*example))
            buffer = io.BytesIO()
            torch.jit.save(traced, buffer)
    except (RuntimeError, TypeError, ValueError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise GankitError(f"The generator ({type(net).__name__}) cannot be traced to "
                          f"TorchScript ({first}).") from None
    if not same:
        raise GankitError(f"The generator ({type(net).__name__}) traced to TorchScript does not "
                          "compute what it computes itself; it cannot be exported.")
    return buffer.getvalue()


def save_torchscript(data: bytes, path: Path) -> None:
    path.write_bytes(data)


def generator_weights(net: nn.Module) -> dict[str, torch.Tensor]:
    """The generator's state dict (parameters and buffers), on the CPU, each tensor its own."""
    return {k: v.detach().cpu().clone().contiguous() for k, v in net.state_dict().items()}


# ---------------------------------------------------------------------- the folder

def _shape_text(spec: Any) -> str:
    shape = tuple(spec.sample_shape)
    if spec.kind == "image" and len(shape) == 3:
        c, h, w = shape
        colour = {1: "grey", 3: "RGB"}.get(c, f"{c}-channel")
        return f"{h}×{w} {colour} images"
    if spec.kind == "points":
        return f"{math.prod(shape)}-D points"
    return f"samples of shape {shape}"


def _range_text(spec: Any) -> str:
    if spec.kind != "image":
        return "the data's own units"
    return {"symmetric": "[-1, 1]", "unit": "[0, 1]"}.get(spec.normalize, spec.normalize)


def model_config(run: Run, net: nn.Module, weights: str, latent: dict[str, Any], z_dim: int,
                 files: dict[str, str]) -> dict[str, Any]:
    """The contents of config.json."""
    cfg = run.config.model_dump(mode="json")
    spec, k = run.spec, run.num_classes
    model = cfg.get("model") if isinstance(cfg.get("model"), dict) else {}
    inputs = {"z": f"float32 (N, {z_dim}): {latent['description']}"}
    if k:
        inputs["labels"] = (f"int64 (N,): class numbers 0 to {k - 1} in the order of "
                            "class_names (not one-hot; the generator one-hot encodes them)")
    return {
        MARKER: FORMAT, "library_name": "gankit", "gankit_version": __version__,
        "recipe": cfg["recipe"], "preset": cfg.get("preset"), "step": run.step,
        "weights": weights, "z_dim": z_dim, "latent": latent,
        "conditional": bool(k), "num_classes": k,
        "class_names": list(spec.class_names) if k else [],
        "inputs": inputs,
        "output": {"shape": ["N", *spec.sample_shape], "dtype": "float32",
                   "range": _range_text(spec), "normalize": spec.normalize,
                   "description": _shape_text(spec)},
        "data": {"name": spec.name, "kind": spec.kind, "sample_shape": list(spec.sample_shape),
                 "normalize": spec.normalize, "class_names": list(spec.class_names),
                 "facts": run.facts},
        "generator": {"class": type(net).__name__, "family": model.get("arch"),
                      "options": model.get("g"),
                      "parameters": count_parameters(net, trainable_only=False),
                      "torchscript": f"{MODEL_TORCHSCRIPT}: "
                                     + ("G(z, labels)" if k else "G(z)") + " -> samples"},
        "files": files,
        "source": {"run": Path(run.path).name, "step": run.step},
        "config": cfg,
    }


def _read_eval(run: Run) -> tuple[dict[str, Any] | None, bytes | None]:
    """The run's eval.json (parsed and as it is), or (None, None)."""
    try:
        raw = (Path(run.path) / EVAL_JSON).read_bytes()
        result = json.loads(raw)
    except (OSError, ValueError):
        return None, None
    return (result, raw) if isinstance(result, dict) else (None, None)


def export_model(run: Run, out: str | Path, use_ema: bool = True, overwrite: bool = False,
                 license: str = "other", seed: int = 0) -> Path:
    """Write ``run``'s generator to the folder ``out`` (see the module docstring).

    ``use_ema`` exports the EMA weights when the run has them (else the generator's own);
    ``license`` is the model card's license id (e.g. ``mit``, ``cc-by-4.0``; ``other`` by
    default); ``seed`` draws the card's example samples. Returns the folder.
    """
    sampler = run.capability(SamplesFromNoise, "Exporting a model")
    out = check_target(out, overwrite, run)
    _check_license(license)
    net = sampler.generator(use_ema)
    weights = EMA if use_ema and sampler.has_ema else RAW
    z_dim = int(math.prod(sampler.noise(1, torch.Generator().manual_seed(0)).shape[1:]))
    latent, centres = latent_description(run, sampler, z_dim)
    _check_latent(latent, sampler, z_dim, centres)
    script = trace_generator(net, z_dim, run.num_classes)
    evaluation, eval_bytes = _read_eval(run)
    pictures = run.spec.kind in ("image", "points")
    files = {"model_card": MODEL_CARD, "config": MODEL_CONFIG, "weights": MODEL_WEIGHTS,
             "torchscript": MODEL_TORCHSCRIPT}
    if centres is not None:
        files["latent"] = MODEL_LATENT
    if pictures:
        files["samples"] = MODEL_SAMPLES
    if eval_bytes is not None:
        files["evaluation"] = EVAL_JSON
    doc = model_config(run, net, weights, latent, z_dim, files)
    card = model_card(doc, evaluation, out.name, license)

    with staged_folder(out) as tmp:
        meta = {"format": "pt", "library": "gankit", "gankit_version": __version__}
        save_file(generator_weights(net), str(tmp / MODEL_WEIGHTS), metadata=meta)
        if centres is not None:
            save_file({"centres": centres}, str(tmp / MODEL_LATENT), metadata=meta)
        save_torchscript(script, tmp / MODEL_TORCHSCRIPT)
        if pictures:
            run.save_samples(tmp / MODEL_SAMPLES, CARD_SAMPLES, seed=seed, use_ema=use_ema)
        if eval_bytes is not None:
            (tmp / EVAL_JSON).write_bytes(eval_bytes)
        (tmp / MODEL_CONFIG).write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n",
                                        encoding="utf-8")
        (tmp / MODEL_CARD).write_text(card, encoding="utf-8")
    return out


def _check_license(license: str) -> None:
    ok = license and all(c.isascii() and (c.isalnum() or c in "-.+_") for c in license)
    if not ok or license != license.lower():
        raise GankitError(f"--license {license!r} must be a lower-case license id of the "
                          "Hugging Face Hub, e.g. mit, apache-2.0, cc-by-4.0 or other.")



def describe(folder: Path) -> str:
    """One sentence about an exported folder, for the command line."""
    doc = json.loads((folder / MODEL_CONFIG).read_text())
    kind = "EMA weights" if doc["weights"] == EMA else "generator weights"
    cond = f", {doc['num_classes']} classes" if doc["conditional"] else ""
    return (f"{doc['recipe']} generator of step {doc['step']:,} ({kind}, "
            f"{doc['generator']['parameters']:,} parameters, z_dim {doc['z_dim']}, "
            f"{doc['latent']['distribution']} latent{cond})")
