"""Runs side by side: their final sample grids and evaluation scores (``gankit compare``).

Each run folder contributes its ``grid_final.png`` (``scatter_final.png`` for 2-D points) and its
``eval.json`` as written by ``gankit eval``; :func:`compare_runs` writes into one new folder

- ``compare.html``: self-contained (every picture embedded), the grids side by side, the score
  table, the class histograms and each run's evaluation protocol;
- ``compare.md``: the same as Markdown, linking to the pictures copied beside it
  (``grids/``, ``side_by_side.png``, ``class_histogram.png``);
- ``compare.json``: the scores as numbers.

Scores are only comparable when measured the same way: runs evaluated with different protocols
(sample counts, reference data, extractor, KID or k-NN settings) are compared with a warning.
"""

from __future__ import annotations

import base64
import json
import shutil
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from gankit.errors import GankitError
from gankit.metrics.summary import EVAL_JSON, FEATURE_ROWS
from gankit.report import CSS, esc
from gankit.training.rundir import read_run_dir
from gankit.viz import new_figure, save_figure

COMPARE_HTML, COMPARE_MD, COMPARE_JSON = "compare.html", "compare.md", "compare.json"
SIDE_BY_SIDE, CLASS_HISTOGRAM, GRIDS = "side_by_side.png", "class_histogram.png", "grids"
PICTURES = ("grid_final.png", "scatter_final.png")
_EXTRA_CSS = """
.warn { background: #fff3cd; border: 1px solid #e0c36c; padding: 0.6em 1em; }
.grids figure { max-width: 46%; } .grids img { width: 100%; image-rendering: pixelated; }
"""


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


@dataclass
class Comparison:
    """What :func:`compare_runs` wrote, and the protocol differences it warned about."""

    out: Path
    entries: list[Entry]
    differences: list[str] = field(default_factory=list)
    evaluated: list[str] = field(default_factory=list)


# ---------------------------------------------------------------- reading the runs


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
        picture = next((path / p for p in PICTURES if (path / p).is_file()), None)
        if picture is None:
            raise GankitError(f"Run {str(path)!r} has no grid_final.png (its training has not "
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
            shown = ", ".join(f"{e.name}: {_short(v)}" for e, v in zip(entries, values,
                                                                      strict=True))
            out.append(f"{key} ({shown})")
    return out


def _short(value: Any) -> str:
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


def save_class_histogram(classes: list[str], shares: dict[str, list[float]],
                         path: Path) -> Path:
    """Grouped bars: per class, each run's share of generated samples (uniform as a line)."""
    fig = new_figure(max(6.0, 0.5 * len(classes) * max(len(shares), 2) + 1.5), 3.6)
    ax = fig.add_subplot()
    width = 0.8 / len(shares)
    xs = np.arange(len(classes))
    for i, (name, values) in enumerate(shares.items()):
        ax.bar(xs + (i - (len(shares) - 1) / 2) * width, [100 * v for v in values], width,
               label=name)
    ax.axhline(100 / len(classes), color="grey", ls=":", lw=1, label="uniform")
    ax.set_xticks(xs, classes if len(classes) <= 40 else [""] * len(classes))
    ax.set_xlabel("class assigned by the evaluation classifier")
    ax.set_ylabel("% of generated samples")
    ax.legend(fontsize=8, frameon=False, ncol=min(len(shares) + 1, 4))
    ax.grid(True, axis="y", alpha=0.25)
    return save_figure(fig, path)


def save_side_by_side(entries: list[Entry], path: Path) -> Path:
    """The runs' final pictures in one row, each titled with its run's name."""
    fig = new_figure(7.0 * len(entries), 7.4)  # about one screen pixel per grid pixel
    for i, e in enumerate(entries):
        ax = fig.add_subplot(1, len(entries), i + 1)
        with Image.open(e.picture) as img:
            ax.imshow(np.asarray(img.convert("RGB")))
        named = e.recipe.lower() in e.name.lower()
        ax.set_title(e.name if named else f"{e.name} ({e.recipe})", fontsize=11)
        ax.axis("off")
    return save_figure(fig, path)


# ---------------------------------------------------------------- documents


def _protocol_sentence(e: Entry) -> str:
    r = e.result or {}
    p = r.get("protocol", {})
    extractors = "; ".join(f"{n}: " + ", ".join(f"{k} {v}" for k, v in s.get("protocol",
                                                                              {}).items())
                           for n, s in r.get("extractors", {}).items())
    return (f"{e.name} ({e.path}): step {r.get('step')}, {_short(p.get('generated'))} generated "
            f"({p.get('weights')} weights, seed {p.get('seed')}) vs {_short(p.get('real'))} real "
            f"from the {p.get('reference')}; {extractors}")


def _warning(differences: list[str]) -> str:
    return ("The runs were evaluated with different protocols, so their numbers are not "
            f"comparable: {'; '.join(differences)}.")


def markdown(entries: list[Entry], differences: list[str], grid_files: list[str],
             histogram: tuple[list[str], dict[str, list[float]]] | None) -> str:
    header, rows = score_rows(entries)
    lines = [f"# Comparison of {', '.join(e.name for e in entries)}", ""]
    if differences:
        lines += [f"> **Warning.** {_warning(differences)}", ""]
    lines += ["## Scores", "", "| " + " | ".join(header) + " |",
              "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    lines += ["", "## Samples", "", f"![the final samples side by side]({SIDE_BY_SIDE})", "",
              "| " + " | ".join(e.name for e in entries) + " |", "|" + "---|" * len(entries),
              "| " + " | ".join(f"![{e.name}]({f})" for e, f in zip(entries, grid_files,
                                                                     strict=True)) + " |"]
    if histogram:
        classes, shares = histogram
        lines += ["", "## Class histogram (% of generated samples)", "",
                  f"![class histogram]({CLASS_HISTOGRAM})", "",
                  "| run | " + " | ".join(classes) + " |", "|" + "---|" * (len(classes) + 1)]
        lines += [f"| {name} | " + " | ".join(f"{100 * v:.1f}" for v in values) + " |"
                  for name, values in shares.items()]
    lines += ["", "## Evaluation protocols", ""]
    lines += [f"- {_protocol_sentence(e)}" for e in entries]
    return "\n".join(lines) + "\n"


def _data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _html_table(header: list[str], rows: list[list[str]]) -> str:
    out = ["<table>", "<tr>" + "".join(f"<th>{esc(h)}</th>" for h in header) + "</tr>"]
    for row in rows:
        cells = [f"<td>{esc(c)}</td>" for c in row[:1]]
        cells += [f'<td class="num">{esc(c)}</td>' for c in row[1:]]
        out.append("<tr>" + "".join(cells) + "</tr>")
    return "\n".join([*out, "</table>"])


def html(entries: list[Entry], differences: list[str], folder: Path,
         histogram: tuple[list[str], dict[str, list[float]]] | None) -> str:
    """The self-contained page (pictures embedded as data URIs)."""
    title = f"gankit comparison: {' vs '.join(e.name for e in entries)}"
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             f"<title>{esc(title)}</title>", f"<style>{CSS}{_EXTRA_CSS}</style>",
             "</head><body>", f"<h1>{esc(title)}</h1>",
             f'<p class="sub">created {esc(time.strftime("%Y-%m-%d %H:%M:%S"))}</p>']
    if differences:
        parts.append(f'<p class="warn"><b>Warning.</b> {esc(_warning(differences))}</p>')
    parts.append('<h2>Final samples</h2><div class="grids">')
    for e in entries:
        parts.append(f'<figure><img src="{_data_uri(e.picture)}" alt="{esc(e.name)}">'
                     f"<figcaption>{esc(e.name)} · {esc(e.recipe)} · "
                     f"{esc(e.preset or 'no preset')} · {esc(e.data)}</figcaption></figure>")
    parts.append("</div><h2>Scores</h2>")
    parts.append(_html_table(*score_rows(entries)))
    if histogram:
        classes, shares = histogram
        parts += ["<h2>Class histogram</h2>",
                  f'<img src="{_data_uri(folder / CLASS_HISTOGRAM)}" alt="class histogram">',
                  _html_table(["run", *classes], [[n, *(f"{100 * v:.1f} %" for v in vs)]
                                                  for n, vs in shares.items()])]
    parts.append("<h2>Evaluation protocols</h2><ul>")
    parts += [f"<li>{esc(_protocol_sentence(e))}</li>" for e in entries]
    parts.append("</ul></body></html>\n")
    return "\n".join(parts)


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)[:60] or "run"


def write_documents(entries: list[Entry], differences: list[str], folder: Path) -> None:
    """Every output file of a comparison, into ``folder`` (which exists and is empty)."""
    (folder / GRIDS).mkdir()
    grid_files = []
    for i, e in enumerate(entries):
        rel = f"{GRIDS}/{i + 1}-{_slug(e.name)}.png"
        shutil.copyfile(e.picture, folder / rel)
        grid_files.append(rel)
    save_side_by_side(entries, folder / SIDE_BY_SIDE)
    classes, shares = class_shares(entries)
    histogram = (classes, shares) if shares else None
    if histogram:
        save_class_histogram(classes, shares, folder / CLASS_HISTOGRAM)
    (folder / COMPARE_MD).write_text(markdown(entries, differences, grid_files, histogram),
                                     encoding="utf-8")
    (folder / COMPARE_HTML).write_text(html(entries, differences, folder, histogram),
                                       encoding="utf-8")
    header, rows = score_rows(entries)
    doc = {"runs": [{"name": e.name, "path": str(e.path), "recipe": e.recipe,
                     "preset": e.preset, "data": e.data, "evaluation": e.result}
                    for e in entries],
           "protocol_differences": differences, "table": {"header": header, "rows": rows}}
    (folder / COMPARE_JSON).write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")


# ---------------------------------------------------------------- the whole command


def default_out() -> Path:
    """``compare-<YYYYmmdd-HHMMSS>`` in the current folder (with a suffix if it exists)."""
    base = Path(f"compare-{time.strftime('%Y%m%d-%H%M%S')}")
    path, n = base, 2
    while path.exists():
        path, n = Path(f"{base}-{n}"), n + 1
    return path


def check_out(out: Path, overwrite: bool) -> None:
    if out.exists() and not out.is_dir():
        raise GankitError(f"Output {str(out)!r} is a file; choose another folder with -o.")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise GankitError(f"Output folder {str(out)!r} already exists and is not empty; choose "
                          "another with -o or pass --overwrite.")


def compare_runs(runs: list[str | Path], out: str | Path | None = None,
                 names: list[str] | None = None, overwrite: bool = False,
                 eval_missing: bool = False, eval_options: dict[str, Any] | None = None,
                 device: str = "cpu", progress: bool = True) -> Comparison:
    """Compare run folders into ``out`` (default ``compare-<time>``); returns what was written.

    Every run needs an ``eval.json`` (``gankit eval``); with ``eval_missing`` runs without one
    are evaluated first (with ``eval_options``, :class:`EvalOptions` fields, over the protocol of
    the first run that has one) and their eval.json is written into their folder. Nothing is
    written when a run cannot be compared; the output folder appears complete or not at all.
    """
    entries = load_entries(runs, names)
    out = Path(out) if out is not None else default_out()
    check_out(out, overwrite)
    missing = [e for e in entries if e.result is None]
    if missing and not eval_missing:
        which = ", ".join(repr(str(e.path)) for e in missing)
        first = missing[0].path
        raise GankitError(f"Run{'s' if len(missing) > 1 else ''} {which} ha"
                          f"{'ve' if len(missing) > 1 else 's'} no eval.json; run 'gankit eval "
                          f"{first}' first, or pass --eval-missing to evaluate it now.")
    evaluated = []
    if missing:
        from gankit.api import evaluate
        from gankit.report import write_report

        opts = {**missing_eval_options(entries, eval_options or {}), "progress": progress}
        for e in missing:
            evaluate(e.path, device=device, **opts)
            write_report(e.path)
            e.result = read_eval(e.path)
            evaluated.append(e.name)
    differences = protocol_differences(entries)
    if differences:
        warnings.warn(_warning(differences), stacklevel=2)
    _write_folder(out, overwrite, lambda folder: write_documents(entries, differences, folder))
    return Comparison(out, entries, differences, evaluated)


def _write_folder(out: Path, overwrite: bool, fill: Callable[[Path], None]) -> None:
    """Fill a temporary sibling folder, then move it to ``out`` (replacing it if allowed)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.tmp-{time.time_ns()}"
    tmp.mkdir()
    try:
        fill(tmp)
        if out.exists():
            check_out(out, overwrite)
            shutil.rmtree(out)
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
