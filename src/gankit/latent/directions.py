"""Directions in z that change one measurable attribute, or the class, of the generated image.

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

**Class** on an unconditional run: the mean code of samples the evaluation classifier assigns to
the target minus that of the source class (default: every other class).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from tqdm.auto import tqdm

from gankit.data.ranges import to_unit
from gankit.errors import GankitError
from gankit.latent.attributes import ATTRIBUTES, measure
from gankit.latent.render import device_of, one_hot, render, require_images
from gankit.run import Run

Classifier = Callable[[torch.Tensor], torch.Tensor]  # images in [0, 1] → class indices
METHODS = ("regression", "quantile")


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



def classifier_for(run: Run, progress: bool = False) -> Classifier | None:
    """The evaluation classifier of the run's data (trained and cached on first use), or None
    for unlabelled data."""
    if run.spec.num_classes == 0:
        return None
    from gankit.metrics.classifier import ClassifierExtractor

    extractor = ClassifierExtractor(run.config.data, device_of(run), progress)
    return extractor.classify


def classify_images(classifier: Classifier, run: Run, images: torch.Tensor) -> torch.Tensor:
    return classifier(to_unit(images, run.spec.normalize)).long().cpu()


def class_codes(run: Run, labels: torch.Tensor | None) -> torch.Tensor | None:
    return one_hot(labels, run.num_classes) if run.num_classes else None


def draw_samples(run: Run, n: int, gen: torch.Generator, use_ema: bool,
                 labels: torch.Tensor | None = None, bar: tqdm | None = None,
                 ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
    """``n`` codes (CPU), their class labels (conditional runs: balanced) and images (``bar``
    counts them)."""
    z = run.generator.noise(n, gen).float().cpu()
    labels = run.labels_for(n, labels) if run.num_classes else None
    images = render(run, z.to(device_of(run)), class_codes(run, labels), use_ema, bar=bar)
    return z, labels, images


def check_count(n: int, least: int, flag: str) -> None:
    if n < least:
        raise GankitError(f"{flag} must be at least {least} (got {n}).")



# ---------------------------------------------------------------- directions


def attribute_direction(run: Run, attribute: str, n: int = 10_000, method: str = "regression",
                        quantile: float = 0.2, seed: int = 0, use_ema: bool = True,
                        classifier: Classifier | None = None,
                        keep_class: bool = True, bar: tqdm | None = None) -> Direction:
    """A unit direction in z along which ``attribute`` grows (see the module docstring).

    With ``keep_class`` the direction is estimated within classes: the labels of a conditional
    run, or the classes ``classifier`` (images in [0, 1] → class indices) sees, in which case
    it is also made orthogonal to the differences of the class means of the codes. ``bar``
    counts the samples drawn.
    """
    require_images(run, "Latent arithmetic")
    if attribute not in ATTRIBUTES:
        raise GankitError(f"Unknown attribute {attribute!r}; choose one of "
                          f"{', '.join(ATTRIBUTES)} (or class).")
    if method not in METHODS:
        raise GankitError(f"--method must be one of {', '.join(METHODS)}, not {method!r}.")
    if not 0.0 < quantile <= 0.5:
        raise GankitError(f"--quantile must be in (0, 0.5] (got {quantile}).")
    check_count(n, 20, "-n")
    gen = torch.Generator().manual_seed(seed)
    z, labels, images = draw_samples(run, n, gen, use_ema, bar=bar)
    values = measure(attribute, to_unit(images, run.spec.normalize))
    classes = labels
    if classes is None and classifier is not None and keep_class:
        classes = classify_images(classifier, run, images)
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
                    classifier: Classifier | None = None, bar: tqdm | None = None) -> Direction:
    """Unconditional runs: mean code of samples classified as ``target`` minus that of
    ``source`` (default: every other class); ``bar`` counts the samples drawn."""
    require_images(run, "Latent arithmetic")
    if run.num_classes:
        raise GankitError("A conditional run changes class through its class code; use "
                          "latent_arithmetic(run, 'class', target=...) directly.")
    if classifier is None:
        raise GankitError(f"A class direction needs labelled data to classify samples, and "
                          f"{run.spec.name!r} has no classes.")
    check_count(n, 20, "-n")
    gen = torch.Generator().manual_seed(seed)
    z, _, images = draw_samples(run, n, gen, use_ema, bar=bar)
    pred = classify_images(classifier, run, images)
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
