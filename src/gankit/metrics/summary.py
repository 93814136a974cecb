"""Evaluation results as files: ``eval.json`` (everything) and ``eval.md`` (a readable table)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from gankit.fileio import atomic_write_text
from gankit.layout import EVAL_JSON, EVAL_MD

# (key, label, format) of the feature metrics, in table order
FEATURE_ROWS = (
    ("fid", "FID ↓", "{:.3f}"),
    ("kid_mean", "KID ↓", "{:.5f}"),
    ("precision", "precision ↑", "{:.3f}"),
    ("recall", "recall ↑", "{:.3f}"),
    ("density", "density ↑", "{:.3f}"),
    ("coverage", "coverage ↑", "{:.3f}"),
    ("score_mean", "classifier score ↑", "{:.3f}"),
    ("classes_covered", "classes covered", "{}"),
    ("class_kl_uniform", "class KL to uniform ↓", "{:.4f}"),
    ("label_accuracy", "requested class recognised ↑", "{:.2%}"),
)


def _fmt(value: Any, pattern: str) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return pattern.format(value)


def _protocol_text(protocol: dict[str, Any]) -> str:
    return ", ".join(f"{k}: {v}" for k, v in protocol.items() if k != "extractor")


def eval_markdown(result: dict[str, Any]) -> str:
    """A Markdown report of one evaluation: the protocol, then one table of every score."""
    if result.get("kind") == "table":
        from gankit.tables.evaluate import table_markdown

        return table_markdown(result)
    if result.get("kind") == "translation":
        from gankit.translation.evaluate import translation_markdown

        return translation_markdown(result)
    p = result["protocol"]
    lines = [f"# Evaluation of `{result['run']}` at step {result['step']:,}", "",
             f"{p['generated']:,} generated samples ({p['weights']} weights, seed {p['seed']}) "
             f"against {p['real']:,} real ones from the {p['reference']}. KID: "
             f"{p['kid']['subsets']} subsets of {p['kid']['subset_size']}, kernel "
             f"{p['kid']['kernel']}; precision/recall k = {p['precision_recall_k']}; "
             f"density/coverage k = {p['density_coverage_k']}.", "",
             "| metric | value | extractor |", "|---|---|---|"]
    for name, scores in result["extractors"].items():
        for key, label, pattern in FEATURE_ROWS:
            if key not in scores:
                continue
            value = _fmt(scores[key], pattern)
            if key == "kid_mean":
                value += f" ± {scores['kid_std']:.5f}"
            if key == "classes_covered":
                value += f" / {scores['classes_total']}"
            lines.append(f"| {label} | {value} | {name} |")
    modes = result.get("modes")
    if modes:
        lines.append(f"| modes captured | {modes['modes']} / {modes['modes_total']} | "
                     f"{modes['protocol']['samples']:,} samples |")
        if "high_quality" in modes:
            lines.append(f"| high-quality samples | {100 * modes['high_quality']:.1f} % | "
                         f"within {modes['protocol']['threshold']} of a centre |")
        lines.append(f"| mode KL to uniform ↓ | {_fmt(modes['kl_uniform'], '{:.4f}')} | |")
    lines += ["", "Extractor protocols:", ""]
    for name, scores in result["extractors"].items():
        lines.append(f"- **{name}**: {_protocol_text(scores['protocol'])}")
    missing = {n: s["missing_classes"] for n, s in result["extractors"].items()
               if s.get("missing_classes")}
    for name, classes in missing.items():
        lines.append(f"- classes never generated ({name}): {', '.join(map(str, classes))}")
    return "\n".join(lines) + "\n"


def _finite(value: Any) -> Any:
    """Standard JSON: infinite or NaN numbers (e.g. KL with no sample on a mode) become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def write_eval(run_dir: str | Path, result: dict[str, Any]) -> tuple[Path, Path]:
    """Write ``eval.json`` and ``eval.md`` into the run folder (atomically)."""
    run_dir = Path(run_dir)
    text = json.dumps(_finite(result), indent=1, allow_nan=False)
    json_path = atomic_write_text(run_dir / EVAL_JSON, text + "\n")
    md_path = atomic_write_text(run_dir / EVAL_MD, eval_markdown(result))
    return json_path, md_path
