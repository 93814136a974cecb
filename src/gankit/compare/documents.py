"""The files of a comparison: Markdown, self-contained HTML, JSON and the pictures they show."""

from __future__ import annotations

import base64
import json
import shutil
import time
from pathlib import Path

import numpy as np
from PIL import Image

from gankit.compare.runs import Entry, class_shares, score_rows, short_value
from gankit.report import CSS, esc
from gankit.viz import new_figure, save_figure

COMPARE_HTML, COMPARE_MD, COMPARE_JSON = "compare.html", "compare.md", "compare.json"
SIDE_BY_SIDE, CLASS_HISTOGRAM, GRIDS = "side_by_side.png", "class_histogram.png", "grids"
_EXTRA_CSS = """
.warn { background: #fff3cd; border: 1px solid #e0c36c; padding: 0.6em 1em; }
.grids figure { max-width: 46%; } .grids img { width: 100%; image-rendering: pixelated; }
"""



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



def _protocol_sentence(e: Entry) -> str:
    r = e.result or {}
    p = r.get("protocol", {})
    extractors = "; ".join(f"{n}: " + ", ".join(f"{k} {v}" for k, v in s.get("protocol",
                                                                              {}).items())
                           for n, s in r.get("extractors", {}).items())
    generated, real = short_value(p.get("generated")), short_value(p.get("real"))
    return (f"{e.name} ({e.path}): step {r.get('step')}, {generated} generated "
            f"({p.get('weights')} weights, seed {p.get('seed')}) vs {real} real "
            f"from the {p.get('reference')}; {extractors}")


def protocol_warning(differences: list[str]) -> str:
    return ("The runs were evaluated with different protocols, so their numbers are not "
            f"comparable: {'; '.join(differences)}.")


def markdown(entries: list[Entry], differences: list[str], grid_files: list[str],
             histogram: tuple[list[str], dict[str, list[float]]] | None) -> str:
    header, rows = score_rows(entries)
    lines = [f"# Comparison of {', '.join(e.name for e in entries)}", ""]
    if differences:
        lines += [f"> **Warning.** {protocol_warning(differences)}", ""]
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
        parts.append(f'<p class="warn"><b>Warning.</b> {esc(protocol_warning(differences))}</p>')
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
