"""``gankit eval`` of a translation run: every direction it learnt, on the test split.

For each direction the test inputs are translated and judged, all in [0, 1] units:

- against the ground truth, where the test split pairs its images: mean L1, PSNR and SSIM
  (:mod:`gankit.metrics.similarity`), the masked region's PSNR for inpainting, and the same
  scores of the input itself where it has the target's shape (the do-nothing baseline: the
  masked digit, the bicubic up-scaling);
- against the target domain's test images: FID and KID through the extractor (the target
  domain's evaluation classifier where its source has labels, else Inception);
- the **recogniser score**: the share of outputs in which the target domain's classifier
  recognises the class of the source image (the analogue of the papers' FCN-score), beside that
  classifier's accuracy on the real targets and on the inputs; the **label-flip rate**: the
  share of outputs it recognises with probability ≥ 0.9 as another class — content swapped,
  not merely unclear (CycleGAN's "permuted content" failure);
- for a two-way run (CycleGAN) the cycle error: L1 of x against its round trip.
"""

from __future__ import annotations

import time
from typing import Any

import torch
from tqdm.auto import tqdm

from gankit.config import DataConfig
from gankit.data import DATASETS, Dataset, evaluation_of, load_dataset
from gankit.data.ranges import from_unit, to_unit
from gankit.data.transforms import to_channels
from gankit.errors import GankitError
from gankit.metrics.evaluate import feature_metrics
from gankit.metrics.features import ExtractorContext, FeatureExtractor, build_extractor
from gankit.metrics.similarity import l1, masked_psnr, psnr, ssim
from gankit.recipes.capabilities import Translates

#: probability above which a wrong class counts as a label flip
FLIP_CONFIDENCE = 0.9
CHUNK = 256


def domain_config(data: DataConfig, domain: str, split: str | None = "test") -> DataConfig:
    """The run's data read so that ``x`` is domain ``domain`` (A: the direction swapped),
    paired where the source can pair, of ``split`` (None: no split option)."""
    fields = DATASETS.get(data.name).options.model_fields
    options = {k: v for k, v in data.options.items() if k != "split"}
    if split is not None:
        options["split"] = split
    if "paired" in fields:
        options["paired"] = True
    if domain == "A":
        options["direction"] = "BtoA" if options.get("direction", "AtoB") == "AtoB" else "AtoB"
    return data.model_copy(update={"options": options, "limit": None, "classes": None})


def translate_all(recipe: Translates, x: torch.Tensor, direction: str, normalize: str,
                  progress: bool) -> torch.Tensor:
    """Outputs in [0, 1] of inputs ``x`` in the data range, with a progress bar."""
    parts = [to_unit(recipe.translate(chunk, direction), normalize)
             for chunk in tqdm(x.split(CHUNK), desc=f"translating {direction}", unit="batch",
                               leave=False, disable=not progress or len(x) <= CHUNK)]
    return torch.cat(parts) if parts else x.new_zeros(0)


def similarity(out: torch.Tensor, target: torch.Tensor,
               mask: torch.Tensor | None = None) -> dict[str, float]:
    scores = {"l1": float(l1(out, target).mean()), "psnr": float(psnr(out, target).mean()),
              "ssim": float(ssim(out, target).mean())}
    if mask is not None:
        scores["masked_psnr"] = float(masked_psnr(out, target, mask).mean())
    return scores


def recogniser(extractor: FeatureExtractor, out: torch.Tensor, labels: torch.Tensor,
               targets: torch.Tensor, inputs: torch.Tensor) -> dict[str, float]:
    """Recogniser score and label flips of ``out``; the classifier on real targets and inputs."""
    probs = extractor.probabilities(out)
    confidence, predicted = probs.max(dim=1)
    hits = predicted == labels
    scores = {"recogniser_score": float(hits.double().mean()),
              "label_flip_rate": float((~hits & (confidence >= FLIP_CONFIDENCE)).double().mean()),
              "recogniser_real_targets": float(
                  (extractor.classify(targets) == labels).double().mean())}
    if inputs.shape[-2:] == targets.shape[-2:]:
        shown = to_channels(inputs, targets.shape[1])
        scores["recogniser_inputs"] = float((extractor.classify(shown) == labels).double().mean())
    return scores


def judge_direction(run: Any, direction: str, test: Dataset, opts: Any,
                    device: torch.device) -> dict[str, Any]:
    """Every score of one direction on the test data ``test`` (x = B, a = A)."""
    recipe, norm = run.capability(Translates, "Evaluating a translation"), run.spec.normalize
    n = min(opts.num_generated or len(test), len(test.a), len(test))
    source_is_a = direction == "AtoB"
    inputs = test.inputs(slice(0, n)) if source_is_a else test.rows(slice(0, n))
    targets = test.rows(slice(0, n)) if source_is_a else test.inputs(slice(0, n))
    labels = test.labels_a if source_is_a else test.labels
    out = translate_all(recipe, inputs, direction, norm, opts.progress)
    inputs_u, targets_u = to_unit(inputs, norm), to_unit(targets, norm)
    scores: dict[str, Any] = {"images": n}
    if test.paired:
        mask = test.mask[:n] if test.mask is not None and source_is_a else None
        scores["vs_target"] = similarity(out, targets_u, mask)
        if inputs_u.shape == targets_u.shape:
            scores["input_vs_target"] = similarity(inputs_u, targets_u, mask)
    target_domain = "B" if source_is_a else "A"
    names = opts.extractors or (("classifier",) if labels is not None else ("inception",))
    ctx = ExtractorContext(domain_config(run.config.data, target_domain, None), device,
                           opts.progress, own_labels=target_domain == "A")
    for name in names:
        extractor = build_extractor(name, ctx)
        found: dict[str, Any] = {"fid_kid": "skipped: fewer than 2 test images"}
        if n >= 2:
            found = feature_metrics(extractor.features(targets_u), extractor.features(out),
                                    opts, {"fid", "kid"})
        if name == "classifier" and labels is not None:
            found.update(recogniser(extractor, out, labels[:n], targets_u, inputs_u))
        scores[name] = {"protocol": extractor.protocol(), **found}
    if len(recipe.directions) == 2:
        back = "BtoA" if source_is_a else "AtoB"
        round_trip = translate_all(recipe, from_unit(out, norm), back, norm, opts.progress)
        scores["cycle_l1"] = float(l1(round_trip, inputs_u).mean())
    return scores


def evaluate_translation_run(run: Any, opts: Any, device: torch.device) -> dict[str, Any]:
    """The evaluation of a translation run (JSON-ready, its protocol recorded)."""
    started = time.perf_counter()
    recipe = run.capability(Translates, "Evaluating a translation")
    if not evaluation_of(run.config.data.name).test_split:
        raise GankitError(f"The data source {run.config.data.name!r} has no test split to "
                          "evaluate a translation on.")
    test = load_dataset(domain_config(run.config.data, "B"))
    result: dict[str, Any] = {
        "kind": "translation", "run": str(run.path), "step": run.step,
        "created": time.strftime("%Y-%m-%d %H:%M:%S"),
        "protocol": {"data": f"{run.config.data.name} test split", "paired": test.paired,
                     "units": "images in [0, 1]; PSNR in dB with peak 1",
                     "ssim": "Gaussian window σ 1.5, K1 0.01, K2 0.03 (scikit-image's "
                             "gaussian_weights=True)",
                     "resize": "none: test images at the training size",
                     "label_flip": f"recognised as another class with p ≥ {FLIP_CONFIDENCE}",
                     "kid": {"subsets": opts.kid_subsets, "subset_size": opts.kid_subset_size},
                     "seed": opts.seed},
        "directions": {d: judge_direction(run, d, test, opts, device)
                       for d in recipe.directions},
    }
    result["seconds"] = round(time.perf_counter() - started, 1)
    return result


def _row(label: str, s: dict[str, Any], keys: list[tuple[str, str]]) -> str:
    return f"| {label} | " + " | ".join(fmt.format(s[k]) if k in s else "" for k, fmt in keys) \
        + " |"


def translation_markdown(result: dict[str, Any]) -> str:
    """A readable summary of :func:`evaluate_translation_run`'s result."""
    protocol = result["protocol"]
    pairing = "paired" if protocol["paired"] else "unpaired"
    lines = [f"# Evaluation of `{result['run']}` at step {result['step']:,}", "",
             f"{protocol['data']} ({pairing}); {protocol['units']}.", ""]
    sim = [("l1", "{:.4f}"), ("psnr", "{:.2f}"), ("ssim", "{:.4f}"), ("masked_psnr", "{:.2f}")]
    for direction, d in result["directions"].items():
        lines += [f"## {direction} ({d['images']:,} test images)", ""]
        if "vs_target" in d:
            keys = [k for k in sim if k[0] in d["vs_target"]]
            lines += ["| against the ground truth | L1 ↓ | PSNR ↑ | SSIM ↑ |"
                      + (" masked PSNR ↑ |" if len(keys) == 4 else ""),
                      "|---|" + "---:|" * len(keys), _row("output", d["vs_target"], keys)]
            if "input_vs_target" in d:
                lines.append(_row("input (do nothing)", d["input_vs_target"], keys))
            lines.append("")
        for name in ("classifier", "inception"):
            if name not in d:
                continue
            e = d[name]
            lines += [f"| {name} | value |", "|---|---:|"]
            for key, label, fmt in (("fid", "FID ↓", "{:.3f}"), ("kid_mean", "KID ↓", "{:.5f}"),
                                    ("recogniser_score", "recogniser score ↑", "{:.2%}"),
                                    ("label_flip_rate", "label-flip rate ↓", "{:.2%}"),
                                    ("recogniser_real_targets", "classifier on real targets",
                                     "{:.2%}"),
                                    ("recogniser_inputs", "classifier on the inputs", "{:.2%}")):
                if key in e:
                    lines.append(f"| {label} | {fmt.format(e[key])} |")
            lines.append("")
        if "cycle_l1" in d:
            lines += [f"Cycle error (L1 of the round trip): {d['cycle_l1']:.4f}", ""]
    return "\n".join(lines)
