"""Reading the runs of a comparison: their folders, evaluations, protocols and score tables."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gankit.errors import GankitError
from gankit.layout import FINAL_SUFFIX
from gankit.metrics.summary import EVAL_JSON, FEATURE_ROWS
from gankit.training.rundir import read_run_dir


@dataclass
class Entry:
    """One run of a comparison: where it is, its final picture and its evaluation."""

    name: str
    path: Path
    picture: Path
    recipe: str
    preset: str | None
    data: str
    result: dict[str, Any] | None = None

    @property
    def step(self) -> int | None:
        return None if self.result is None else self.result.get("step")


def read_eval(path: Path) -> dict[str, Any] | None:
    """A run folder's ``eval.json`` (None when there is none)."""
    file = path / EVAL_JSON
    if not file.is_file():
        return None
    try:
        result = json.loads(file.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError):
        result = None
    if not isinstance(result, dict) or not isinstance(result.get("extractors"), dict):
        raise GankitError(f"{str(file)!r} is not a readable evaluation; run 'gankit eval "
                          f"{path}' again.")
    return result


def load_entries(runs: list[str | Path], names: list[str] | None = None) -> list[Entry]:
    """Check every run folder and read what the comparison needs (nothing is written)."""
    paths = [Path(r) for r in runs]
    if len(paths) < 2:
        raise GankitError("A comparison needs at least two run folders; name two or more.")
    if len({p.resolve() for p in paths}) < len(paths):
        raise GankitError("A run folder is listed twice; name each run once.")
    if names is None:
        names = [p.name for p in paths]
        if len(set(names)) < len(names):
            names = [str(p) for p in paths]
    elif len(names) != len(paths) or len(set(names)) < len(names) or not all(names):
        raise GankitError(f"--names must give {len(paths)} different non-empty names, one per "
                          f"run (got {len(names)}).")
    entries = []
    for name, path in zip(names, paths, strict=True):
        cfg, _, _ = read_run_dir(path)
        picture = next(iter(sorted(path.glob(f"*{FINAL_SUFFIX}"))), None)
        if picture is None:
            raise GankitError(f"Run {str(path)!r} has no final picture (its training has not "
                              f"finished); finish it with 'gankit train --resume {path}'.")
        entries.append(Entry(name, path, picture, cfg.recipe, cfg.preset, cfg.data.name,
                             read_eval(path)))
    return entries


def comparable_protocol(result: dict[str, Any]) -> dict[str, Any]:
    """The parts of an evaluation's protocol that must agree for its numbers to be comparable."""
    p = result.get("protocol", {})
    out = {"generated samples": p.get("generated"), "real samples": p.get("real"),
           "reference data": p.get("reference"), "KID settings": p.get("kid"),
           "precision/recall k": p.get("precision_recall_k"),
           "density/coverage k": p.get("density_coverage_k"),
           "extractors": sorted(result.get("extractors", {}))}
    for name, scores in result.get("extractors", {}).items():
        out[f"{name} extractor"] = scores.get("protocol")
    return out


def protocol_differences(entries: list[Entry]) -> list[str]:
    """One phrase per protocol item on which the runs' evaluations disagree."""
    protocols = [comparable_protocol(e.result or {}) for e in entries]
    keys = list(dict.fromkeys(k for p in protocols for k in p))
    out = []
    for key in keys:
        values = [p.get(key) for p in protocols]
        if all(v == values[0] for v in values):
            continue
        if all(isinstance(v, dict) for v in values):
            inner = sorted({k for v in values for k in v if any(w.get(k) != v.get(k)
                                                                for w in values)})
            out.append(f"{key} ({', '.join(inner)} differ)")
        else:
            shown = ", ".join(f"{e.name}: {short_value(v)}" for e, v in zip(entries, values,
                                                                      strict=True))
            out.append(f"{key} ({shown})")
    return out


def short_value(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, list):
        return "+".join(map(str, value)) or "none"
    if isinstance(value, dict):
        return "used"
    return f"{value:,}" if isinstance(value, int) else str(value)


def missing_eval_options(entries: list[Entry], explicit: dict[str, Any]) -> dict[str, Any]:
    """:class:`EvalOptions` fields for runs without eval.json: the protocol of the first run
    that has one (so that the numbers stay comparable), overridden by ``explicit``."""
    template = next((e.result for e in entries if e.result), None)
    opts: dict[str, Any] = {}
    if template is not None:
        p = template["protocol"]
        opts = {"num_generated": p["generated"], "num_real": p["real"], "seed": p["seed"],
                "extractors": tuple(template["extractors"]),
                "reference": "train" if "train split" in p["reference"] else "test",
                "kid_subsets": p["kid"]["subsets"], "kid_subset_size": p["kid"]["subset_size"],
                "pr_k": p["precision_recall_k"], "dc_k": p["density_coverage_k"]}
    return {**opts, **{k: v for k, v in explicit.items() if v is not None}}

# ---------------------------------------------------------------- tables


def score_columns(entries: list[Entry]) -> list[tuple[str, str, str]]:
    """(key, label, format) of the feature metrics that at least one run has."""
    present = {k for e in entries for s in (e.result or {}).get("extractors", {}).values()
               for k in s}
    return [row for row in FEATURE_ROWS if row[0] in present]


def _cell(value: Any, pattern: str) -> str:
    return "–" if value is None else pattern.format(value)


def score_rows(entries: list[Entry]) -> tuple[list[str], list[list[str]]]:
    """The header and rows (one per run and extractor) of the score table, as text."""
    columns = score_columns(entries)
    has_modes = any((e.result or {}).get("modes") for e in entries)
    header = ["run", "recipe", "step", "extractor", *[label for _, label, _ in columns]]
    header += ["modes", "high quality"] if has_modes else []
    rows = []
    for e in entries:
        result = e.result or {}
        for name, scores in result.get("extractors", {}).items():
            row = [e.name, e.recipe, f"{e.step:,}" if e.step is not None else "–", name]
            row += [_cell(scores.get(key), pattern) for key, _, pattern in columns]
            if has_modes:
                modes = result.get("modes") or {}
                row.append(f"{modes['modes']} / {modes['modes_total']}" if modes else "–")
                hq = modes.get("high_quality")
                row.append("–" if hq is None else f"{100 * hq:.1f} %")
            rows.append(row)
    return header, rows


def class_shares(entries: list[Entry]) -> tuple[list[str], dict[str, list[float]]]:
    """Class names and each run's share of generated samples per class (runs with a
    class histogram only), from the first extractor that has one."""
    hists: dict[str, dict[str, int]] = {}
    for e in entries:
        for scores in (e.result or {}).get("extractors", {}).values():
            if scores.get("class_histogram"):
                hists[e.name] = scores["class_histogram"]
                break
    classes = list(dict.fromkeys(c for h in hists.values() for c in h))
    shares = {}
    for name, hist in hists.items():
        total = max(sum(hist.values()), 1)
        shares[name] = [hist.get(c, 0) / total for c in classes]
    return classes, shares
