"""A whole evaluation protocol: generate, extract features, score, and record how.

``evaluate_run`` loads a run, draws samples from it, compares them with real reference data
(the test split when the source has one) through each feature extractor, adds the mode metrics
the data set allows (2-D mixtures, Stacked MNIST, class histograms) and returns one JSON-ready
dictionary in which every score sits beside its protocol.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from tqdm.auto import tqdm

from gankit.config import DataConfig, RunConfig
from gankit.data import Dataset, evaluation_of, load_dataset
from gankit.data.ranges import to_unit
from gankit.errors import GankitError
from gankit.metrics.features import ExtractorContext, FeatureExtractor, build_extractor
from gankit.metrics.frechet import feature_stats, frechet_distance
from gankit.metrics.kid import kid
from gankit.metrics.modes import kl_to_uniform, mixture_modes
from gankit.metrics.prdc import prdc, precision_recall
from gankit.metrics.score import classifier_score

#: what ``gankit eval --metrics`` can ask for
METRICS = {
    "fid": "Fréchet distance of the features' Gaussians",
    "kid": "kernel inception distance (unbiased MMD², cubic kernel)",
    "prdc": "precision, recall (k = 3), density and coverage (k = 5)",
    "classes": "the class histogram of the samples (and, when conditional, the requested "
               "class recognised)",
    "score": "the Inception-Score formula on the extractor's class probabilities",
    "modes": "modes captured, as the data source counts them (2-D mixtures, Stacked MNIST)",
}


@dataclass
class EvalOptions:
    """What to measure and on how many samples (None = the default for the data kind)."""

    extractors: tuple[str, ...] | None = None
    num_generated: int | None = None
    num_real: int | None = None
    reference: str = "test"
    seed: int = 0
    use_ema: bool = True
    kid_subsets: int = 100
    kid_subset_size: int = 1000
    pr_k: int = 3
    dc_k: int = 5
    mode_samples: int | None = None
    metrics: tuple[str, ...] | None = None  # None = every metric that applies
    progress: bool = True
    extra: dict[str, Any] = field(default_factory=dict)


def default_extractors(kind: str, labelled: bool) -> tuple[str, ...]:
    """Raw coordinates for points; the data set's own classifier for labelled images."""
    if kind == "points":
        return ("raw",)
    return ("classifier",) if labelled else ("inception",)


def default_counts(kind: str, data_name: str) -> tuple[int, int, int]:
    """(generated, real, mode samples) of the standard protocols for a kind of data."""
    modes = evaluation_of(data_name).mode_samples
    if kind == "points":
        return 2500, 2500, modes  # VEEGAN / PacGAN: 2,500 samples
    return 10_000, 10_000, modes


def chosen_metrics(asked: tuple[str, ...] | None, data_name: str) -> set[str]:
    """The metrics to compute: those asked for (checked), or every one that applies."""
    applies = set(METRICS) - ({"modes"} if evaluation_of(data_name).modes == "none" else set())
    if asked is None:
        return applies
    unknown = [m for m in asked if m not in METRICS]
    if unknown:
        raise GankitError(f"Unknown metric {unknown[0]!r}; choose from: {', '.join(METRICS)}.")
    if "modes" in asked and "modes" not in applies:
        raise GankitError(f"The data set {data_name!r} declares no modes to count; leave "
                          "'modes' out of --metrics.")
    return set(asked)


def reference_data(data: DataConfig, split: str) -> tuple[Dataset, str]:
    """Real data to compare with: the ``split`` split when the source has one."""
    if evaluation_of(data.name).test_split:
        data = data.model_copy(update={"options": {**data.options, "split": split},
                                       "limit": None})
        return load_dataset(data), f"{data.name} {split} split"
    data = data.model_copy(update={"limit": None})
    return load_dataset(data), f"{data.name} training data (the source has no test split)"


#: samples generated at a time (as ``Run.sample`` draws them)
SAMPLE_BATCH = 500


def generate(run: Any, n: int, seed: int | None = None, use_ema: bool = True,
             labels: torch.Tensor | None = None, progress: bool = True) -> torch.Tensor:
    """``run.sample(n, seed, use_ema, labels=labels)`` (the same values), with a progress bar
    ("generating") when it takes more than one batch."""
    run.check_memory(n)
    _ = run.generator  # a run that cannot sample is refused before a bar is drawn
    chunks = run.sample_chunks(n, seed, use_ema, SAMPLE_BATCH, labels)
    bar = tqdm(chunks, total=math.ceil(n / SAMPLE_BATCH), desc="generating", unit="batch",
               leave=False, disable=not progress or n <= SAMPLE_BATCH)
    return torch.cat(list(bar))


def _as_features_input(x: torch.Tensor, kind: str, normalize: str) -> torch.Tensor:
    return to_unit(x, normalize) if kind == "image" else x.float()


def subset(x: torch.Tensor, n: int, seed: int) -> torch.Tensor:
    """``n`` rows of ``x`` drawn without replacement (all of them if there are fewer)."""
    if n >= len(x):
        return x
    gen = torch.Generator().manual_seed(seed)
    return x[torch.randperm(len(x), generator=gen)[:n]]


def cached_features(extractor: FeatureExtractor, x: torch.Tensor) -> torch.Tensor:
    """Features of real data, cached on disk by extractor protocol and data content."""
    from safetensors.torch import load as load_tensors
    from safetensors.torch import save as save_tensors

    from gankit.data.idx import cache_dir
    from gankit.fileio import atomic_write_bytes

    digest = hashlib.sha256(json.dumps(extractor.protocol(), sort_keys=True).encode())
    digest.update(str(tuple(x.shape)).encode())
    digest.update(x.contiguous().numpy().tobytes())
    path = cache_dir() / "features" / f"{extractor.name}-{digest.hexdigest()[:24]}.safetensors"
    if path.is_file():
        try:
            return load_tensors(path.read_bytes())["features"]
        except Exception:  # noqa: BLE001  (a damaged cache file is recomputed)
            path.unlink(missing_ok=True)
    feats = extractor.features(x)
    atomic_write_bytes(path, save_tensors({"features": feats.contiguous()}))
    return feats


def feature_metrics(real: torch.Tensor, fake: torch.Tensor, opts: EvalOptions,
                    metrics: set[str] | None = None) -> dict[str, Any]:
    """Of ``metrics`` (default all): FID, KID, precision/recall (k = opts.pr_k) and
    density/coverage (k = opts.dc_k)."""
    metrics = set(METRICS) if metrics is None else metrics
    out: dict[str, Any] = {}
    stages = [m for m in ("fid", "kid", "prdc") if m in metrics]
    with tqdm(total=len(stages), desc="scores", unit="metric", leave=False,
              disable=not opts.progress) as bar:
        for stage in stages:
            bar.set_postfix_str(stage)
            if stage == "fid":
                mu_r, sigma_r = feature_stats(real)
                mu_f, sigma_f = feature_stats(fake)
                out["fid"] = frechet_distance(mu_f, sigma_f, mu_r, sigma_r)
            elif stage == "kid":
                out.update(kid(fake, real, subsets=opts.kid_subsets,
                               subset_size=opts.kid_subset_size, seed=opts.seed))
            else:
                pr = precision_recall(real, fake, k=opts.pr_k)
                dc = prdc(real, fake, k=opts.dc_k)
                out.update({"precision": pr["precision"], "recall": pr["recall"],
                            "density": dc["density"], "coverage": dc["coverage"]})
            bar.update()
    return out


def class_metrics(extractor: FeatureExtractor, fake: torch.Tensor,
                  class_names: list[str] | tuple[str, ...],
                  requested: torch.Tensor | None = None,
                  metrics: set[str] | None = None) -> dict[str, Any]:
    """Class histogram of generated samples (missing classes = dropped modes) and the score
    (``metrics``: which of ``classes`` and ``score``; default both).

    For a conditional generator, ``requested`` holds the class asked for per sample, and
    ``label_accuracy`` is the share the classifier assigns to that class (per class too).
    """
    metrics = {"classes", "score"} if metrics is None else metrics
    probs = extractor.probabilities(fake) if metrics & {"classes", "score"} else None
    if probs is None:
        return {}
    score = classifier_score(probs, splits=10 if len(probs) >= 100 else 1) \
        if "score" in metrics else {}
    if "classes" not in metrics:
        return score
    predicted = probs.argmax(dim=1)
    counts = torch.bincount(predicted, minlength=probs.shape[1])
    names = list(class_names) or [str(i) for i in range(len(counts))]
    extra: dict[str, Any] = {}
    if requested is not None:
        hits = (predicted == requested.to(predicted.device)).float()
        extra["label_accuracy"] = float(hits.mean())
        extra["label_accuracy_per_class"] = {
            name: float(hits[requested == i].mean()) for i, name in enumerate(names)
            if bool((requested == i).any())}
    return {**extra,
        "class_histogram": dict(zip(names, counts.tolist(), strict=False)),
        "classes_covered": int((counts > 0).sum()),
        "classes_total": int(len(counts)),
        "missing_classes": [n for n, c in zip(names, counts.tolist(), strict=False) if c == 0],
        "class_kl_uniform": kl_to_uniform(counts),
        **score,
    }


def evaluate_samples(fake: torch.Tensor, real: Dataset, cfg: RunConfig, opts: EvalOptions,
                     device: torch.device, class_names: tuple[str, ...] = (),
                     requested: torch.Tensor | None = None) -> dict[str, Any]:
    """Every metric of ``opts`` for samples ``fake`` (in the data's range) against ``real``
    (``requested``: the classes a conditional generator was asked for)."""
    kind, norm = real.kind, real.normalize
    fake_in = _as_features_input(fake, kind, norm)
    real_in = _as_features_input(real.decode(subset(real.x, opts.num_real or len(real),
                                                     opts.seed)), kind, norm)
    names = opts.extractors or default_extractors(kind, real.labels is not None)
    ctx = ExtractorContext(cfg.data, device, opts.progress)
    metrics = chosen_metrics(opts.metrics, cfg.data.name)
    results: dict[str, Any] = {}
    for name in names:
        extractor = build_extractor(name, ctx)
        started = time.perf_counter()
        scores: dict[str, Any] = {}
        if metrics & {"fid", "kid", "prdc"}:
            scores = feature_metrics(cached_features(extractor, real_in),
                                     extractor.features(fake_in), opts, metrics)
        scores.update(class_metrics(extractor, fake_in, class_names, requested, metrics))
        scores["seconds"] = round(time.perf_counter() - started, 2)
        results[name] = {"protocol": extractor.protocol(), **scores}
    return results


def mode_metrics(run: Any, opts: EvalOptions, device: torch.device) -> dict[str, Any] | None:
    """Modes as the run's data source counts them (a 2-D mixture's centres, or the classes of
    each channel as for Stacked MNIST), or None when it declares none."""
    n = opts.mode_samples
    if n is None:
        n = default_counts(run.spec.kind, run.config.data.name)[2]
    how = evaluation_of(run.config.data.name).modes
    centres = run.facts.get("mode_centres")
    if how == "mixture" and centres is not None and n:
        samples = generate(run, n, opts.seed + 1, opts.use_ema, progress=opts.progress)
        std = float(run.facts["mode_std"])
        out = mixture_modes(samples, torch.tensor(centres), std)
        return {**out, "protocol": {"samples": n, "threshold": "3 σ", "std": std,
                                    "kl": "high-quality samples' mode histogram vs uniform"}}
    if how == "channel-classes" and n:
        from gankit.metrics.stacked import stacked_mnist_modes

        classifier = build_extractor("classifier",
                                     ExtractorContext(run.config.data, device, opts.progress))
        samples = to_unit(generate(run, n, opts.seed + 1, opts.use_ema, progress=opts.progress),
                          run.spec.normalize)
        out = stacked_mnist_modes(samples, classifier)
        return {**out, "protocol": {"samples": n, "classifier": classifier.protocol(),
                                    "mode": "100·R + 10·G + B digit classes"}}
    return None


def evaluate_run(run: Any, opts: EvalOptions, device: torch.device) -> dict[str, Any]:
    """Evaluate a loaded :class:`gankit.run.Run`; the JSON-ready result records its protocol.
    Table runs are judged as tables (:mod:`gankit.tables.evaluate`), translation runs as
    translations (:mod:`gankit.translation.evaluate`)."""
    if run.spec.kind == "table":
        from gankit.tables.evaluate import evaluate_table_run

        return evaluate_table_run(run, opts.num_generated, opts.seed, opts.progress)
    if run.spec.kind == "pair":
        from gankit.translation.evaluate import evaluate_translation_run

        return evaluate_translation_run(run, opts, device)
    started = time.perf_counter()
    default_gen, default_real, _ = default_counts(run.spec.kind, run.config.data.name)
    opts.num_generated = opts.num_generated or default_gen
    opts.num_real = opts.num_real or default_real
    real, reference = reference_data(run.config.data, opts.reference)
    requested = run.labels_for(opts.num_generated, None)  # balanced classes if conditional
    fake = generate(run, opts.num_generated, opts.seed, opts.use_ema, requested, opts.progress)
    result: dict[str, Any] = {
        "run": str(run.path), "step": run.step,
        "created": time.strftime("%Y-%m-%d %H:%M:%S"),
        "protocol": {"generated": opts.num_generated,
                     "real": min(opts.num_real, len(real)), "reference": reference,
                     "seed": opts.seed,
                     "weights": "EMA" if opts.use_ema and run.generator.has_ema else "G",
                     "kid": {"subsets": opts.kid_subsets, "subset_size": opts.kid_subset_size,
                             "kernel": "(x·y/d + 1)^3"},
                     "precision_recall_k": opts.pr_k, "density_coverage_k": opts.dc_k,
                     "options": asdict(opts)["extra"],
                     "metrics": sorted(chosen_metrics(opts.metrics, run.config.data.name)),
                     "conditional": "every class equally often" if run.num_classes else "no"},
        "extractors": evaluate_samples(fake, real, run.config, opts, device,
                                       run.spec.class_names, requested),
    }
    modes = mode_metrics(run, opts, device) if "modes" in chosen_metrics(
        opts.metrics, run.config.data.name) else None
    if modes is not None:
        result["modes"] = modes
    result["seconds"] = round(time.perf_counter() - started, 1)
    return result
