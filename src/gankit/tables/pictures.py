"""Pictures of a table run: each column's distribution, real against synthetic (histograms for
numeric columns, bars for categories), and the column associations of both tables side by side
with their difference.

Associations put every pair of columns on one 0..1 scale: |Pearson correlation| between numeric
columns (datetimes as numbers, booleans as 0/1), Cramér's V between categorical ones, and the
correlation ratio η between a categorical and a numeric column.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from gankit.viz import new_figure, save_figure

if TYPE_CHECKING:
    import pandas as pd

    from gankit.data import Dataset
    from gankit.recipes.tabular import TableRecipe

#: rows drawn for each picture, and real rows shown beside them
ROWS = 2000
#: columns in a progress picture (the final one shows them all)
PROGRESS_COLUMNS = 12
_BARS = 12  # categories shown per column (the most frequent)


def _numbers(series: pd.Series) -> np.ndarray:
    import pandas as pd

    if pd.api.types.is_datetime64_any_dtype(series):
        values = series.astype("int64").to_numpy(dtype=float)
        return np.where(series.isna().to_numpy(), np.nan, values)
    return pd.to_numeric(series.astype("float64"), errors="coerce").to_numpy(dtype=float)


def _labels(series: pd.Series) -> np.ndarray:
    """A categorical column's values as strings, missing ones as ``<missing>``."""
    texts = series.astype(object).where(series.notna(), "<missing>")
    return np.asarray([str(v) for v in texts], dtype=object)


def _is_numeric(series: pd.Series) -> bool:
    import pandas as pd

    return (pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)) \
        or pd.api.types.is_datetime64_any_dtype(series)


def draw_column(ax: Any, name: str, real: pd.Series, fake: pd.Series) -> None:
    """One column's distribution: real (grey) against synthetic (orange)."""
    if _is_numeric(real):
        r, f = _numbers(real), _numbers(fake)
        r, f = r[np.isfinite(r)], f[np.isfinite(f)]
        both = np.concatenate([r, f])
        bins = np.histogram_bin_edges(both, bins=30) if len(both) else 10
        ax.hist(r, bins=bins, density=True, alpha=0.5, color="0.4", label="real")
        ax.hist(f, bins=bins, density=True, alpha=0.5, color="tab:orange", label="synthetic")
    else:
        import pandas as pd

        r = pd.Series(_labels(real)).value_counts(normalize=True)
        f = pd.Series(_labels(fake)).value_counts(normalize=True)
        cats = list(r.index[:_BARS])
        x = np.arange(len(cats))
        ax.bar(x - 0.2, [r.get(c, 0.0) for c in cats], 0.4, color="0.4", label="real")
        ax.bar(x + 0.2, [f.get(c, 0.0) for c in cats], 0.4, color="tab:orange",
               label="synthetic")
        ax.set_xticks(x, [c[:10] for c in cats], rotation=60, fontsize=6)
    ax.set_title(name, fontsize=8)
    ax.tick_params(labelsize=6)


def save_columns(real: pd.DataFrame, fake: pd.DataFrame, path: Path, title: str,
                 limit: int | None = None) -> Path:
    """A grid of :func:`draw_column` panels, one per column (the first ``limit``)."""
    names = list(real.columns)[:limit]
    ncol = min(4, len(names))
    nrow = math.ceil(len(names) / ncol)
    fig = new_figure(3.0 * ncol, 2.3 * nrow + 0.4)
    axes = fig.subplots(nrow, ncol, squeeze=False)
    for ax, name in zip(axes.flat, names, strict=False):
        draw_column(ax, name, real[name], fake[name])
    for ax in list(axes.flat)[len(names):]:
        ax.set_axis_off()
    axes.flat[0].legend(fontsize=6)
    fig.suptitle(title, fontsize=10)
    return save_figure(fig, path)


def associations(frame: pd.DataFrame) -> np.ndarray:
    """The ``(C, C)`` association matrix of the columns (see the module docstring)."""
    cols = list(frame.columns)
    numeric = {c: _is_numeric(frame[c]) for c in cols}
    values = {c: _numbers(frame[c]) if numeric[c] else
              _labels(frame[c]) for c in cols}
    out = np.eye(len(cols))
    for i, a in enumerate(cols):
        for j in range(i + 1, len(cols)):
            b = cols[j]
            if numeric[a] and numeric[b]:
                v = _pearson(values[a], values[b])
            elif not numeric[a] and not numeric[b]:
                v = _cramers_v(values[a], values[b])
            else:
                cat, num = (values[a], values[b]) if not numeric[a] else (values[b], values[a])
                v = _eta(cat, num)
            out[i, j] = out[j, i] = v
    return out


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 3 or x[ok].std() == 0 or y[ok].std() == 0:
        return 0.0
    return float(abs(np.corrcoef(x[ok], y[ok])[0, 1]))


def _cramers_v(x: np.ndarray, y: np.ndarray) -> float:
    import pandas as pd

    table = pd.crosstab(x, y).to_numpy(dtype=float)
    if min(table.shape) < 2:
        return 0.0
    n = table.sum()
    expected = table.sum(1, keepdims=True) * table.sum(0, keepdims=True) / n
    chi2 = ((table - expected) ** 2 / expected).sum()
    return float(math.sqrt(chi2 / n / (min(table.shape) - 1)))


def _eta(cat: np.ndarray, num: np.ndarray) -> float:
    ok = np.isfinite(num)
    cat, num = cat[ok], num[ok]
    if len(num) < 3 or num.std() == 0:
        return 0.0
    mean = num.mean()
    groups = [num[cat == c] for c in np.unique(cat)]
    between = sum(len(g) * (g.mean() - mean) ** 2 for g in groups)
    return float(math.sqrt(between / ((num - mean) ** 2).sum()))


def save_associations(real: pd.DataFrame, fake: pd.DataFrame, path: Path) -> Path:
    """Real and synthetic association matrices side by side, and their absolute difference."""
    a, b = associations(real), associations(fake)
    names = [str(c)[:14] for c in real.columns]
    fig = new_figure(15.0, 5.2)
    axes = fig.subplots(1, 3)
    for ax, matrix, title in zip(axes, (a, b, np.abs(a - b)),
                                 ("real", "synthetic", "|difference|"), strict=True):
        image = ax.imshow(matrix, vmin=0.0, vmax=1.0, cmap="viridis")
        ax.set_title(title, fontsize=10)
        ax.set_xticks(range(len(names)), names, rotation=90, fontsize=6)
        ax.set_yticks(range(len(names)), names, fontsize=6)
    fig.colorbar(image, ax=axes, shrink=0.8, label="association")
    return save_figure(fig, path)


class TablePictures:
    """What a table run shows: column distributions at each sample interval; at the end all
    columns (``columns_final.png``) and the associations (``associations_final.png``)."""

    def __init__(self, recipe: TableRecipe, dataset: Dataset, seed: int) -> None:
        self.recipe, self.seed = recipe, seed
        table = dataset.table
        self.real = table.sample(min(ROWS, len(table)), random_state=seed) \
            if table is not None else None

    def _fake(self) -> pd.DataFrame:
        return self.recipe.sample_table(len(self.real), seed=self.seed + 1)

    def progress(self, path: Path, step: int) -> Path:
        return save_columns(self.real, self._fake(), path, f"step {step}: real and synthetic",
                            PROGRESS_COLUMNS)

    def final(self, run_dir: Path) -> list[Path]:
        fake = self._fake()
        return [save_columns(self.real, fake, run_dir / "columns_final.png",
                             "real and synthetic columns"),
                save_associations(self.real, fake, run_dir / "associations_final.png")]
