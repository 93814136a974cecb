"""Cheap evaluation while training, so that quality and mode coverage can be watched as they move.

Every ``eval.every`` steps the generator draws ``eval.samples`` samples from a fixed noise batch
and a few metrics are logged as ``eval_*`` keys (``HookContext.record``: metrics.jsonl, and
TensorBoard when it is on): modes captured, high-quality share and mode KL for 2-D mixtures and
Stacked MNIST; FID, classes covered and class KL in the data set's classifier features for
labelled images. Only rank 0 evaluates.
"""

from __future__ import annotations

from typing import Any

import torch

from gankit.config import RunConfig
from gankit.data import evaluation_of
from gankit.data.ranges import to_unit
from gankit.metrics.evaluate import class_metrics, subset
from gankit.metrics.features import ExtractorContext, build_extractor
from gankit.metrics.frechet import feature_stats, frechet_distance
from gankit.metrics.modes import mixture_modes
from gankit.recipes.base import HookContext, balanced_labels
from gankit.recipes.capabilities import SamplesFromNoise


class PeriodicEval:
    """A loop hook: every ``cfg.eval.every`` steps, a few metrics logged as one record."""

    def __init__(self, cfg: RunConfig, recipe: SamplesFromNoise, context: HookContext) -> None:
        dataset, device, progress = context.dataset, recipe.device, context.progress
        self.every, self.recipe, self.say = cfg.eval.every, recipe, context.say
        self.record = context.record
        self.kind, self.normalize = dataset.kind, dataset.normalize
        self.noise = recipe.noise(cfg.eval.samples, torch.Generator().manual_seed(cfg.seed + 3))
        self.labels = balanced_labels(cfg.eval.samples, recipe.num_classes) \
            if recipe.num_classes else None
        self.centres, self.std = dataset.mode_centres, dataset.mode_std
        self.extractor = self.stacked = None
        self.real_stats: tuple[Any, Any] | None = None
        modes = evaluation_of(cfg.data.name).modes
        if modes == "mixture" and self.centres is not None:
            return
        self.centres = None
        if modes == "channel-classes":  # its classifier reads each channel as a class
            self.stacked = build_extractor("classifier", ExtractorContext(cfg.data, device,
                                                                          progress))
            return
        name = cfg.eval.extractor
        if name == "auto":
            name = "raw" if dataset.kind == "points" else "classifier"
        self.extractor = build_extractor(name, ExtractorContext(cfg.data, device, progress))
        real = dataset.decode(subset(dataset.x, cfg.eval.samples, cfg.seed)).cpu()
        real = to_unit(real, dataset.normalize) if dataset.kind == "image" else real
        self.real_stats = feature_stats(self.extractor.features(real))

    def __call__(self, step: int, scalars: dict[str, torch.Tensor] | None = None) -> None:
        if step % self.every:
            return
        labels = [None] * len(self.noise.split(500)) if self.labels is None \
            else self.labels.split(500)
        samples = torch.cat([self.recipe.generate(z, labels=y).float().cpu()
                             for z, y in zip(self.noise.split(500), labels, strict=True)])
        record = {"step": step, **self.measure(samples)}
        self.record(record)
        shown = " | ".join(f"{k.removeprefix('eval_')} {v:.4g}" for k, v in record.items()
                           if k != "step")
        self.say(f"eval at step {step} | {shown}")

    def measure(self, samples: torch.Tensor) -> dict[str, float]:
        """The metrics of one batch of generated samples (in the data's range)."""
        if self.centres is not None:
            modes = mixture_modes(samples, self.centres, float(self.std))
            return {"eval_modes": modes["modes"], "eval_hq": modes["high_quality"],
                    "eval_kl": modes["kl_uniform"]}
        unit = to_unit(samples, self.normalize) if self.kind == "image" else samples
        if self.stacked is not None:
            from gankit.metrics.stacked import stacked_mnist_modes

            modes = stacked_mnist_modes(unit, self.stacked)
            return {"eval_modes": modes["modes"], "eval_kl": modes["kl_uniform"]}
        assert self.extractor is not None and self.real_stats is not None
        out = {"eval_fid": frechet_distance(*feature_stats(self.extractor.features(unit)),
                                            *self.real_stats)}
        classes = class_metrics(self.extractor, unit, (), self.labels)
        if classes:
            out["eval_classes"] = classes["classes_covered"]
            out["eval_class_kl"] = classes["class_kl_uniform"]
        if "label_accuracy" in classes:
            out["eval_label_acc"] = classes["label_accuracy"]
        return out
