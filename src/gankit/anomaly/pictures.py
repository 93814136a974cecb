"""The benchmark's pictures: ROC curves per method, and each class's most and least anomalous
test images."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from gankit.viz import new_figure, save_figure, save_image_grid

#: images per row of the extremes grids
EXTREMES = 8


def roc_curves(outcomes: Sequence, test_labels: torch.Tensor, class_names: Sequence[str],
               path: Path) -> Path:
    """One panel per method: the ROC curve of every normal class (its first seed)."""
    from sklearn.metrics import roc_curve

    methods = list(dict.fromkeys(o.method for o in outcomes))
    fig = new_figure(3.2 * len(methods), 3.2)
    for i, method in enumerate(methods):
        ax = fig.add_subplot(1, len(methods), i + 1)
        firsts = {o.normal: o for o in outcomes if o.method == method and o.seed == 0}
        for k, o in sorted(firsts.items()):
            fpr, tpr, _ = roc_curve((test_labels != k).numpy(), o.scores.double().numpy())
            ax.plot(fpr, tpr, lw=1, label=f"{class_names[k]} ({100 * o.auroc:.0f})")
        ax.plot([0, 1], [0, 1], ls=":", c="grey", lw=0.8)
        ax.set(title=method, xlabel="false-positive rate", ylabel="true-positive rate",
               xlim=(0, 1), ylim=(0, 1))
        ax.legend(fontsize=6, loc="lower right", title="normal (AUROC %)", title_fontsize=6)
    return save_figure(fig, path)


def extremes(outcome, test, path: Path) -> Path:  # noqa: ANN001 (an Outcome, a Dataset)
    """Two rows: the ``EXTREMES`` most anomalous test images, then the least anomalous."""
    order = outcome.scores.argsort(descending=True)
    picked = torch.cat([order[:EXTREMES], order.flip(0)[:EXTREMES]])
    return save_image_grid(test.rows(picked), path, test.normalize, nrow=EXTREMES)
