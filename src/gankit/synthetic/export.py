"""Labelled synthetic data sets from a trained run: in memory, or written as class folders of
PNG files (which gankit's ``folder`` source reads back) or one ``.npz`` file.

Labels: a conditional run draws exactly ``per_class`` samples of every class (its generator
was asked for the class). An unconditional run's samples are labelled by the data set's
evaluation classifier (:mod:`gankit.metrics.classifier`): samples are drawn in chunks and the
first ``per_class`` of each predicted class kept (optionally only those whose top probability
reaches ``min_confidence``), until every class is full or ``max_draw_factor × per_class × K``
samples were drawn; classes left short are reported.
"""

from __future__ import annotations

import json
import re
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from tqdm.auto import tqdm

from gankit.data.ranges import to_unit
from gankit.errors import GankitError
from gankit.fileio import check_replaceable, staged_folder, write_npz_stream
from gankit.run import Run

FORMATS = ("png", "npz")
MANIFEST = "manifest.json"
NPZ_NAME = "synthetic.npz"
CHUNK = 1000
MAX_DRAW_FACTOR = 20
_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]+")


@dataclass
class SyntheticSet:
    """Generated samples (CPU, in the run's data range) with their class labels."""

    x: torch.Tensor
    labels: torch.Tensor
    class_names: list[str]
    normalize: str
    method: str  # "conditional" or "classifier"
    labelling: dict[str, Any] = field(default_factory=dict)

    @property
    def counts(self) -> list[int]:
        return torch.bincount(self.labels, minlength=len(self.class_names)).tolist()


def synthesize(run: Run, per_class: int, seed: int = 0, use_ema: bool = True,
               min_confidence: float = 0.0, progress: bool = True,
               device: torch.device | str = "cpu",
               max_draw_factor: int = MAX_DRAW_FACTOR) -> SyntheticSet:
    """``per_class`` labelled samples of every class of ``run``'s data (class-major order)."""
    if per_class < 1:
        raise GankitError(f"--per-class must be at least 1 (got {per_class}).")
    if not 0.0 <= min_confidence < 1.0:
        raise GankitError(f"--min-confidence must be in [0, 1) (got {min_confidence}).")
    names = list(run.spec.class_names)
    run.check_memory(per_class * max(len(names), 1))
    if run.num_classes:
        if min_confidence:
            raise GankitError("--min-confidence applies to unconditional runs only (a "
                              "conditional run's samples carry the class they were drawn for).")
        from gankit.metrics.evaluate import generate

        labels = torch.arange(run.num_classes).repeat_interleave(per_class)
        x = generate(run, len(labels), seed, use_ema, labels, progress)
        return SyntheticSet(x, labels, names, run.spec.normalize, "conditional", {
            "method": "conditional",
            "description": "each sample drawn by the class-conditional generator for its class"})
    return _classify_samples(run, per_class, seed, use_ema, min_confidence, progress, device,
                             max_draw_factor)


def _classify_samples(run: Run, per_class: int, seed: int, use_ema: bool, min_confidence: float,
                      progress: bool, device: torch.device | str,
                      max_draw_factor: int) -> SyntheticSet:
    """An unconditional run's samples, labelled by the evaluation classifier."""
    from gankit.metrics.classifier import ClassifierExtractor

    if run.spec.kind != "image" or not run.spec.class_names:
        raise GankitError(f"Run {str(run.path)!r} is unconditional and its data "
                          f"({run.spec.name!r}) have no class labels to learn from; export "
                          "needs a conditional run or an unconditional run on labelled images.")
    extractor = ClassifierExtractor(run.config.data, device, progress)
    names = list(extractor.info["class_names"])
    k = len(names)
    kept: list[list[torch.Tensor]] = [[] for _ in range(k)]
    counts = [0] * k
    budget = max_draw_factor * per_class * k
    gen = torch.Generator().manual_seed(seed)
    drawn = confident = 0
    bar = tqdm(total=per_class * k, desc="export (labelling)", unit="sample", leave=False,
               disable=not progress)
    while min(counts) < per_class and drawn < budget:
        z = run.generator.noise(min(CHUNK, budget - drawn), gen)
        x = run.generator.generate(z, use_ema=use_ema).float().cpu()
        drawn += len(x)
        probs = extractor.probabilities(to_unit(x, run.spec.normalize))
        conf, pred = probs.max(1)
        ok = conf >= min_confidence
        confident += int(ok.sum())
        for c in range(k):
            take = x[(pred == c) & ok][: per_class - counts[c]]
            if len(take):
                kept[c].append(take)
                counts[c] += len(take)
                bar.update(len(take))
    bar.close()
    short = [f"{names[c]} ({counts[c]})" for c in range(k) if counts[c] < per_class]
    if short:
        warnings.warn(f"After {drawn:,} samples some classes are short of {per_class}: "
                      f"{', '.join(short)}; the generator rarely makes them (or "
                      "--min-confidence is strict).", stacklevel=2)
    sample_shape = tuple(run.spec.sample_shape)
    x = torch.cat([torch.cat(p) if p else torch.zeros(0, *sample_shape) for p in kept])
    labels = torch.arange(k).repeat_interleave(torch.tensor(counts))
    return SyntheticSet(x, labels, names, run.spec.normalize, "classifier", {
        "method": "classifier",
        "description": "unconditional samples labelled with the evaluation classifier's "
                       "prediction (first samples of each predicted class kept)",
        "classifier": extractor.protocol(), "min_confidence": min_confidence,
        "samples_drawn": drawn, "samples_confident": confident,
        "max_draws": budget})


def class_folders(class_names: list[str]) -> list[str]:
    """Folder names that sort in class order (so the folder source gives the same labels).

    Names are made file-system safe; when the safe names are not unique or do not sort in class
    order (e.g. Fashion-MNIST's), each gets its zero-padded class number as a prefix.
    """
    safe = [_UNSAFE.sub("_", n).lstrip(".") or "class" for n in class_names]
    if len(set(safe)) == len(safe) and safe == sorted(safe):
        return safe
    width = len(str(len(safe) - 1))
    return [f"{i:0{width}d}-{name}" for i, name in enumerate(safe)]


def _to_uint8(x: torch.Tensor, normalize: str) -> np.ndarray:
    """Images in the data range → ``(N, H, W, C)`` uint8."""
    unit = to_unit(x, normalize)
    return unit.mul(255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()


def _write_png(synth: SyntheticSet, folder: Path, progress: bool) -> dict[str, str]:
    if synth.x.ndim != 4 or synth.x.shape[1] not in (1, 3):
        raise GankitError("PNG export needs images with 1 or 3 channels; use --format npz for "
                          "other data.")
    names = class_folders(synth.class_names)
    pixels = _to_uint8(synth.x, synth.normalize)
    width = max(5, len(str(len(pixels))))
    index = [0] * len(names)
    for c in sorted(set(synth.labels.tolist())):
        (folder / names[c]).mkdir()
    for img, c in tqdm(zip(pixels, synth.labels.tolist(), strict=True), total=len(pixels),
                       desc="export (png)", unit="file", leave=False, disable=not progress):
        im = Image.fromarray(img[..., 0] if img.shape[-1] == 1 else img)
        im.save(folder / names[c] / f"{index[c]:0{width}d}.png")
        index[c] += 1
    return dict(zip(synth.class_names, names, strict=True))


def _write_npz(synth: SyntheticSet, folder: Path, progress: bool) -> None:
    chunks = tqdm(synth.x.split(CHUNK), desc="export (npz)", unit="batch", leave=False,
                  disable=not progress)
    write_npz_stream(folder / NPZ_NAME, "x", tuple(synth.x.shape), (c.numpy() for c in chunks),
                     {"labels": synth.labels.numpy().astype(np.int64),
                      "class_names": np.array(synth.class_names, dtype=str),
                      "normalize": np.array(synth.normalize)})


def _check_target(out: Path, overwrite: bool, run: Run | None) -> None:
    if out.exists() and not out.is_dir():
        raise GankitError(f"Output {str(out)!r} exists and is not a folder; choose another -o.")
    if run is not None:
        here, run_dir = out.resolve(), Path(run.path).resolve()
        if here == run_dir or here in run_dir.parents:
            raise GankitError(f"Output {str(out)!r} would replace the run folder itself; choose "
                              "another -o.")
    if out.is_dir() and any(out.iterdir()):
        if not overwrite:
            raise GankitError(f"Output folder {str(out)!r} exists and is not empty; pass "
                              "--overwrite to replace it or choose another -o.")
        check_replaceable(out, "gankit export", is_export_dir)


def is_export_dir(path: Path) -> bool:
    """Whether ``path`` holds an earlier ``gankit export`` (its manifest.json says so)."""
    try:
        doc = json.loads((path / MANIFEST).read_text())
    except (OSError, ValueError):
        return False
    return isinstance(doc, dict) and ({"format", "labelling", "class_names"} <= doc.keys()
                                      or {"format", "kind", "rows"} <= doc.keys())


def write_synthetic(synth: SyntheticSet, out: str | Path, fmt: str = "png",
                    overwrite: bool = False, manifest: dict[str, Any] | None = None,
                    progress: bool = True, run: Run | None = None) -> Path:
    """Write ``synth`` to the folder ``out`` atomically (all of it, or nothing).

    Files go into a hidden temporary sibling folder that is renamed to ``out`` at the end; an
    existing non-empty ``out`` is refused unless ``overwrite``. ``png``: ``out/<class>/<i>.png``
    (8-bit, grey or RGB); ``npz``: ``out/synthetic.npz`` with ``x`` (float32, the data's range),
    ``labels``, ``class_names`` and ``normalize``. Both get ``out/manifest.json``.
    """
    if fmt not in FORMATS:
        raise GankitError(f"Unknown export format {fmt!r}; choose png or npz.")
    out = Path(out)
    _check_target(out, overwrite, run)
    with staged_folder(out, sync_files=fmt != "png") as tmp:
        folders = _write_png(synth, tmp, progress) if fmt == "png" else None
        if fmt == "npz":
            _write_npz(synth, tmp, progress)
        doc = {**(manifest or {}), "format": fmt, "num_samples": len(synth.labels),
               "counts": dict(zip(synth.class_names, synth.counts, strict=True)),
               "class_names": synth.class_names, "labelling": synth.labelling,
               "normalize": synth.normalize, "sample_shape": list(synth.x.shape[1:])}
        if folders is not None:
            doc["class_folders"] = folders
            doc["layout"] = "<class folder>/<index>.png, 8-bit; read back with --data folder"
        else:
            doc["layout"] = (f"{NPZ_NAME}: x float32 (N, C, H, W) in the data's range "
                             f"({synth.normalize}), labels int64, class_names, normalize")
        (tmp / MANIFEST).write_text(json.dumps(doc, indent=1))
    return out



def export(run: Run, out: str | Path, per_class: int, fmt: str = "png", seed: int = 0,
           use_ema: bool = True, overwrite: bool = False, min_confidence: float = 0.0,
           progress: bool = True, device: torch.device | str = "cpu",
           ) -> tuple[Path, dict[str, Any]]:
    """Generate ``per_class`` labelled samples per class and write them to ``out``.

    Returns the folder and the manifest written into it.
    """
    if fmt not in FORMATS:
        raise GankitError(f"Unknown export format {fmt!r}; choose png or npz.")
    _check_target(Path(out), overwrite, run)  # fail before generating anything
    start = time.perf_counter()
    synth = synthesize(run, per_class, seed, use_ema, min_confidence, progress, device)
    if not len(synth.labels):
        raise GankitError("No sample was kept; lower --min-confidence.")
    manifest = {"run": str(run.path), "step": run.step, "data": run.config.data.name,
                "seed": seed, "use_ema": use_ema, "per_class": per_class,
                "seconds": round(time.perf_counter() - start, 2)}
    folder = write_synthetic(synth, out, fmt, overwrite, manifest, progress, run)
    return folder, json.loads((folder / MANIFEST).read_text())


def describe(manifest: dict[str, Any]) -> str:
    """One or two sentences about an export, for the command line."""
    lab = manifest["labelling"]
    counts = list(manifest["counts"].values())
    per = (f"{counts[0]:,} per class" if len(set(counts)) == 1
           else f"{min(counts):,} to {max(counts):,} per class")
    text = (f"{manifest['num_samples']:,} samples ({per}, {len(counts)} classes) from step "
            f"{manifest['step']:,}")
    if lab["method"] == "conditional":
        return text + "; labels: the class the conditional generator was asked for."
    acc = lab["classifier"].get("test_accuracy")
    acc_text = f" (test accuracy {acc:.1%})" if isinstance(acc, float) else ""
    conf = lab["min_confidence"]
    kept = f", top probability ≥ {conf:g}" if conf else ""
    return (text + f"; the run is unconditional, so labels are the evaluation classifier's "
            f"predictions{acc_text}{kept}: {lab['samples_drawn']:,} samples drawn.")
