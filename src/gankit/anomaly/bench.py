"""The one-class benchmark of the anomaly-detection literature (``gankit anomaly-bench``).

For each normal class k, seed s and method m, a detector is trained on class k of the training
split only (a run folder ``OUT/runs/<method>/class-<k>/seed-<s>``, trained by the one trainer
from the method's preset with ``data.classes=[k]``), then scores the whole test split, where
class k is normal and every other class anomalous; the AUROC of those scores is the result.
Nothing is selected on the test split: detectors select on their validation split of normal
training data (:mod:`gankit.anomaly.holdout`). Finished runs are reused, so an interrupted
benchmark continues where it stopped.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from gankit.config import build_config
from gankit.data import Dataset
from gankit.errors import GankitError
from gankit.recipes.capabilities import ScoresAnomalies, require

#: method → the preset it trains, by data set ("{data}" is the data set's name)
METHODS: dict[str, str] = {
    "fanogan": "{data}-fanogan",
    "ganomaly": "{data}-ganomaly",
    "vae": "{data}-vae-anomaly",
    "gan-d": "{data}-gan-anomaly",
}

#: data sets whose presets the methods have, and the preset family they borrow
PRESET_DATA = {"mnist": "mnist", "fashion-mnist": "mnist", "cifar10": "cifar10",
               "digits": "digits"}

#: the file in a run folder that holds its training time (seconds), written once it finished
TIMING = "anomaly-bench-time.txt"

#: images scored at a time
SCORE_BATCH = 500


@dataclass
class BenchOptions:
    """What ``gankit anomaly-bench`` measures."""

    data: str = "mnist"
    data_dir: str | None = None
    normal: tuple[int, ...] = tuple(range(10))
    seeds: int = 3
    methods: tuple[str, ...] = tuple(METHODS)
    steps: int | None = None
    device: str = "cpu"
    progress: bool = True
    #: extra config overrides for every run (tests: tiny networks)
    overrides: dict[str, Any] = field(default_factory=dict)


@dataclass
class Outcome:
    """One trained detector's result on the test split."""

    method: str
    normal: int
    seed: int
    auroc: float
    train_seconds: float
    scores: torch.Tensor
    run_dir: Path


def method_config(method: str, opts: BenchOptions, normal: int, seed: int) -> Any:
    """The run config of ``method`` for normal class ``normal`` and ``seed``."""
    family = PRESET_DATA.get(opts.data)
    if family is None:
        raise GankitError(f"anomaly-bench has presets for {', '.join(PRESET_DATA)}; "
                          f"{opts.data!r} is not one of them.")
    data: dict[str, Any] = {"name": opts.data, "classes": [normal]}
    if opts.data_dir:
        data["path"] = opts.data_dir
    overrides: dict[str, Any] = {"data": data, "seed": seed}
    if opts.steps:
        overrides["train"] = {"steps": opts.steps}
    from gankit.config import deep_merge

    return build_config(METHODS[method].format(data=family), None,
                        deep_merge(overrides, opts.overrides))


def check_options(opts: BenchOptions, classes: Sequence[str]) -> None:
    """One sentence for a method, class or seed count the benchmark cannot use."""
    unknown = [m for m in opts.methods if m not in METHODS]
    if unknown:
        raise GankitError(f"Unknown method {unknown[0]!r}; choose from {', '.join(METHODS)}.")
    missing = [k for k in opts.normal if not 0 <= k < len(classes)]
    if missing:
        raise GankitError(f"Class {missing[0]} is not in the {opts.data} data, whose classes "
                          f"are 0 to {len(classes) - 1} ({', '.join(classes)}); fix --normal.")
    if opts.seeds < 1:
        raise GankitError(f"--seeds must be at least 1 (got {opts.seeds}).")


def auroc(scores: torch.Tensor, anomalous: torch.Tensor) -> float:
    """Area under the ROC curve of ``scores`` (higher = more anomalous) for the 0/1 truth."""
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(anomalous.numpy(), scores.double().numpy()))


def score_images(detector: ScoresAnomalies, test: Dataset, normalize: str,
                 bar: Callable[[int], None]) -> torch.Tensor:
    """Anomaly scores of every test image (in the detector's data range ``normalize``),
    :data:`SCORE_BATCH` at a time."""
    from gankit.data.ranges import from_unit, to_unit

    parts = []
    for start in range(0, len(test), SCORE_BATCH):
        x = to_unit(test.rows(slice(start, start + SCORE_BATCH)), test.normalize)
        parts.append(detector.anomaly_scores(from_unit(x, normalize)))
        bar(1)
    scores = torch.cat(parts).float()
    if not bool(torch.isfinite(scores).all()):
        raise GankitError("The detector gave scores that are not finite numbers; it diverged "
                          "(see its run folder's curves).")
    return scores


def prepare(cfg: Any, run_dir: Path, progress: bool) -> tuple[Any, float]:
    """What getting the trained detector of ``cfg`` in ``run_dir`` takes: ``(None, 0)`` when a
    finished run of this very config is there; a trainer that resumes a half-finished one from
    its newest checkpoint, with the training time it had already had; else a trainer that
    starts afresh (replacing a run of another config)."""
    from gankit.api import start
    from gankit.console import say
    from gankit.training.checkpoint import load_latest
    from gankit.training.rundir import is_run_dir, read_run_dir
    from gankit.training.trainer import resume_run

    same = is_run_dir(run_dir) and read_run_dir(run_dir)[0] == cfg
    found = load_latest(run_dir / "checkpoints") if same else None
    if found is not None and (run_dir / TIMING).is_file() and found[0] >= cfg.train.steps:
        return None, 0.0
    if found is not None:
        from gankit.report import read_metrics

        say(f"finishing {run_dir} from its checkpoint of step {found[0]}")
        clock = [r["elapsed_s"] for r in read_metrics(run_dir)
                 if r.get("step", 0) <= found[0] and "elapsed_s" in r]
        return resume_run(run_dir, None, progress), float(clock[-1]) if clock else 0.0
    if run_dir.exists():
        say(f"training {run_dir} again: it holds no finished run of this config")
    return start(cfg, run_dir, overwrite=run_dir.exists(), progress=progress), 0.0


def run_one(method: str, normal: int, seed: int, opts: BenchOptions, test: Dataset,
            out: Path, bar: Any) -> Outcome:
    """Train (or reuse, or finish) one detector and score the test split."""
    from gankit.fileio import atomic_write_text
    from gankit.run import load

    cfg = method_config(method, opts, normal, seed)
    run_dir = out / "runs" / method / f"class-{normal}" / f"seed-{seed}"
    timing = run_dir / TIMING
    trainer, before = prepare(cfg, run_dir, opts.progress)
    if trainer is not None:
        t0 = time.perf_counter()
        trainer.fit()
        atomic_write_text(timing, f"{before + time.perf_counter() - t0:.1f}\n")
    seconds = float(timing.read_text())
    run = load(run_dir, opts.device)
    detector = require(run.recipe, ScoresAnomalies, "anomaly-bench", str(run_dir))
    if run.spec.sample_shape != test.sample_shape:
        raise GankitError(f"The preset of {method} trains on {run.spec.sample_shape} images and "
                          f"the test split holds {test.sample_shape}; the presets of one data "
                          "set must agree.")
    scores = score_images(detector, test, run.spec.normalize, lambda n: bar.update(n))
    truth = (test.labels != normal).long()
    return Outcome(method, normal, seed, auroc(scores, truth), seconds, scores, run_dir)


def summarise(outcomes: list[Outcome], opts: BenchOptions, class_names: Sequence[str],
              protocol: dict[str, Any]) -> dict[str, Any]:
    """The JSON result: AUROC per method and class (each seed, mean, std), means over classes,
    training times, and the protocol."""
    table: dict[str, Any] = {}
    for method in opts.methods:
        rows = {}
        for k in opts.normal:
            mine = [o for o in outcomes if o.method == method and o.normal == k]
            values = [o.auroc for o in mine]
            rows[class_names[k]] = {
                "auroc": values, "mean": statistics.fmean(values),
                "std": statistics.pstdev(values) if len(values) > 1 else 0.0,
                "train_seconds": statistics.fmean(o.train_seconds for o in mine)}
        means = [r["mean"] for r in rows.values()]
        table[method] = {"classes": rows, "mean_auroc": statistics.fmean(means),
                         "mean_train_seconds": statistics.fmean(
                             r["train_seconds"] for r in rows.values())}
    return {"data": opts.data, "normal": list(opts.normal), "seeds": opts.seeds,
            "methods": table, "protocol": protocol}


def markdown(result: dict[str, Any]) -> str:
    """The table: one row per normal class, one column per method (AUROC % mean ± std over
    seeds), the mean over classes and each method's mean training time."""
    methods = list(result["methods"])
    head = "| normal class | " + " | ".join(methods) + " |"
    lines = [f"One-class AUROC (%) on {result['data']}, mean ± std over {result['seeds']} "
             "seed(s); test split, the normal class against all others.", "", head,
             "|---|" + "---:|" * len(methods)]
    classes = list(next(iter(result["methods"].values()))["classes"])
    for name in classes:
        cells = [result["methods"][m]["classes"][name] for m in methods]
        lines.append(f"| {name} | " + " | ".join(
            f"{100 * c['mean']:.1f} ± {100 * c['std']:.1f}" for c in cells) + " |")
    lines.append("| **mean** | " + " | ".join(
        f"**{100 * result['methods'][m]['mean_auroc']:.1f}**" for m in methods) + " |")
    lines.append("| training time per run | " + " | ".join(
        f"{result['methods'][m]['mean_train_seconds']:.0f} s" for m in methods) + " |")
    return "\n".join(lines) + "\n"


def run_bench(opts: BenchOptions, out: Path) -> tuple[dict[str, Any], list[Outcome], Dataset]:
    """Train and score every (method, normal class, seed); the summary, the outcomes and the
    test split."""
    from tqdm.auto import tqdm

    from gankit.metrics.evaluate import reference_data

    if not opts.methods:
        raise GankitError("Name at least one method with --methods.")
    check_options(opts, [str(i) for i in range(max(opts.normal) + 1)])  # methods and seeds
    probe = method_config(opts.methods[0], opts, 0, 0).data  # the size and channels to score
    test, where = reference_data(probe.model_copy(update={"classes": None,
                                                          "normalize": "unit"}), "test")
    check_options(opts, test.class_names or [])
    runs = [(m, k, s) for k in opts.normal for m in opts.methods for s in range(opts.seeds)]
    batches = -(-len(test) // SCORE_BATCH)
    bar = tqdm(total=len(runs) * batches, desc="anomaly-bench (scoring)", unit="batch",
               disable=not opts.progress, leave=False)
    outcomes = []
    with bar:
        for method, k, seed in runs:
            bar.set_postfix_str(f"{method}, class {k}, seed {seed}")
            outcomes.append(run_one(method, k, seed, opts, test, out, bar))
    protocol = {"train": f"class k of the {opts.data} training split (data.classes=[k]), less "
                "the detector's validation split of normal images",
                "test": f"the whole {where}: class k normal, every other class anomalous",
                "selection": "on normal validation data only; nothing on the test split",
                "score": {m: METHODS[m].format(data=PRESET_DATA[opts.data]) for m in
                          opts.methods},
                "metric": "AUROC (sklearn.metrics.roc_auc_score), higher scores = anomalous",
                "steps": opts.steps, "device": opts.device}
    return summarise(outcomes, opts, test.class_names or [], protocol), outcomes, test
