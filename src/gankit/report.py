"""One HTML page per run: summary, config, curves and samples, linking to the run's own images.

The page has no external CSS, scripts or network access; images are relative links, so the run
folder can be moved or zipped and the page still works. Missing pieces are left out.
"""

from __future__ import annotations

import html
import json
import math
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

import yaml

from gankit import layout
from gankit.errors import GankitError
from gankit.fileio import atomic_write_text

__all__ = ["REPORT_FILE", "read_metrics", "rebuild", "sample_images", "write_report"]

REPORT_FILE = layout.REPORT
METRICS_FILE = layout.METRICS
SUMMARY_KEYS = ("step", "img_per_s", "elapsed_s")
_STEP_FILE = re.compile(r"step_(\d+)\.png")

CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; padding: 0 1em;
       color: #222; }
h1 { margin-bottom: 0.2em; } .sub { color: #666; margin-top: 0; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
td, th { border: 1px solid #ddd; padding: 0.3em 0.8em; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
pre { background: #f6f6f6; padding: 1em; overflow-x: auto; font-size: 0.9em; }
img { max-width: 100%; height: auto; }
figure { display: inline-block; margin: 0 1em 1em 0; vertical-align: top; }
figcaption { text-align: center; color: #555; font-size: 0.9em; }
.samples img { max-width: 320px; }
"""


def read_metrics(run_dir: str | Path) -> list[dict[str, Any]]:
    """The records of ``run_dir/metrics.jsonl`` in file order (``[]`` when there is none).

    ``run_dir`` may also be the path of the ``.jsonl`` file itself. Blank lines and lines that
    are not a JSON object (a truncated last line of a killed run) are skipped, not errors.
    """
    path = Path(run_dir)
    if path.is_dir():
        path = path / METRICS_FILE
    if not path.is_file():
        return []
    records: list[dict[str, Any]] = []
    with path.open(encoding="utf-8", errors="replace") as lines:
        for line in lines:
            line = line.strip()
            if not line:
                continue
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict):
                records.append(record)
    return records


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _fmt(value: float) -> str:
    if math.isnan(value) or math.isinf(value):
        return str(value)
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.4g}"


def _duration(seconds: float) -> str:
    if not math.isfinite(seconds) or seconds < 0:
        return str(seconds)
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _last(records: list[dict[str, Any]], key: str) -> tuple[float, Any] | None:
    """The last numeric value of ``key`` and the step it was logged at."""
    for record in reversed(records):
        value = _number(record.get(key))
        if value is not None:
            return value, record.get("step")
    return None


def _img(rel: str, alt: str) -> str:
    return f'<img src="{esc(quote(rel))}" alt="{esc(alt)}" loading="lazy">'


def sample_images(run_dir: str | Path) -> list[tuple[int, Path]]:
    """``(step, path)`` of each ``samples/step_NNNNNN.png`` in ``run_dir``, by step."""
    folder = Path(run_dir) / layout.SAMPLES
    if not folder.is_dir():
        return []
    found = []
    for path in folder.iterdir():
        match = _STEP_FILE.fullmatch(path.name)
        if match and path.is_file():
            found.append((int(match.group(1)), path))
    return sorted(found)


def _read_config(run_dir: Path) -> tuple[str | None, dict[str, Any]]:
    """The config text (re-dumped tidily when it parses) and the parsed mapping."""
    path = run_dir / layout.CONFIG
    if not path.is_file():
        return None, {}
    text = path.read_text(encoding="utf-8", errors="replace")
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError:
        return text, {}
    if not isinstance(doc, dict):
        return text, {}
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True), doc


def _summary(records: list[dict[str, Any]], config: dict[str, Any]) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    train = config.get("train")
    planned = train.get("steps") if isinstance(train, dict) else None
    step = _last(records, "step")
    if step is not None:
        done = _fmt(step[0])
        rows.append(("steps done", f"{done} / {planned}" if planned else done))
    elif planned:
        rows.append(("steps planned", str(planned)))
    for scalar in recipe_scalars(config):
        last = _last(records, scalar.key) if scalar.progress else None
        if last is not None:
            value = f"{last[0] * 100:.1f} %" if scalar.kind == "share" else _fmt(last[0])
            rows.append((f"last {scalar.label}", value))
    speed = _last(records, "img_per_s")
    if speed is not None:
        rows.append(("images / s", f"{speed[0]:,.0f}" if speed[0] >= 100 else _fmt(speed[0])))
    elapsed = _last(records, "elapsed_s")
    if elapsed is not None:
        rows.append(("wall time", _duration(elapsed[0])))
    return rows


def recipe_scalars(config: dict[str, Any]) -> tuple[Any, ...]:
    """The scalars the run's recipe declares (none when the recipe is unknown here)."""
    from gankit.config import RunConfig
    from gankit.recipes import RECIPES

    name = config.get("recipe", RunConfig.model_fields["recipe"].default)
    return RECIPES.get(name).scalars if isinstance(name, str) and name in RECIPES else ()


def _other_metrics(records: list[dict[str, Any]],
                   config: dict[str, Any]) -> list[tuple[str, str, str]]:
    """``(key, last value, step)`` of every numeric key not in the summary, in first-seen order."""
    shown = set(SUMMARY_KEYS) | {s.key for s in recipe_scalars(config) if s.progress}
    keys: dict[str, None] = {}
    for record in records:
        for key, value in record.items():
            if key not in shown and _number(value) is not None:
                keys.setdefault(key, None)
    rows = []
    for key in keys:
        last = _last(records, key)
        if last is not None:
            step = "" if last[1] is None else str(last[1])
            rows.append((key, _fmt(last[0]), step))
    return rows


def _table(rows: list[tuple[str, ...]], header: tuple[str, ...] | None = None) -> str:
    out = ["<table>"]
    if header:
        out.append("<tr>" + "".join(f"<th>{esc(h)}</th>" for h in header) + "</tr>")
    for row in rows:
        cells = [f"<th>{esc(row[0])}</th>" if not header else f"<td>{esc(row[0])}</td>"]
        cells += [f'<td class="num">{esc(cell)}</td>' for cell in row[1:]]
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</table>")
    return "\n".join(out)


def rebuild(run_dir: str | Path) -> Path:
    """Redraw ``curves.png`` (with the scalars the run's recipe declares) and
    ``eval_curves.png`` from metrics.jsonl, then write report.html; returns its path."""
    from gankit.viz import save_curves, save_eval_curves

    run_dir = Path(run_dir)
    records = read_metrics(run_dir)
    save_curves(records, run_dir / layout.CURVES, recipe_scalars(_read_config(run_dir)[1]))
    save_eval_curves(records, run_dir / layout.EVAL_CURVES)
    return write_report(run_dir)


def write_report(run_dir: str | Path) -> Path:
    """Write ``run_dir/report.html`` from whatever the run folder holds and return its path."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise GankitError(f"Run folder {str(run_dir)!r} does not exist; check the path.")
    records = read_metrics(run_dir)
    config_text, config = _read_config(run_dir)
    preset = config.get("preset")
    title = f"gankit run {run_dir.resolve().name}"

    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{esc(title)}</title>",
        f"<style>{CSS}</style>",
        "</head><body>",
        f"<h1>{esc(title)}</h1>",
    ]
    facts = [f"preset {preset}" if preset else "no preset", f"recipe {config.get('recipe')}"]
    for section, key in (("data", "name"), ("model", "arch"), ("loss", "name")):
        value = config.get(section, {}).get(key) if isinstance(config.get(section), dict) else None
        if value is not None:
            facts.append(f"{section} {value}")
    parts.append(f'<p class="sub">{esc(" · ".join(facts))}</p>')

    summary = _summary(records, config)
    parts.append("<h2>Summary</h2>")
    parts.append(_table(summary) if summary else "<p>No metrics logged yet.</p>")

    others = _other_metrics(records, config)
    if others:
        parts.append("<h2>Other metrics</h2>")
        parts.append(_table(others, header=("metric", "last value", "at step")))
    if config_text is not None:
        parts.append("<h2>Config</h2>")
        parts.append(
            f"<details><summary>config.yaml</summary><pre>{esc(config_text)}</pre></details>"
        )

    if (run_dir / layout.CURVES).is_file():
        parts += ["<h2>Training curves</h2>", _img(layout.CURVES, "training curves")]
    if (run_dir / layout.EVAL_CURVES).is_file():
        parts += ["<h2>Evaluation during training</h2>",
                  _img(layout.EVAL_CURVES, "evaluation metrics over training")]
    if (run_dir / layout.EVAL_MD).is_file():
        text = (run_dir / layout.EVAL_MD).read_text(encoding="utf-8", errors="replace")
        parts += ["<h2>Evaluation (gankit eval)</h2>", f"<pre>{esc(text)}</pre>"]
    finals = sorted(p.name for p in run_dir.glob(f"*{layout.FINAL_SUFFIX}") if p.is_file())
    if finals:
        parts.append("<h2>Final pictures</h2>")
        parts += [_img(name, name.removesuffix(".png").replace("_", " ")) for name in finals]

    samples = sample_images(run_dir)
    if samples:
        parts.append('<h2>Samples over training</h2><div class="samples">')
        for step, path in samples:
            rel = f"samples/{path.name}"
            parts.append(
                f"<figure>{_img(rel, f'samples at step {step}')}"
                f"<figcaption>step {step:,}</figcaption></figure>"
            )
        parts.append("</div>")

    parts.append("</body></html>\n")

    return atomic_write_text(run_dir / REPORT_FILE, "\n".join(parts))
