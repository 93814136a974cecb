"""Reusing a trained discriminator as a classifier: does adversarial training teach features?

The run's D (unwrapped from the conditional wrapper; a packed D is refused, see
:func:`discriminator_body`) loses its real/fake score: its features ``D.features(x)`` (everything
under the last layer) get a new linear class head. On K labelled real training images per
class, for each seed, four arms with the same budget
(:func:`~gankit.training.supervised.fit_classifier`: ``steps`` Adam steps, cosine decay,
batches of ``min(batch_size, n)``, no data augmentation):

* ``probe``: linear probe, D's body frozen (eval mode, no dropout), only the head trained (at
  ``probe_lr``: a linear head on fixed features needs a larger step than a whole network);
* ``finetune``: body and head trained, the body at ``lr × body_lr_scale``, dropout as in the D
  config;
* ``scratch``: the same architecture freshly initialised as gankit initialises D
  (the family's builder, then :func:`~gankit.models.layers.init_weights` with ``model.init``),
  all of it trained at ``lr``;
* ``probe_random``: a linear probe on the freshly initialised body (how much do random
  features give?).

Seed ``s`` draws the labelled subset, the new head (the same initial head in every arm), the
scratch body, and the batch order. Accuracy on the test split (MNIST, Fashion-MNIST) or the
held-out 20% of :func:`~gankit.metrics.classifier.labelled_splits`. "Trained D helps?" compares
fine-tune with scratch over the same seeds (:func:`~gankit.synthetic.fewshot.verdict`).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from gankit.data.ranges import from_unit
from gankit.errors import GankitError
from gankit.metrics.classifier import labelled_splits
from gankit.models import MODELS, ConditionalDiscriminator, PackedDiscriminator, init_weights
from gankit.recipes.capabilities import HasDiscriminator
from gankit.robust.models import Normalised
from gankit.run import Run
from gankit.synthetic.fewshot import (
    EVAL_BATCH,
    diff_text,
    draw_per_class,
    pct,
    seeded,
    summary,
    test_accuracy,
    verdict,
)
from gankit.training.supervised import fit_classifier

ARMS = ("probe", "finetune", "scratch", "probe_random")
ARM_TITLES = {"probe": "linear probe (trained D)", "finetune": "fine-tune (trained D)",
              "scratch": "scratch (same net)", "probe_random": "linear probe (random D)"}


@dataclass(frozen=True)
class FinetuneOptions:
    """The benchmark's knobs (see the module docstring)."""

    labels_per_class: tuple[int, ...] = (10, 100)
    seeds: int = 3
    steps: int = 500
    batch_size: int = 128
    lr: float = 1e-3
    body_lr_scale: float = 0.1
    probe_lr: float = 1e-2


class DClassifier(nn.Module):
    """A discriminator's body (``body.features``) under a new linear class head.

    The body keeps its old score layer (``body.head``) but never calls it; it is not trained.
    """

    def __init__(self, body: nn.Module, head: nn.Linear) -> None:
        super().__init__()
        self.body, self.head = body, head

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body.features(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body.features(x))

    def body_parameters(self) -> Iterator[nn.Parameter]:
        """The body's parameters without those of its unused score layer."""
        unused = {id(p) for p in self.body.head.parameters()}
        return (p for p in self.body.parameters() if id(p) not in unused)


def discriminator_body(run: Run) -> nn.Module:
    """A CPU copy of the run's trained (unconditional, unpacked) D.

    A packed D (``model.pack > 1``) is refused: its first layer takes ``pack`` images stacked
    along the channels, so it has no features of one image to reuse.
    """
    d = run.capability(HasDiscriminator, "finetune-d").discriminator()
    if isinstance(d, ConditionalDiscriminator):
        d = d.inner
    if isinstance(d, PackedDiscriminator):
        raise GankitError(f"Run {str(run.path)!r} has a packed discriminator (model.pack="
                          f"{d.pack}): its first layer takes {d.pack} images at once, so it has "
                          "no features of one image; finetune-d needs a run with model.pack=1.")
    if not (hasattr(d, "features") and hasattr(d, "head")):
        raise GankitError(f"The discriminator of {str(run.path)!r} ({type(d).__name__}) has no "
                          "features()/head to reuse.")
    return copy.deepcopy(d).cpu()


def scratch_body(run: Run, seed: int) -> nn.Module:
    """The same D architecture, freshly initialised (seeded) as gankit initialises it."""
    facts = run.capability(HasDiscriminator, "finetune-d").discriminator_facts()
    family = MODELS.get(facts["arch"])
    opts = family.d_options.model_validate(facts["d"])

    def build() -> nn.Module:
        d = family.build_d(opts, run.spec)
        init_weights(d, facts["init"])
        return d

    return seeded(build, seed)


def new_head(width: int, num_classes: int, seed: int) -> nn.Linear:
    """The new class head (PyTorch's default Linear init, seeded)."""
    return seeded(lambda: nn.Linear(width, num_classes), seed + 1_000_003)


def pretrained_classifier(run: Run, num_classes: int, seed: int) -> DClassifier:
    body = discriminator_body(run)
    return DClassifier(body, new_head(body.head.in_features, num_classes, seed))


def scratch_classifier(run: Run, num_classes: int, seed: int) -> DClassifier:
    body = scratch_body(run, seed)
    return DClassifier(body, new_head(body.head.in_features, num_classes, seed))


@torch.no_grad()
def frozen_features(body: nn.Module, x: torch.Tensor, device: torch.device) -> torch.Tensor:
    """``body.features(x)`` in eval mode (no dropout), batched, on the CPU."""
    body.to(device).eval()
    return torch.cat([body.features(b.to(device)).float().cpu() for b in x.split(EVAL_BATCH)])


def _check(opts: FinetuneOptions) -> None:
    if not opts.labels_per_class or min(opts.labels_per_class) < 1:
        raise GankitError("--labels-per-class must be one or more numbers ≥ 1.")
    for flag, value in (("--seeds", opts.seeds), ("--steps", opts.steps),
                        ("--batch-size", opts.batch_size)):
        if value < 1:
            raise GankitError(f"{flag} must be at least 1 (got {value}).")
    if not (opts.lr > 0 and opts.body_lr_scale > 0 and opts.probe_lr > 0):
        raise GankitError("--lr, --body-lr-scale and --probe-lr must be positive.")


def finetune_d(run: Run, opts: FinetuneOptions | None = None, device: torch.device | str = "cpu",
               progress: bool = True, save_model: Path | None = None) -> dict[str, Any]:
    """Run the comparison on ``run``; returns every accuracy, the summaries and the protocol.

    ``save_model``: also write the fine-tuned classifier of the last seed at the largest K as
    a TorchScript file taking NCHW images in [0, 1] (for ``gankit robustness``)."""
    from gankit.fileio import atomic_write_bytes

    result, classifier = finetune_d_classifier(run, opts, device, progress)
    if save_model is not None:
        atomic_write_bytes(save_model, classifier_script(run, classifier))
    return result


def finetune_d_classifier(run: Run, opts: FinetuneOptions | None = None,
                          device: torch.device | str = "cpu", progress: bool = True,
                          ) -> tuple[dict[str, Any], nn.Module]:
    """:func:`finetune_d`'s result and the fine-tuned classifier of the last seed at the
    largest K, taking images in [0, 1] (CPU, eval mode)."""
    opts = opts or FinetuneOptions()
    _check(opts)
    device = torch.device(device)
    facts = run.capability(HasDiscriminator, "finetune-d").discriminator_facts()
    if run.spec.kind != "image":
        raise GankitError("finetune-d needs a run trained on labelled images.")
    pretrained = discriminator_body(run)  # refuses packed runs before any data is loaded
    start = time.perf_counter()
    splits = labelled_splits(run.config.data)
    (x_train, y_train), (x_test, y_test) = splits["train"], splits["test"]
    names = list(splits["class_names"])
    k = len(names)
    x_train, x_test = (from_unit(x, run.spec.normalize) for x in (x_train, x_test))
    sizes = sorted(set(opts.labels_per_class))
    for size in sizes:
        draw_per_class(y_train, size, 0, k, names, f"the training split of {run.spec.name!r}")
    test_feats = frozen_features(pretrained, x_test, device)
    accs: dict[str, dict[int, list[float]]] = {a: {s: [] for s in sizes} for a in ARMS}
    bar = tqdm(total=opts.seeds * len(sizes) * len(ARMS) * opts.steps, desc="finetune-d",
               unit="step", disable=not progress)
    for seed in range(opts.seeds):
        random_body = scratch_body(run, seed)
        random_test = frozen_features(random_body, x_test, device)
        for size in sizes:
            idx = draw_per_class(y_train, size, seed, k, names)
            x, y = x_train[idx], y_train[idx]
            for arm, body, test in (("probe", pretrained, test_feats),
                                    ("probe_random", random_body, random_test)):
                bar.set_postfix_str(f"seed {seed}, {size}/class: {arm}")
                head = new_head(test.shape[1], k, seed)
                fit_classifier(head, [{"params": head.parameters(), "lr": opts.probe_lr}],
                               frozen_features(body, x, device), y, opts.steps,
                               opts.batch_size, seed, device, bar)
                accs[arm][size].append(test_accuracy(head, test, y_test, device))
            for arm, model in (("finetune", pretrained_classifier(run, k, seed)),
                               ("scratch", scratch_classifier(run, k, seed))):
                bar.set_postfix_str(f"seed {seed}, {size}/class: {arm}")
                body_lr = opts.lr * (opts.body_lr_scale if arm == "finetune" else 1.0)
                groups = [{"params": list(model.body_parameters()), "lr": body_lr},
                          {"params": model.head.parameters(), "lr": opts.lr}]
                fit_classifier(model, groups, x, y, opts.steps, opts.batch_size, seed, device,
                               bar)
                accs[arm][size].append(test_accuracy(model, x_test, y_test, device))
                if arm == "finetune":
                    finetuned = model
    bar.close()
    classifier = Normalised(finetuned.cpu().eval(), run.spec.normalize)
    rows = [{"size": s, **{a: summary(accs[a][s]) for a in ARMS},
             "pretrained_helps": verdict(accs["scratch"][s], accs["finetune"][s]),
             "probe_vs_scratch": verdict(accs["scratch"][s], accs["probe"][s])} for s in sizes]
    body_params = sum(p.numel() for p in DClassifier(pretrained, nn.Linear(1, 1))
                      .body_parameters())
    result = {"benchmark": "finetune-d", "run": str(run.path), "step": run.step,
              "data": run.config.data.name, "class_names": names,
              "architecture": {"arch": facts["arch"], "d": facts["d"], "init": facts["init"],
                               "features": int(test_feats.shape[1]),
                               "body_parameters": body_params},
              "seeds": list(range(opts.seeds)), "options": asdict(opts), "rows": rows,
              "d_saw_labels": facts["conditional"] != "none",
              "protocol": {
                  "training": f"{opts.steps} Adam steps with cosine decay to 0, batch "
                              f"min({opts.batch_size}, n), no augmentation, in every arm; lr "
                              f"{opts.lr:g} (fine-tuned body {opts.lr * opts.body_lr_scale:g}, "
                              f"linear probes {opts.probe_lr:g})",
                  "labelled_subset": "K per class from the training split, drawn with the seed",
                  "test": f"{splits['test_split']} ({len(x_test):,} images)",
                  "verdict": "paired over seeds: fine-tune − scratch mean > 2 standard errors"},
              "seconds": round(time.perf_counter() - start, 1)}
    return result, classifier


def finetune_markdown(result: dict[str, Any]) -> str:
    """The comparison's table (accuracy in %, mean ± std over seeds) and its protocol."""
    a = result["architecture"]
    head = " | ".join(ARM_TITLES[arm] for arm in ARMS)
    lines = [f"## Discriminator reuse: {result['run']} (step {result['step']:,})", "",
             f"Test accuracy (%), mean ± std over {len(result['seeds'])} seeds; D = {a['arch']} "
             f"({a['body_parameters']:,} body parameters, {a['features']} features) with a new "
             "linear head.", "",
             f"| labels / class | {head} | fine-tune − scratch | trained D helps? |",
             "|---:|" + "---:|" * len(ARMS) + "---:|---|"]
    for r in result["rows"]:
        v = r["pretrained_helps"]
        cells = " | ".join(pct(r[arm]) for arm in ARMS)
        lines.append(f"| {r['size']:,} | {cells} | {diff_text(v)} | {v['answer']} |")
    p = result["protocol"]
    lines += ["", f"Training: {p['training']}. Test: {p['test']}. \"Helps\": {p['verdict']}."]
    if result["d_saw_labels"]:
        lines.append("Caution: this run is class-conditional, so its D was trained with the labels "
                     "of the whole training set; its features carry more label information than "
                     "K per class (an unconditional run measures unsupervised features).")
    return "\n".join(lines) + "\n"


def classifier_script(run: Run, classifier: nn.Module) -> bytes:
    """``classifier`` (of :func:`finetune_d_classifier`) traced to TorchScript, as a file's
    bytes."""
    import io
    import warnings

    example = torch.full((2, *run.spec.sample_shape), 0.5)  # a [0, 1] batch to trace with
    with warnings.catch_warnings():  # TorchScript is how such models are shared
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(classifier, example)
        buffer = io.BytesIO()
        torch.jit.save(traced, buffer)
    return buffer.getvalue()
