"""Pictures of a run: image grids, 2-D scatter plots and training curves, written as PNG files.

Matplotlib is used through :class:`~matplotlib.figure.Figure` and the Agg canvas only (no
pyplot), so no global backend is selected and nothing here opens a window. Every file is written
atomically: a reader never sees a half-written picture.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from PIL import Image

from gankit.data.ranges import to_unit
from gankit.fileio import atomic_write_bytes

if TYPE_CHECKING:
    from matplotlib.figure import Figure

_MAX_POINTS = 5000  # points drawn per scatter layer; more only slow the plot down


# ---------------------------------------------------------------- image grids


def make_grid(
    images: torch.Tensor,
    nrow: int | None = None,
    padding: int = 2,
    pad_value: float = 1.0,
) -> np.ndarray:
    """Tile a float ``(N, C, H, W)`` batch in [0, 1] (C = 1 or 3) into one uint8 picture.

    ``nrow`` images go in each row (default ``ceil(sqrt(N))``, so 400 images make 20 × 20),
    filled row by row. ``padding`` pixels of ``pad_value`` separate the cells and frame the
    grid, so the size is ``rows * (H + padding) + padding`` by ``nrow * (W + padding) +
    padding``. The result is ``(H', W', 3)`` for colour and ``(H', W')`` for grey.
    """
    if images.ndim != 4 or images.shape[1] not in (1, 3):
        raise ValueError(f"images must be (N, C, H, W) with C = 1 or 3, got {tuple(images.shape)}")
    n, c, h, w = images.shape
    if n == 0:
        raise ValueError("make_grid needs at least one image")
    if padding < 0:
        raise ValueError(f"padding must be >= 0, got {padding}")
    ncol = max(1, min(nrow, n)) if nrow else math.ceil(math.sqrt(n))
    nrows = math.ceil(n / ncol)
    cells = images.detach().float().cpu().nan_to_num(0.0).clamp(0.0, 1.0)
    cells = (cells * 255.0).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()  # N, H, W, C
    fill = round(min(max(float(pad_value), 0.0), 1.0) * 255.0)
    step_h, step_w = h + padding, w + padding
    grid = np.full((nrows * step_h + padding, ncol * step_w + padding, c), fill, dtype=np.uint8)
    for i in range(n):
        top, left = padding + (i // ncol) * step_h, padding + (i % ncol) * step_w
        grid[top : top + h, left : left + w] = cells[i]
    return grid[..., 0] if c == 1 else grid


def save_image_grid(
    images: torch.Tensor,
    path: str | Path,
    normalize: str = "symmetric",
    nrow: int | None = None,
    min_cell_px: int = 28,
) -> Path:
    """Write a batch in the data range as a PNG grid and return its path.

    Images are enlarged (nearest neighbour, by a whole factor) so that each cell is at least
    ``min_cell_px`` wide: 8 × 8 digits become 32 × 32 cells. The 2-pixel white padding is not
    enlarged.
    """
    x = to_unit(images, normalize)
    if x.ndim == 4 and x.shape[-1] > 0 and min_cell_px > x.shape[-1]:
        factor = math.ceil(min_cell_px / x.shape[-1])
        x = x.repeat_interleave(factor, dim=-2).repeat_interleave(factor, dim=-1)
    buffer = io.BytesIO()
    Image.fromarray(make_grid(x, nrow=nrow)).save(buffer, format="PNG")
    return atomic_write_bytes(path, buffer.getvalue())


# ---------------------------------------------------------------- matplotlib figures


def new_figure(width: float, height: float) -> Figure:
    """A Matplotlib figure on the Agg canvas (Matplotlib is imported here, on first use, so
    that training holds none of its memory until it draws)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _integer_ticks(**options: Any) -> Any:
    from matplotlib.ticker import MaxNLocator

    return MaxNLocator(integer=True, **options)


def save_figure(fig: Figure, path: str | Path) -> Path:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return atomic_write_bytes(path, buffer.getvalue())


def _points(t: torch.Tensor | np.ndarray, name: str) -> np.ndarray:
    arr = t.detach().float().cpu().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)
    arr = arr.astype(np.float64, copy=False).reshape(-1, arr.shape[-1] if arr.ndim else 1)
    if arr.shape[-1] != 2:
        raise ValueError(f"{name} must be (N, 2) points, got shape {tuple(np.shape(t))}")
    return arr


def _thin(points: np.ndarray, limit: int = _MAX_POINTS) -> np.ndarray:
    """At most ``limit`` evenly spaced rows (deterministic, so pictures are reproducible)."""
    if len(points) <= limit:
        return points
    return points[np.linspace(0, len(points) - 1, limit).round().astype(int)]


def _view_limits(*clouds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper (x, y) corners around the finite points of ``clouds``, with a margin."""
    finite = [c[np.isfinite(c).all(axis=1)] for c in clouds if len(c)]
    finite = [c for c in finite if len(c)]
    if not finite:
        return np.array([-1.0, -1.0]), np.array([1.0, 1.0])
    allpts = np.concatenate(finite)
    lo, hi = allpts.min(axis=0), allpts.max(axis=0)
    span = hi - lo
    margin = np.maximum(0.08 * span, 0.05 * max(float(span.max()), 1e-6)) + 1e-6
    return lo - margin, hi + margin


def save_scatter(
    samples: torch.Tensor,
    real: torch.Tensor | None,
    path: str | Path,
    centres: torch.Tensor | None = None,
    title: str = "",
) -> Path:
    """Plot generated 2-D ``samples`` over the ``real`` data (and mode ``centres``) as a PNG.

    ``real`` and ``centres`` may be ``None``. The view is set by the real data and centres with
    a margin (by the samples when there are neither), so a few far-off samples do not
    zoom the plot out: they are drawn clipped to the edge and counted in the title.
    """
    fake = _points(samples, "samples")
    data = _points(real, "real") if real is not None else np.zeros((0, 2))
    marks = _points(centres, "centres") if centres is not None else np.zeros((0, 2))
    lo, hi = _view_limits(data, marks) if len(data) or len(marks) else _view_limits(fake)

    finite = np.isfinite(fake).all(axis=1)
    inside = finite & (fake >= lo).all(axis=1) & (fake <= hi).all(axis=1)
    outside = finite & ~inside
    n_out = int((~inside).sum())

    fig = new_figure(5.5, 5.5)
    ax = fig.add_subplot()
    if len(data):
        ax.scatter(*_thin(data).T, s=4, c="#bbbbbb", alpha=0.5, lw=0, label="real", zorder=1)
    if inside.any():
        ax.scatter(
            *_thin(fake[inside]).T, s=7, c="tab:blue", alpha=0.8, lw=0, label="generated", zorder=2
        )
    if outside.any():
        edge = np.clip(fake[outside], lo, hi)
        ax.scatter(
            *_thin(edge).T,
            s=18,
            c="tab:red",
            marker="x",
            lw=1,
            label="outside (at edge)",
            zorder=3,
            clip_on=False,
        )
    if len(marks):
        ax.scatter(*marks.T, s=90, c="black", marker="+", lw=1.5, label="mode centres", zorder=4)
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    ax.set_aspect("equal", adjustable="box")
    ax.grid(True, alpha=0.25)
    note = f"{n_out} of {len(fake)} samples outside the view" if n_out else ""
    heading = "\n".join(part for part in (title, note) if part)
    if heading:
        ax.set_title(heading, fontsize=10)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(  # below the plot, where it cannot hide any point
            loc="upper center",
            bbox_to_anchor=(0.5, -0.07),
            ncol=4,
            fontsize=8,
            markerscale=1.5,
            frameon=False,
        )
    return save_figure(fig, path)


def _series(records: list[dict[str, Any]], key: str) -> tuple[np.ndarray, np.ndarray]:
    """Steps and finite values of ``key`` (the record's position stands in for a missing step)."""
    steps, values = [], []
    for i, record in enumerate(records):
        value = record.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        if not math.isfinite(value):
            continue
        step = record.get("step", i)
        steps.append(step if isinstance(step, int | float) and not isinstance(step, bool) else i)
        values.append(float(value))
    return np.asarray(steps, dtype=np.float64), np.asarray(values, dtype=np.float64)


def _ema(values: np.ndarray, span: int) -> np.ndarray:
    """Bias-corrected exponential moving average (the start is not pulled towards zero)."""
    alpha = 2.0 / (span + 1.0)
    out = np.empty_like(values)
    avg, weight = 0.0, 0.0
    for i, v in enumerate(values):
        avg = (1.0 - alpha) * avg + alpha * v
        weight = (1.0 - alpha) * weight + alpha
        out[i] = avg / weight
    return out


_SMOOTH_FROM = 30  # points before a smoothed line is drawn over the raw one


def _draw(ax: Any, x: np.ndarray, y: np.ndarray, colour: str, label: str) -> Any:
    """Draw one series (raw faint + smoothed when long) and return the handle for the legend."""
    if len(x) >= _SMOOTH_FROM:
        ax.plot(x, y, color=colour, alpha=0.25, lw=0.8)
        (line,) = ax.plot(x, _ema(y, max(5, len(x) // 15)), color=colour, lw=1.6, label=label)
    else:
        (line,) = ax.plot(x, y, color=colour, lw=1.4, marker="o", ms=3, label=label)
    return line


_COLOURS = ("tab:blue", "tab:orange", "tab:red", "tab:purple", "tab:brown", "tab:pink",
            "tab:olive", "tab:cyan")


def save_curves(records: list[dict[str, Any]], path: str | Path,
                scalars: Sequence[Any] = ()) -> Path:
    """Plot the logged scalars against step as a PNG: one panel per group of the recipe's
    declared ``scalars`` (:class:`gankit.recipes.base.Scalar`), values on the left axis and
    shares (accuracies) in per cent on the right one.

    Long series are drawn faint with a smoothed line on top; a dotted line marks 50 %.
    Missing keys and non-finite values are skipped; with no data the figure says so.
    """
    groups: dict[str, list[Any]] = {}
    for scalar in scalars:
        if len(_series(records, scalar.key)[0]):
            groups.setdefault(scalar.group, []).append(scalar)
    panels = list(groups.items()) or [("training", [])]
    fig = new_figure(8.0, 4.5 if len(panels) == 1 else 3.2 * len(panels))
    for i, (name, members) in enumerate(panels):
        ax = fig.add_subplot(len(panels), 1, i + 1)
        _draw_panel(ax, records, members)
        if len(panels) > 1:
            ax.set_title(name, fontsize=10, loc="left")
    return save_figure(fig, path)


def _draw_panel(ax: Any, records: list[dict[str, Any]], members: list[Any]) -> None:
    """One panel of :func:`save_curves`: its values on the left axis, shares on the right."""
    handles, values, steps = [], [], []
    shares = [m for m in members if m.kind == "share"]
    for colour, member in zip(_COLOURS, [m for m in members if m.kind != "share"],
                              strict=False):
        x, y = _series(records, member.key)
        handles.append(_draw(ax, x, y, colour, member.label))
        values.append(y)
        steps.append(x)
    if shares:
        share_ax = ax.twinx()
        for member in shares:
            x, y = _series(records, member.key)
            handles.append(_draw(share_ax, x, 100.0 * y, "tab:green", f"{member.label} (%)"))
            steps.append(x)
        share_ax.axhline(50.0, color="tab:green", ls=":", lw=1.0, alpha=0.8)
        share_ax.set_ylim(-2.0, 102.0)
        share_ax.set_ylabel(" / ".join(f"{m.label} (%)" for m in shares))
    if values:
        flat = np.concatenate(values)
        if len(flat) >= _SMOOTH_FROM:  # keep a few spikes from flattening everything else
            lo, hi = np.percentile(flat, [0.5, 99.5])
            pad = 0.08 * max(hi - lo, 1e-6)
            ax.set_ylim(lo - pad, hi + pad)
    elif not shares:
        ax.text(0.5, 0.5, "nothing logged yet", transform=ax.transAxes, ha="center",
                va="center", color="grey")
    ax.set_xlabel("step")
    ax.set_ylabel("value" if len(values) != 1 else handles[0].get_label())
    ax.grid(True, alpha=0.25)
    ax.xaxis.set_major_locator(_integer_ticks())
    all_steps = np.concatenate(steps) if steps else np.zeros(0)
    if len(all_steps) and all_steps.max() - all_steps.min() < 2:  # one step: whole ticks
        ax.set_xlim(all_steps.min() - 1, all_steps.max() + 1)
    if handles:  # above the plot, where it cannot hide any line
        ax.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=4,
                  fontsize=9, frameon=False)


_EVAL_LABELS = {"eval_fid": "FID (lower is better)", "eval_modes": "modes captured",
                "eval_hq": "high-quality share", "eval_kl": "mode KL to uniform",
                "eval_classes": "classes covered", "eval_class_kl": "class KL to uniform",
                "eval_label_acc": "requested class recognised"}


def save_eval_curves(records: list[dict[str, Any]], path: str | Path) -> Path | None:
    """One small panel per ``eval_*`` metric against step; nothing when none was logged."""
    keys = [k for k in _EVAL_LABELS if any(k in r for r in records)]
    if not keys:
        return None
    fig = new_figure(3.2 * len(keys), 3.0)
    for i, key in enumerate(keys):
        ax = fig.add_subplot(1, len(keys), i + 1)
        x, y = _series(records, key)
        ax.plot(x, y, "o-", color="tab:purple", ms=3, lw=1.2)
        ax.set_title(_EVAL_LABELS[key], fontsize=10)
        ax.set_xlabel("step")
        ax.grid(True, alpha=0.25)
        ax.xaxis.set_major_locator(_integer_ticks(nbins=5))
    return save_figure(fig, path)
