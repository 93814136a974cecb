"""Latent arithmetic: move codes along a direction in z and measure what changes.

**Attributes** (``thickness``, ``slant``, ``ink``): the direction comes from
:func:`gankit.latent.directions.attribute_direction`; α counts standard deviations of the codes
along it.

**Class** (``class``): on a conditional run the one-hot class code moves from the source class to
the target (α = share of the target's code); on an unconditional run the direction is the mean
code of samples the evaluation classifier assigns to the target minus that of the source class
(default: every other class), and α counts multiples of it.

The result measures, per column (α), the attribute's mean over ``bases`` codes and the share of
samples whose class (by the classifier) stays that of the unchanged code (α = 0) — or, for
``class``, the share classified as the target.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from tqdm.auto import tqdm

from gankit.data.ranges import to_unit
from gankit.errors import GankitError
from gankit.latent.animate import enlarge, grid_array
from gankit.latent.attributes import ATTRIBUTES, measure
from gankit.latent.directions import (
    Classifier,
    Direction,
    attribute_direction,
    check_count,
    class_codes,
    class_direction,
    classifier_for,
    classify_images,
    draw_samples,
)
from gankit.latent.output import with_suffix, write_files
from gankit.latent.render import device_of, one_hot, render, require_images
from gankit.run import Run

CHOICES: tuple[str, ...] = (*ATTRIBUTES, "class")
DEFAULT_STRENGTH = {"attribute": 3.0, "class": 2.0, "class-conditional": 1.0}


@dataclass
class Arithmetic:
    """Images ``(rows, columns, C, H, W)`` of base codes moved by α·direction, and measurements
    over ``num_bases`` codes per column (``values``: attribute mean, or share of the target)."""

    attribute: str
    alphas: torch.Tensor
    images: torch.Tensor
    values: list[float]
    spread: list[float]
    class_agreement: list[float] | None
    reference: int
    num_bases: int
    normalize: str
    direction: Direction | None
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def before(self) -> float:
        return self.values[self.reference]

    @property
    def after(self) -> list[float]:
        """The values at the end columns (the first and the last, less the unchanged one)."""
        return [self.values[i] for i in self.end_columns]

    @property
    def end_columns(self) -> list[int]:
        return [i for i in (0, len(self.values) - 1) if i != self.reference]

    def summary(self) -> dict[str, Any]:
        """Everything measured, for the JSON file."""
        d = self.direction
        return {"attribute": self.attribute, "alphas": [round(float(a), 4) for a in self.alphas],
                "value": "share classified as the target" if self.attribute == "class"
                else f"mean {self.attribute}", "values": self.values, "std": self.spread,
                "class_agreement": self.class_agreement, "reference_column": self.reference,
                "before": self.before, "after": self.after,
                "after_alphas": [round(float(self.alphas[i]), 4) for i in self.end_columns],
                "num_bases": self.num_bases,
                "direction": None if d is None else {
                    "method": d.method, "num_samples": d.num_samples, "scale": d.scale,
                    "within_class": d.within_class, **d.info},
                **self.info}

    def files(self, stem: str | Path) -> dict[Path, bytes]:
        """The contents of ``stem.png`` (the annotated grid) and ``stem.json`` by path, to
        write together."""
        text = json.dumps(self.summary(), indent=1) + "\n"
        return {with_suffix(stem, ".png"): self.figure(),
                with_suffix(stem, ".json"): text.encode("utf-8")}

    def save(self, stem: str | Path) -> list[Path]:
        """Write ``stem.png`` and ``stem.json``; return their paths."""
        return write_files(self.files(stem))

    def figure(self) -> bytes:
        """The grid with α, the measured value and the class agreement under each column."""
        rows, cols = self.images.shape[:2]
        cells = to_unit(self.images.flatten(0, 1), self.normalize)
        grid = grid_array(cells, cols)
        cell_w = enlarge(cells[:1]).shape[-1] + 2
        h_px, w_px = grid.shape[:2]
        fig = Figure(figsize=(max(w_px / 80 + 1.6, 5.5), h_px / 80 + 1.8), dpi=100,
                     layout="constrained")
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        ax.imshow(grid, cmap="gray" if grid.ndim == 2 else None, vmin=0, vmax=255,
                  interpolation="nearest")
        labels = []
        for i, a in enumerate(self.alphas.tolist()):
            lines = [f"{a:+.2f}", f"{self.values[i]:.3g}" if self.attribute != "class"
                     else f"{self.values[i]:.0%}"]
            if self.class_agreement is not None:
                lines.append(f"{self.class_agreement[i]:.0%}")
            labels.append("\n".join(lines))
        ax.set_xticks([2 + cell_w / 2 - 1 + i * cell_w for i in range(cols)], labels=labels,
                      fontsize=8)
        ax.set_yticks([])
        ax.set_title(self.info.get("title", self.attribute), fontsize=9)
        if self.attribute == "class":
            unit = "share of the target's class code" if self.direction is None \
                else "multiples of the class direction"
            legend = f"α ({unit})\n% classified as {self.info.get('target', 'the target')}"
        else:
            legend = f"α (std along the direction)\nmean {self.attribute}"
            if self.class_agreement is not None:
                legend += "\n% keeping the class of α = 0"
        ax.set_xlabel(legend, fontsize=8)
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
        return buffer.getvalue()



def latent_arithmetic(run: Run, attribute: str, *, target: int | None = None,
                      source: int | None = None, strength: float | None = None,
                      columns: int = 9, rows: int = 8, bases: int = 500, n: int = 10_000,
                      method: str = "regression", quantile: float = 0.2, seed: int = 0,
                      use_ema: bool = True, classifier: Classifier | None | str = "auto",
                      progress: bool = False) -> Arithmetic:
    """Move ``bases`` codes along an attribute's (or a class's) direction and measure.

    ``classifier`` is ``"auto"`` (the evaluation classifier, when the data has classes), None
    (no class measurements; impossible for ``class`` on unconditional runs) or a function from
    images in [0, 1] to class indices.
    """
    require_images(run, "Latent arithmetic")
    if attribute not in CHOICES:
        raise GankitError(f"--attribute must be one of {', '.join(CHOICES)}, not "
                          f"{attribute!r}.")
    check_count(rows, 1, "--rows")
    check_count(columns, 2, "--columns")
    bases = max(bases, rows)
    if attribute != "class" and (target is not None or source is not None):
        raise GankitError("--target and --source only go with --attribute class.")
    if attribute != "class" and columns % 2 == 0:
        raise GankitError(f"--columns must be odd so that the middle column is the unchanged "
                          f"code (got {columns}).")
    if strength is not None and not strength > 0:
        raise GankitError(f"--strength must be positive (got {strength}).")
    if classifier == "auto":
        classifier = classifier_for(run, progress)
    # the samples drawn: for the direction (none for a class code), the codes, every column
    total = (0 if attribute == "class" and run.num_classes else n) + columns * bases \
        + (bases if attribute != "class" else 0)
    with tqdm(total=total, desc="latent arithmetic", unit="sample", leave=False,
              disable=not progress) as bar:
        if attribute == "class":
            return _class_grid(run, target, source, strength, columns, rows, bases, n, seed,
                               use_ema, classifier, bar)
        return _attribute_grid(run, attribute, strength, columns, rows, bases, n, method,
                               quantile, seed, use_ema, classifier, bar)


def _attribute_grid(run: Run, attribute: str, strength: float | None, columns: int, rows: int,
                    bases: int, n: int, method: str, quantile: float, seed: int, use_ema: bool,
                    classifier: Classifier | None, bar: tqdm) -> Arithmetic:
    direction = attribute_direction(run, attribute, n, method, quantile, seed, use_ema,
                                    classifier, bar=bar)
    a = strength if strength is not None else DEFAULT_STRENGTH["attribute"]
    alphas = torch.linspace(-a, a, columns)
    gen = torch.Generator().manual_seed(seed + 1)
    z, labels, _ = draw_samples(run, bases, gen, use_ema, bar=bar)
    step = direction.scale * direction.vector
    columns_x = [render(run, (z + float(al) * step).to(device_of(run)), class_codes(run, labels),
                        use_ema, bar=bar) for al in alphas]
    ref = int(alphas.abs().argmin())
    values, spread, agreement = [], [], None
    for x in columns_x:
        v = measure(attribute, to_unit(x, run.spec.normalize))
        values.append(float(v.mean()))
        spread.append(float(v.std()))
    if classifier is not None:
        preds = [classify_images(classifier, run, x) for x in columns_x]
        agreement = [float((p == preds[ref]).double().mean()) for p in preds]
    images = torch.stack([x[:rows] for x in columns_x], 1)
    corr = direction.info["correlation"]
    fit = f" (correlation {corr:+.2f})" if corr is not None else ""
    title = (f"{attribute}: {method} direction from {n:,} samples{fit}\n"
             f"numbers: {bases} codes per column")
    return Arithmetic(attribute, alphas, images, values, spread, agreement, ref, bases,
                      run.spec.normalize, direction, {"title": title, "strength": a,
                                                      "seed": seed, "use_ema": use_ema,
                                                      "run": str(run.path), "step": run.step})


def _class_grid(run: Run, target: int | None, source: int | None, strength: float | None,
                columns: int, rows: int, bases: int, n: int, seed: int, use_ema: bool,
                classifier: Classifier | None, bar: tqdm | None = None) -> Arithmetic:
    k, names = run.num_classes, run.spec.class_names
    if target is None:
        raise GankitError("--attribute class needs --target CLASS (the class to move towards).")
    for value, flag in ((target, "--target"), (source, "--source")):
        if value is not None and not 0 <= value < len(names):
            raise GankitError(f"{flag} must be a class from 0 to {len(names) - 1} "
                              f"({', '.join(names)}), got {value}.")
    if source is not None and source == target:
        raise GankitError("--source and --target must be different classes.")
    if classifier is None:
        raise GankitError(f"Measuring a class change needs the evaluation classifier, and "
                          f"{run.spec.name!r} has no labelled classes for it.")
    gen = torch.Generator().manual_seed(seed + 1)
    info: dict[str, Any] = {"target": names[target], "seed": seed, "use_ema": use_ema,
                            "run": str(run.path), "step": run.step}
    if k:  # conditional: the class code moves
        top = strength if strength is not None else DEFAULT_STRENGTH["class-conditional"]
        alphas = torch.linspace(0.0, top, columns)
        others = [c for c in range(k) if c != target] if source is None else [source]
        src = torch.tensor([others[i % len(others)] for i in range(bases)])
        z = run.generator.noise(bases, gen).float()
        a_code, b_code = one_hot(src, k), one_hot(torch.full((bases,), target), k)
        columns_x = [render(run, z, (1 - float(t)) * a_code + float(t) * b_code, use_ema,
                            bar=bar) for t in alphas]
        direction = None
        title = f"class code from {'the other classes' if source is None else names[source]} " \
                f"to {names[target]}\nnumbers: {bases} codes per column"
    else:
        direction = class_direction(run, target, source, n, seed, use_ema, classifier, bar)
        top = strength if strength is not None else DEFAULT_STRENGTH["class"]
        alphas = torch.linspace(0.0, top, columns)
        z = _codes_of(run, classifier, target, source, bases, gen, use_ema)
        columns_x = [render(run, (z + float(al) * direction.vector).to(device_of(run)), None,
                            use_ema, bar=bar) for al in alphas]
        title = (f"class direction {direction.info['source']} → {names[target]} (classifier "
                 f"means of {n:,} samples)\nnumbers: {bases} codes per column")
    values = [float((classify_images(classifier, run, x) == target).double().mean())
              for x in columns_x]
    images = torch.stack([x[:rows] for x in columns_x], 1)
    info.update(title=title, strength=top)
    return Arithmetic("class", alphas, images, values, [], None, 0, bases, run.spec.normalize,
                      direction, info)


def _codes_of(run: Run, classifier: Classifier, target: int, source: int | None, count: int,
              gen: torch.Generator, use_ema: bool, tries: int = 50) -> torch.Tensor:
    """``count`` codes whose samples the classifier puts in the source class (or not the
    target)."""
    found: list[torch.Tensor] = []
    have = 0
    for _ in range(tries):
        z, _, images = draw_samples(run, max(4 * count, 256), gen, use_ema)
        pred = classify_images(classifier, run, images)
        keep = pred == source if source is not None else pred != target
        found.append(z[keep])
        have += int(keep.sum())
        if have >= count:
            return torch.cat(found)[:count]
    raise GankitError("The generator rarely draws the source class; pick another --source.")
