"""Does synthetic data help a classifier? The augmentation benchmark of a trained run.

For each seed and each size K (real labelled images per class) one fixed small classifier is
trained on (a) K real images per class, (b) the same real images plus the synthetic set, and
(c) the synthetic set alone (the classification accuracy score, CAS, which does not depend
on K), and tested on the data set's test split (MNIST, Fashion-MNIST) or the evaluation
classifier's held-out 20% (other labelled images; never used for training here).

Protocol (the same for every arm): one small fixed CNN (:class:`SmallCNN`), freshly
initialised with the seed; exactly ``steps`` Adam steps (learning rate ``lr``, cosine decay to
0) on batches of ``min(batch_size, n)`` images in [0, 1], no data augmentation
(:func:`~gankit.training.supervised.fit_classifier`). Seed
``s`` draws the real subset (:func:`~.fewshot.draw_per_class`), the classifier's initial weights
and batch order, and the synthetic samples (:func:`~.export.synthesize` with seed ``s``).
Real and synthetic images are simply pooled in (b). "Synthetic helps?" compares (b) with (a)
over the same seeds (:func:`~.fewshot.verdict`).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from gankit.data.ranges import to_unit
from gankit.data.transforms import resize_images
from gankit.errors import GankitError
from gankit.metrics.classifier import MAX_SIDE, labelled_splits
from gankit.run import Run
from gankit.synthetic.export import synthesize
from gankit.synthetic.fewshot import (
    diff_text,
    draw_per_class,
    pct,
    seeded,
    summary,
    test_accuracy,
    verdict,
)
from gankit.training.supervised import fit_classifier

ARMS = ("real", "real_synthetic", "synthetic")


@dataclass(frozen=True)
class AugmentOptions:
    """The benchmark's knobs (see the module docstring)."""

    sizes: tuple[int, ...] = (10, 100, 1000)
    seeds: int = 3
    synthetic_per_class: int = 1000
    steps: int = 1000
    batch_size: int = 128
    lr: float = 3e-3
    use_ema: bool = True
    min_confidence: float = 0.0
    robust_eps: float = 0.0  # > 0: also PGD-20 accuracy (L∞) at this ε, on robust_samples
    robust_samples: int = 1000


class SmallCNN(nn.Module):
    """The benchmark's fixed classifier: conv5×5/2 C→16, ReLU, conv5×5/2 16→32, ReLU, dense → K.

    Deliberately small (about 0.7 M multiply-adds for a 28×28 image, 6× fewer than the
    evaluation classifier) so that the 21 trainings of a 3-size, 3-seed benchmark fit in minutes
    on a CPU; images larger than 32×32 are first resized to 32×32 (antialiased bilinear).
    """

    def __init__(self, channels: int, side: int, num_classes: int) -> None:
        super().__init__()
        self.resize = side > MAX_SIDE
        side = min(side, MAX_SIDE)
        out = (side + 1) // 2
        out = (out + 1) // 2
        self.net = nn.Sequential(
            nn.Conv2d(channels, 16, 5, 2, 2), nn.ReLU(), nn.Conv2d(16, 32, 5, 2, 2), nn.ReLU(),
            nn.Flatten(), nn.Linear(32 * out * out, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(resize_images(x, MAX_SIDE) if self.resize else x)


def new_model(channels: int, side: int, num_classes: int, seed: int) -> SmallCNN:
    """The benchmark's classifier, initialised with ``seed`` (PyTorch's default init)."""
    return seeded(lambda: SmallCNN(channels, side, num_classes), seed)


def train_and_test(x: torch.Tensor, labels: torch.Tensor, test: tuple[torch.Tensor, ...],
                   num_classes: int, opts: AugmentOptions, seed: int,
                   device: torch.device | str = "cpu", bar: tqdm | None = None,
                   robust: list[float] | None = None) -> float:
    """Test accuracy of the benchmark's classifier trained on ``x`` (images in [0, 1]); with
    ``opts.robust_eps``, its PGD-20 accuracy at that ε is appended to ``robust``."""
    model = new_model(int(x.shape[1]), int(x.shape[-1]), num_classes, seed)
    fit_classifier(model, [{"params": model.parameters(), "lr": opts.lr}], x, labels,
                   opts.steps, opts.batch_size, seed, device, bar)
    if opts.robust_eps > 0 and robust is not None:
        from gankit.robust.attacks import build_attack

        xs, ys = (t[: opts.robust_samples].to(device) for t in test)
        attack = build_attack("pgd", model.eval(), opts.robust_eps, steps=20, seed=seed)
        adv = torch.cat([attack(xb, yb) for xb, yb in zip(xs.split(500), ys.split(500),
                                                           strict=True)])
        robust.append(test_accuracy(model, adv.cpu(), ys.cpu(), device=device))
    return test_accuracy(model, *test, device=device)


def _check(opts: AugmentOptions) -> None:
    if not 0.0 <= opts.robust_eps <= 1.0:
        raise GankitError(f"--robust-eps must be in [0, 1], pixels of [0, 1] images (got "
                          f"{opts.robust_eps:g}).")
    if not opts.sizes or min(opts.sizes) < 1:
        raise GankitError("--sizes must be one or more numbers of real images per class ≥ 1.")
    for flag, value in (("--seeds", opts.seeds), ("--synthetic-per-class",
                        opts.synthetic_per_class), ("--steps", opts.steps),
                        ("--batch-size", opts.batch_size)):
        if value < 1:
            raise GankitError(f"{flag} must be at least 1 (got {value}).")


def augment_bench(run: Run, opts: AugmentOptions | None = None, device: torch.device | str = "cpu",
                  progress: bool = True) -> dict[str, Any]:
    """Run the benchmark on ``run``; returns every accuracy, the summaries and the protocol."""
    opts = opts or AugmentOptions()
    _check(opts)
    if run.spec.kind != "image":
        raise GankitError("augment-bench needs a run trained on labelled images.")
    start = time.perf_counter()
    splits = labelled_splits(run.config.data)
    (x_train, y_train), test = splits["train"], splits["test"]
    names = list(splits["class_names"])
    k = len(names)
    if run.num_classes and list(run.spec.class_names) != names:
        raise GankitError(f"The run's classes {list(run.spec.class_names)} differ from its data "
                          f"set's {names}; was the data changed since training?")
    for size in opts.sizes:  # fail early, before any training
        draw_per_class(y_train, size, 0, k, names, f"the training split of {run.spec.name!r}")
    sizes = sorted(set(opts.sizes))
    accs: dict[str, dict[int, list[float]]] = {a: {s: [] for s in sizes} for a in ARMS[:2]}
    robust: dict[str, dict[int, list[float]]] = {a: {s: [] for s in sizes} for a in ARMS[:2]}
    cas: list[float] = []
    cas_robust: list[float] = []
    labelling: dict[str, Any] = {}
    counts: list[list[int]] = []
    total = opts.seeds * (1 + 2 * len(sizes)) * opts.steps
    bar = tqdm(total=total, desc="augment-bench", unit="step", disable=not progress)
    for seed in range(opts.seeds):
        bar.set_postfix_str(f"seed {seed}: synthesising")
        synth = synthesize(run, opts.synthetic_per_class, seed, opts.use_ema,
                           opts.min_confidence, progress=False, device=device)
        labelling, counts = synth.labelling, [*counts, synth.counts]
        x_syn, y_syn = to_unit(synth.x, run.spec.normalize), synth.labels
        bar.set_postfix_str(f"seed {seed}: synthetic only")
        cas.append(train_and_test(x_syn, y_syn, test, k, opts, seed, device, bar, cas_robust))
        for size in sizes:
            idx = draw_per_class(y_train, size, seed, k, names)
            x_real, y_real = x_train[idx], y_train[idx]
            bar.set_postfix_str(f"seed {seed}, {size}/class: real")
            accs["real"][size].append(train_and_test(x_real, y_real, test, k, opts, seed,
                                                     device, bar, robust["real"][size]))
            bar.set_postfix_str(f"seed {seed}, {size}/class: real + synthetic")
            accs["real_synthetic"][size].append(train_and_test(
                torch.cat([x_real, x_syn]), torch.cat([y_real, y_syn]), test, k, opts, seed,
                device, bar, robust["real_synthetic"][size]))
    bar.close()
    rows = [{"size": s, "real": summary(accs["real"][s]),
             "real_synthetic": summary(accs["real_synthetic"][s]),
             "synthetic_helps": verdict(accs["real"][s], accs["real_synthetic"][s]),
             **({"real_robust": summary(robust["real"][s]),
                 "real_synthetic_robust": summary(robust["real_synthetic"][s]),
                 "synthetic_changes_robustness": verdict(robust["real"][s],
                                                         robust["real_synthetic"][s])}
                if opts.robust_eps > 0 else {})}
            for s in sizes]
    return {"benchmark": "augment-bench", "run": str(run.path), "step": run.step,
            "data": run.config.data.name, "class_names": names,
            "conditional": bool(run.num_classes), "seeds": list(range(opts.seeds)),
            "options": asdict(opts), "rows": rows, "synthetic_only": summary(cas),
            **({"synthetic_only_robust": summary(cas_robust),
                "robustness_protocol": {"attack": "pgd", "norm": "linf", "eps": opts.robust_eps,
                                        "steps": 20, "step_size": 2.5 * opts.robust_eps / 20,
                                        "random_start": True, "restarts": 1,
                                        "samples": min(opts.robust_samples, len(test[0]))}}
               if opts.robust_eps > 0 else {}),
            "synthetic_labelling": labelling, "synthetic_counts": counts,
            "protocol": {
                "classifier": "SmallCNN (conv5x5/2 16, conv5x5/2 32, dense), fresh, seeded "
                              "per seed",
                "training": f"{opts.steps} Adam steps, lr {opts.lr:g} with cosine decay to 0, "
                            f"batch min({opts.batch_size}, n), no augmentation; the same for "
                            "every arm",
                "real_subset": "K per class from the training split, drawn with the seed",
                "test": f"{splits['test_split']} ({len(test[0]):,} images)",
                "num_train_available": len(x_train),
                "mixing": "real and synthetic images pooled (uniform batches)",
                "verdict": "paired over seeds: (b) − (a) mean > 2 standard errors"},
            "seconds": round(time.perf_counter() - start, 1)}


def augment_markdown(result: dict[str, Any]) -> str:
    """The benchmark's table (accuracy in %, mean ± std over seeds) and its protocol."""
    o = result["options"]
    cas = pct(result["synthetic_only"])
    lab = result["synthetic_labelling"].get("method", "")
    how = "conditional generator" if lab == "conditional" else \
        "unconditional generator, labelled by the evaluation classifier"
    lines = [f"## Augmentation benchmark: {result['run']} (step {result['step']:,})", "",
             f"Test accuracy (%) of one small CNN, mean ± std over {len(result['seeds'])} "
             f"seeds; {o['synthetic_per_class']:,} synthetic images per class ({how}).", "",
             "| real / class | (a) real only | (b) real + synthetic | (c) synthetic only (CAS) "
             "| (b) − (a) | synthetic helps? |",
             "|---:|---:|---:|---:|---:|---|"]
    for r in result["rows"]:
        v = r["synthetic_helps"]
        lines.append(f"| {r['size']:,} | {pct(r['real'])} | {pct(r['real_synthetic'])} | {cas} "
                     f"| {diff_text(v)} | {v['answer']} |")
    p = result["protocol"]
    lines += ["", f"(c) uses no real image, so it is the same in every row. Training: "
              f"{p['training']}. Test: {p['test']}. \"Helps\": {p['verdict']}."]
    if "robustness_protocol" in result:
        rp = result["robustness_protocol"]
        lines += ["", f"Robust accuracy (%) under PGD-{rp['steps']} at ε {rp['eps']:g} (L∞) on "
                  f"{rp['samples']:,} test images, the same classifiers:", "",
                  "| real / class | (a) real only | (b) real + synthetic | (c) synthetic only "
                  "| (b) − (a) | synthetic changes robustness? |", "|---:|---:|---:|---:|---:|---|"]
        for r in result["rows"]:
            v = r["synthetic_changes_robustness"]
            lines.append(f"| {r['size']:,} | {pct(r['real_robust'])} | "
                         f"{pct(r['real_synthetic_robust'])} | "
                         f"{pct(result['synthetic_only_robust'])} | {diff_text(v)} | "
                         f"{v['answer']} |")
    if lab == "classifier":
        lines.append("The synthetic labels come from a classifier trained on the whole labelled "
                     "training split, so arms (b) and (c) use more label information than K "
                     "per class.")
    return "\n".join(lines) + "\n"
