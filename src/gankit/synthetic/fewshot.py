"""Shared pieces of the few-label benchmarks (augment-bench, finetune-d).

* :func:`draw_per_class`: ``k`` labelled examples of every class, drawn with a seed.
* Training: :func:`gankit.training.supervised.fit_classifier` with its defaults, a fixed
  budget in steps (the same for every arm of a comparison): Adam, cosine decay of every group's
  learning rate to 0, batches of ``min(batch_size, n)`` taken from seeded random permutations
  (the remainder of an epoch is dropped); no data augmentation. Seeded, and the global RNG is
  left untouched.
* :func:`test_accuracy`, :func:`summary` (mean and sample std over seeds) and :func:`verdict`
  (a paired comparison of two arms over the same seeds).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from gankit.errors import GankitError
from gankit.fileio import atomic_write_text

EVAL_BATCH = 1000
#: a difference counts when the paired mean difference exceeds this many standard errors
VERDICT_SE = 2.0


def draw_per_class(labels: torch.Tensor, k: int, seed: int, num_classes: int,
                   class_names: Sequence[str] = (), what: str = "the data") -> torch.Tensor:
    """Indices of ``k`` examples of each class 0..K−1 (class by class, in class order).

    For each class, in order, the indices of its examples (ascending) are permuted with one
    ``torch.Generator`` seeded with ``seed`` and the first ``k`` kept.
    """
    if k < 1:
        raise GankitError(f"The number of labelled examples per class must be at least 1 "
                          f"(got {k}).")
    counts = torch.bincount(labels.long(), minlength=num_classes)
    if int(counts.min()) < k:
        c = int(counts.argmin())
        name = class_names[c] if c < len(class_names) else str(c)
        raise GankitError(f"{k} labelled examples per class is more than {what} holds for class "
                          f"{name!r} ({int(counts[c])}); choose sizes up to "
                          f"{int(counts.min())}.")
    gen = torch.Generator().manual_seed(seed)
    picks = []
    for c in range(num_classes):
        idx = (labels == c).nonzero().squeeze(1)
        picks.append(idx[torch.randperm(len(idx), generator=gen)[:k]])
    return torch.cat(picks)


def seeded(build: Callable[[], nn.Module], seed: int) -> nn.Module:
    """``build()`` under ``torch.manual_seed(seed)`` (the global RNG is restored afterwards)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build()


@torch.no_grad()
def test_accuracy(model: nn.Module, x: torch.Tensor, labels: torch.Tensor,
                  device: torch.device | str = "cpu") -> float:
    """Share of ``x`` that ``model`` (in eval mode, batched) classifies as ``labels``."""
    model.eval()
    device = torch.device(device)
    hits = sum(int((model(b.to(device)).argmax(1).cpu() == y).sum())
               for b, y in zip(x.split(EVAL_BATCH), labels.split(EVAL_BATCH), strict=True))
    return hits / max(1, len(x))


def summary(values: Sequence[float]) -> dict[str, Any]:
    """The values with their mean and sample standard deviation (0 for one value)."""
    t = torch.tensor(list(values), dtype=torch.float64)
    std = float(t.std()) if len(t) > 1 else 0.0
    return {"values": [float(v) for v in values], "mean": float(t.mean()), "std": std}


def verdict(base: Sequence[float], other: Sequence[float]) -> dict[str, Any]:
    """Paired comparison of ``other`` − ``base`` over the same seeds.

    ``answer`` is "yes" when the mean difference exceeds :data:`VERDICT_SE` standard errors of
    the paired differences, "no (worse)" when it is below minus that, else "no clear
    difference"; with one seed it is always "no clear difference (1 seed)".
    """
    d = torch.tensor(list(other), dtype=torch.float64) - torch.tensor(list(base),
                                                                       dtype=torch.float64)
    mean = float(d.mean())
    se = float(d.std() / math.sqrt(len(d))) if len(d) > 1 else None
    if len(d) < 2:
        answer = "no clear difference (1 seed)"
    elif mean > VERDICT_SE * se:
        answer = "yes"
    elif mean < -VERDICT_SE * se:
        answer = "no (worse)"
    else:
        answer = "no clear difference"
    return {"mean_difference": mean, "standard_error": se, "threshold_se": VERDICT_SE,
            "answer": answer}


def pct(stats: dict[str, Any]) -> str:
    """``mean ± std`` of accuracies as percentages with one decimal, for the tables."""
    return f"{100 * stats['mean']:.1f} ± {100 * stats['std']:.1f}"


def diff_text(v: dict[str, Any]) -> str:
    """A paired difference in percentage points with its standard error."""
    se = v["standard_error"]
    se_text = "" if se is None else f" ± {100 * se:.1f}"
    return f"{100 * v['mean_difference']:+.1f}{se_text} pts"


def check_json_name(json_path: Path | None) -> None:
    """Refuse a results path that the Markdown table beside it (.md) would overwrite."""
    if json_path is not None and Path(json_path).suffix.lower() == ".md":
        raise GankitError(f"--json {str(json_path)!r} would be overwritten by the Markdown "
                          "table; give a .json file name.")


def write_results(result: dict[str, Any], markdown: str, json_path: Path) -> tuple[Path, Path]:
    """Write ``result`` as JSON to ``json_path`` and the Markdown beside it (.md), atomically."""
    check_json_name(json_path)
    json_path = Path(json_path)
    md_path = json_path.with_suffix(".md")
    atomic_write_text(json_path, json.dumps(result, indent=1) + "\n")
    atomic_write_text(md_path, markdown)
    return json_path, md_path
