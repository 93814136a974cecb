"""Latent arithmetic: directions in z that change one measurable attribute, or the class.

**Attributes** (``thickness``, ``slant``, ``ink``; see :mod:`gankit.latent.attributes`):
sample ``n`` codes, measure the attribute of G(z), and take as direction either the linear
regression coefficient of the attribute on z (``regression``) or the difference of the mean
codes of the top and bottom ``quantile`` of samples (``quantile``). When the samples' classes are
known (the labels of a conditional run, else the evaluation classifier's verdict) the direction
is found *within* classes (class indicators in the regression; per-class quantiles, averaged);
classes seen by the classifier depend on z, so the direction is also made orthogonal to the
differences of the class means of the codes. Both keep it from simply turning thin digits into
thick ones of another class (on the default digits run, 77% instead of 27% of the samples keep
their class at α = +3). The direction has unit length; α counts standard deviations of the
codes along it.

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
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from gankit.errors import GankitError
from gankit.fileio import atomic_write_bytes, atomic_write_text
from gankit.latent.animate import enlarge, grid_array
from gankit.latent.attributes import ATTRIBUTES, measure
from gankit.latent.output import with_suffix
from gankit.latent.render import device_of, one_hot, render, require_images
from gankit.run import Run
from gankit.viz import to_unit

Classifier = Callable[[torch.Tensor], torch.Tensor]  # images in [0, 1] → class indices
CHOICES: tuple[str, ...] = (*ATTRIBUTES, "class")
METHODS = ("regression", "quantile")
DEFAULT_STRENGTH = {"attribute": 3.0, "class": 2.0, "class-conditional": 1.0}


@dataclass
class Direction:
    """A direction in z (``vector``, unit length for attributes) and how it was found.

    α = 1 moves a code by ``scale · vector``.
    """

    attribute: str
    vector: torch.Tensor
    scale: float
    method: str
    num_samples: int
    within_class: bool  # estimated within classes (labels or the classifier's verdict)
    info: dict[str, Any] = field(default_factory=dict)


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

    def save(self, stem: str | Path) -> list[Path]:
        """Write ``stem.png`` (the annotated grid) and ``stem.json``; return their paths."""
        png = atomic_write_bytes(with_suffix(stem, ".png"), self.figure())
        text = json.dumps(self.summary(), indent=1)
        return [png, atomic_write_text(with_suffix(stem, ".json"), text + "\n")]

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


# ---------------------------------------------------------------- helpers


def classifier_for(run: Run, progress: bool = False) -> Classifier | None:
    """The evaluation classifier of the run's data (trained and cached on first use), or None
    for unlabelled data."""
    if run.spec.num_classes == 0:
        return None
    from gankit.metrics.classifier import ClassifierExtractor

    extractor = ClassifierExtractor(run.config.data, device_of(run), progress)
    return extractor.classify


def _classify(classifier: Classifier, run: Run, images: torch.Tensor) -> torch.Tensor:
    return classifier(to_unit(images, run.spec.normalize)).long().cpu()


def _codes(run: Run, labels: torch.Tensor | None) -> torch.Tensor | None:
    return one_hot(labels, run.num_classes) if run.num_classes else None


def _draw(run: Run, n: int, gen: torch.Generator, use_ema: bool,
          labels: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None,
                                                       torch.Tensor]:
    """``n`` codes (CPU), their class labels (conditional runs: balanced) and images."""
    z = run.recipe.noise(n, gen).float().cpu()
    labels = run.labels_for(n, labels) if run.num_classes else None
    images = render(run, z.to(device_of(run)), _codes(run, labels), use_ema)
    return z, labels, images


def _check_counts(n: int, least: int, flag: str) -> None:
    if n < least:
        raise GankitError(f"{flag} must be at least {least} (got {n}).")


# ---------------------------------------------------------------- directions


def attribute_direction(run: Run, attribute: str, n: int = 10_000, method: str = "regression",
                        quantile: float = 0.2, seed: int = 0, use_ema: bool = True,
                        classifier: Classifier | None = None,
                        keep_class: bool = True) -> Direction:
    """A unit direction in z along which ``attribute`` grows (see the module docstring).

    With ``keep_class`` the direction is estimated within classes: the labels of a conditional
    run, or the classes ``classifier`` (images in [0, 1] → class indices) sees, in which case
    it is also made orthogonal to the differences of the class means of the codes.
    """
    require_images(run, "Latent arithmetic")
    if attribute not in ATTRIBUTES:
        raise GankitError(f"Unknown attribute {attribute!r}; choose one of "
                          f"{', '.join(ATTRIBUTES)} (or class).")
    if method not in METHODS:
        raise GankitError(f"--method must be one of {', '.join(METHODS)}, not {method!r}.")
    if not 0.0 < quantile <= 0.5:
        raise GankitError(f"--quantile must be in (0, 0.5] (got {quantile}).")
    _check_counts(n, 20, "-n")
    gen = torch.Generator().manual_seed(seed)
    z, labels, images = _draw(run, n, gen, use_ema)
    values = measure(attribute, to_unit(images, run.spec.normalize))
    classes = labels
    if classes is None and classifier is not None and keep_class:
        classes = _classify(classifier, run, images)
    if not keep_class:
        classes = None
    z64 = z.double()
    if method == "regression":
        vector = _regression(z64, values, classes)
    else:
        vector = _quantile_difference(z64, values, classes, quantile)
    norm = float(vector.norm())
    if norm == 0.0 or not torch.isfinite(vector).all():
        raise GankitError(f"The {attribute} of the samples does not vary with the code; no "
                          "direction can be found (is the generator collapsed?).")
    u = vector / norm
    info: dict[str, Any] = {}
    if classes is not None and labels is None:  # classes that depend on z: leave them alone
        u, removed = _orthogonal_to_classes(u, z64, classes)
        info["class_directions_removed"] = removed
        info["cosine_to_unconstrained"] = round(float(u @ vector / norm), 4)
    along = z64 @ u
    corr = float(torch.corrcoef(torch.stack([along, values]))[0, 1])
    corr = round(corr, 4) if corr == corr else None  # NaN when the attribute is constant
    info.update(attribute_mean=float(values.mean()), attribute_std=float(values.std()),
                correlation=corr)
    if method == "quantile":
        info["quantile"] = quantile
    return Direction(attribute, u.float(), float(along.std()), method, n, classes is not None,
                     info)


def _orthogonal_to_classes(u: torch.Tensor, z: torch.Tensor, classes: torch.Tensor,
                           least: int = 10) -> tuple[torch.Tensor, int]:
    """``u`` without its part in the span of the class-mean differences of the codes (classes
    with at least ``least`` samples), renormalised, and the number of directions removed.

    Moving a code along a direction that separates class means changes its class; the
    remaining direction changes the attribute while keeping the class more often.
    """
    kept = [c for c in classes.unique().tolist() if int((classes == c).sum()) >= least]
    if len(kept) < 2:
        return u, 0
    means = torch.stack([z[classes == c].mean(0) for c in kept])
    spread = (means - means.mean(0)).T  # (D, classes): spans classes − 1 directions
    basis, r = torch.linalg.qr(spread)
    basis = basis[:, r.diagonal().abs() > 1e-9]
    rest = u - basis @ (basis.T @ u)
    if float(rest.norm()) < 1e-6:
        return u, 0
    return rest / rest.norm(), int(basis.shape[1])


def _regression(z: torch.Tensor, values: torch.Tensor, classes: torch.Tensor | None,
                ) -> torch.Tensor:
    """Least-squares coefficients of ``values`` on z (with an intercept per class)."""
    groups = one_hot(classes, int(classes.max()) + 1).double() if classes is not None \
        else torch.ones(len(z), 1, dtype=torch.float64)
    design = torch.cat([z, groups], dim=1)
    coef = torch.linalg.lstsq(design, values[:, None]).solution[:, 0]
    return coef[: z.shape[1]]


def _quantile_difference(z: torch.Tensor, values: torch.Tensor, classes: torch.Tensor | None,
                         q: float) -> torch.Tensor:
    """Mean code of the top ``q`` minus the bottom ``q``, per class and averaged by class size."""
    if classes is None:
        classes = torch.zeros(len(z), dtype=torch.long)
    total, weight = torch.zeros(z.shape[1], dtype=torch.float64), 0
    for c in classes.unique():
        idx = (classes == c).nonzero()[:, 0]
        m = int(q * len(idx))
        if m < 2:
            continue
        order = idx[values[idx].argsort()]
        total += len(idx) * (z[order[-m:]].mean(0) - z[order[:m]].mean(0))
        weight += len(idx)
    if not weight:
        raise GankitError("Too few samples per class to compare the top and bottom quantiles; "
                          "raise -n or --quantile.")
    return total / weight


def class_direction(run: Run, target: int, source: int | None = None, n: int = 10_000,
                    seed: int = 0, use_ema: bool = True,
                    classifier: Classifier | None = None) -> Direction:
    """Unconditional runs: mean code of samples classified as ``target`` minus that of
    ``source`` (default: every other class)."""
    require_images(run, "Latent arithmetic")
    if run.num_classes:
        raise GankitError("A conditional run changes class through its class code; use "
                          "latent_arithmetic(run, 'class', target=...) directly.")
    if classifier is None:
        raise GankitError(f"A class direction needs labelled data to classify samples, and "
                          f"{run.spec.name!r} has no classes.")
    _check_counts(n, 20, "-n")
    gen = torch.Generator().manual_seed(seed)
    z, _, images = _draw(run, n, gen, use_ema)
    pred = _classify(classifier, run, images)
    is_target = pred == target
    is_source = pred == source if source is not None else ~is_target
    names = run.spec.class_names
    for mask, what in ((is_target, names[target]), (is_source, "the source class(es)")):
        if int(mask.sum()) < 5:
            raise GankitError(f"Only {int(mask.sum())} of {n} samples are classified as {what}; "
                              "raise -n, or pick classes the generator draws.")
    vector = z[is_target].double().mean(0) - z[is_source].double().mean(0)
    info = {"target": names[target], "source": names[source] if source is not None else "other",
            "target_samples": int(is_target.sum()), "source_samples": int(is_source.sum())}
    return Direction("class", vector.float(), 1.0, "class means", n, False, info)


# ---------------------------------------------------------------- the grid


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
    _check_counts(rows, 1, "--rows")
    _check_counts(columns, 2, "--columns")
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
    if attribute == "class":
        return _class_grid(run, target, source, strength, columns, rows, bases, n, seed,
                           use_ema, classifier)
    direction = attribute_direction(run, attribute, n, method, quantile, seed, use_ema,
                                    classifier)
    a = strength if strength is not None else DEFAULT_STRENGTH["attribute"]
    alphas = torch.linspace(-a, a, columns)
    gen = torch.Generator().manual_seed(seed + 1)
    z, labels, _ = _draw(run, bases, gen, use_ema)
    step = direction.scale * direction.vector
    columns_x = [render(run, (z + float(al) * step).to(device_of(run)), _codes(run, labels),
                        use_ema) for al in alphas]
    ref = int(alphas.abs().argmin())
    values, spread, agreement = [], [], None
    for x in columns_x:
        v = measure(attribute, to_unit(x, run.spec.normalize))
        values.append(float(v.mean()))
        spread.append(float(v.std()))
    if classifier is not None:
        preds = [_classify(classifier, run, x) for x in columns_x]
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
                classifier: Classifier | None) -> Arithmetic:
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
        z = run.recipe.noise(bases, gen).float()
        a_code, b_code = one_hot(src, k), one_hot(torch.full((bases,), target), k)
        columns_x = [render(run, z, (1 - float(t)) * a_code + float(t) * b_code, use_ema)
                     for t in alphas]
        direction = None
        title = f"class code from {'the other classes' if source is None else names[source]} " \
                f"to {names[target]}\nnumbers: {bases} codes per column"
    else:
        direction = class_direction(run, target, source, n, seed, use_ema, classifier)
        top = strength if strength is not None else DEFAULT_STRENGTH["class"]
        alphas = torch.linspace(0.0, top, columns)
        z = _codes_of(run, classifier, target, source, bases, gen, use_ema)
        columns_x = [render(run, (z + float(al) * direction.vector).to(device_of(run)), None,
                            use_ema) for al in alphas]
        title = (f"class direction {direction.info['source']} → {names[target]} (classifier "
                 f"means of {n:,} samples)\nnumbers: {bases} codes per column")
    values = [float((_classify(classifier, run, x) == target).double().mean())
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
        z, _, images = _draw(run, max(4 * count, 256), gen, use_ema)
        pred = _classify(classifier, run, images)
        keep = pred == source if source is not None else pred != target
        found.append(z[keep])
        have += int(keep.sum())
        if have >= count:
            return torch.cat(found)[:count]
    raise GankitError("The generator rarely draws the source class; pick another --source.")
