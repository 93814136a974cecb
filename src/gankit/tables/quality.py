"""How alike a synthetic table is to the real one: SDMetrics' single-table quality report
(column shapes and column-pair trends), recomputed with numpy and pandas.

Column shapes: numeric and datetime columns score ``1 - D`` (the two-sample Kolmogorov-Smirnov
statistic, values rounded to 14 decimals, missing values dropped), categorical and boolean
columns ``1 - TVD`` of their category frequencies (missing dropped; a category only the
synthetic rows have counts 1e-6 in the real ones, as SDMetrics' regularisation does).

Column-pair trends, over every pair in column order: two numeric (or datetime) columns score
``1 - |r_real - r_synth| / 2`` (Pearson, on the rows where both are present); any pair with a
discrete column scores ``1 - TVD`` of the two normalised contingency tables (missing is a value
of its own). The numeric column of a mixed pair is cut into 10 equal-width bins (NumPy's
``histogram_bin_edges``; ``digitize`` puts the maximum and missing values in an eleventh), each
table cut at its own edges, as SDMetrics does. Like SDMetrics 0.32's report, a pair counts only
when the real table shows a trend: ``|r_real| > correlation_threshold`` (0.5) or Cramér's V of
the real contingency table above ``association_threshold`` (0.3); thresholds of 0 count every
pair (the report's behaviour before SDMetrics added them).

The score of each property is the mean of its (counted, defined) scores, and ``quality`` the
mean of the two properties. SDMetrics scores a contingency pair on a fresh unseeded sample of
50,000 rows when a table is longer; here every pair uses all rows unless ``max_rows`` is set,
which draws one seeded sample of that many rows of each table for all contingency pairs.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import replace
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd

from gankit.errors import GankitError
from gankit.tables.columns import (
    OTHER,
    ColumnInfo,
    category_codes,
    column_of,
    numeric_values,
    prepare,
)

#: decimals numbers are rounded to before the Kolmogorov-Smirnov statistic (SDMetrics')
KS_DECIMALS = 14
#: SDMetrics' report thresholds on the real table's trend
CORRELATION_THRESHOLD = 0.5
ASSOCIATION_THRESHOLD = 0.3
_BINS = 10
_REGULARISATION = 1e-6


def prepared_tables(columns: Sequence[ColumnInfo], **frames: pd.DataFrame
                    ) -> list[pd.DataFrame]:
    """Each named frame's ``columns`` as :func:`prepare` gives them, except that a category the
    column description lacks (a held-out row's value the training rows never had) is missing;
    one sentence for a frame that is not a DataFrame, has no rows or lacks a column."""
    if not columns:
        raise GankitError("Scoring a table needs its column descriptions, and none were given.")
    # an uncapped discrete column sends unknown values to an OTHER it does not have, then NA
    loose = [replace(c, categories=[*c.categories, OTHER])
             if not c.numeric and OTHER not in c.categories else c for c in columns]
    out = []
    for name, frame in frames.items():
        if not isinstance(frame, pd.DataFrame):
            raise GankitError(f"The {name} table must be a pandas DataFrame, not "
                              f"{type(frame).__name__}.")
        if len(frame) == 0:
            raise GankitError(f"The {name} table has no rows, so it cannot be scored.")
        frame = frame.reset_index(drop=True)
        clean = prepare(frame, loose)
        for info, wide in zip(columns, loose, strict=True):
            if wide is info:
                continue
            unknown = category_codes(column_of(frame, info.name), wide) == len(info.categories)
            if unknown.any():
                values = clean[info.name].to_numpy(dtype=object).copy()
                values[unknown] = None
                clean[info.name] = pd.Series(values, dtype=clean[info.name].dtype)
        out.append(clean)
    return out


# ---- single columns ----------------------------------------------------------------------------

def ks_complement(real: pd.Series, synthetic: pd.Series) -> float:
    """``1 - D`` of the two columns' Kolmogorov-Smirnov statistic (missing values dropped,
    datetimes as nanoseconds, numbers rounded to 14 decimals); NaN when a side is empty."""
    return 1.0 - _ks_statistic(_sortable(real), _sortable(synthetic))


def tv_complement(real: pd.Series, synthetic: pd.Series) -> float:
    """``1 - TVD`` of the two columns' value frequencies (missing values dropped); NaN when a
    side has no values."""
    real, synthetic = pd.Series(real).dropna(), pd.Series(synthetic).dropna()
    codes, _ = pd.factorize(pd.concat([real, synthetic], ignore_index=True))
    size = int(codes.max()) + 1 if len(codes) else 0
    return _tv_complement(np.bincount(codes[:len(real)], minlength=size),
                          np.bincount(codes[len(real):], minlength=size))


def _sortable(series: pd.Series) -> np.ndarray:
    series = pd.Series(series).dropna()
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        return series.astype("datetime64[ns]").to_numpy().view(np.int64)
    values = series.to_numpy(dtype=np.float64)
    return np.round(values, KS_DECIMALS)


def _ks_statistic(a: np.ndarray, b: np.ndarray) -> float:
    if a.size == 0 or b.size == 0:
        return float("nan")
    a, b = np.sort(a), np.sort(b)
    both = np.concatenate([a, b])
    gap = (np.searchsorted(a, both, side="right") / a.size
           - np.searchsorted(b, both, side="right") / b.size)
    return float(np.abs(gap).max())


def _tv_complement(real: np.ndarray, synthetic: np.ndarray) -> float:
    if real.sum() == 0 or synthetic.sum() == 0:
        return float("nan")
    real = real + _REGULARISATION * ((real == 0) & (synthetic > 0))
    return float(1.0 - 0.5 * np.abs(synthetic / synthetic.sum() - real / real.sum()).sum())


# ---- the report --------------------------------------------------------------------------------

def quality(real: pd.DataFrame, synthetic: pd.DataFrame, columns: Sequence[ColumnInfo], *,
            correlation_threshold: float = CORRELATION_THRESHOLD,
            association_threshold: float = ASSOCIATION_THRESHOLD,
            max_rows: int | None = None, seed: int = 0) -> dict[str, Any]:
    """SDMetrics' single-table quality of ``synthetic`` against ``real`` (see the module).

    Returns ``columns`` (name → shape score), ``pairs`` (one dict per column pair: ``columns``,
    ``metric``, ``score``, ``real`` (the real table's correlation or Cramér's V) and
    ``counted``: whether it enters the mean), ``column_shapes``, ``column_pair_trends`` and
    ``quality``. A pair below the thresholds keeps its score (SDMetrics reports NaN) but is not
    counted; a property with nothing to average is NaN and ``quality`` the other one.
    """
    for name, value in (("correlation_threshold", correlation_threshold),
                        ("association_threshold", association_threshold)):
        if not 0.0 <= value <= 1.0:
            raise GankitError(f"{name} must be between 0 and 1, not {value}.")
    if max_rows is not None and max_rows < 1:
        raise GankitError(f"max_rows must be a positive number of rows, not {max_rows}.")
    real, synthetic = prepared_tables(columns, real=real, synthetic=synthetic)
    shapes = {info.name: _shape(real[info.name], synthetic[info.name], info)
              for info in columns}
    pairs = _pairs(real, synthetic, columns, correlation_threshold, association_threshold,
                   max_rows, seed)
    shape_score = _mean(list(shapes.values()))
    trend_score = _mean([p["score"] for p in pairs if p["counted"]])
    return {"columns": shapes, "pairs": pairs, "column_shapes": shape_score,
            "column_pair_trends": trend_score, "quality": _mean([shape_score, trend_score])}


def _mean(values: list[float]) -> float:
    values = [v for v in values if not np.isnan(v)]
    return float(np.mean(values)) if values else float("nan")


def _shape(real: pd.Series, synthetic: pd.Series, info: ColumnInfo) -> float:
    if info.numeric:
        return ks_complement(real, synthetic)
    size = len(info.categories)
    counts = [np.bincount(c[c >= 0], minlength=size)
              for c in (category_codes(real, info), category_codes(synthetic, info))]
    return _tv_complement(*counts)


def _numbers(frame: pd.DataFrame, info: ColumnInfo) -> np.ndarray:
    return numeric_values(frame[info.name], info)


def _discrete_codes(frame: pd.DataFrame, info: ColumnInfo) -> tuple[np.ndarray, int]:
    """Codes 0..size-1 of a column for contingency tables: categories and missing, or the
    numeric column's 10-bin ``digitize`` (0..11) at the frame's own edges."""
    if info.numeric:
        values = _numbers(frame, info)
        edges = np.histogram_bin_edges(values[~np.isnan(values)], bins=_BINS)
        return np.digitize(values, edges).astype(np.int64), _BINS + 2
    codes = category_codes(frame[info.name], info)
    size = len(info.categories)
    return np.where(codes < 0, size, codes), size + 1


def _rows(length: int, max_rows: int | None, rng: np.random.Generator) -> np.ndarray | None:
    if max_rows is None or length <= max_rows:
        return None
    return np.sort(rng.choice(length, size=max_rows, replace=False))


def _pairs(real: pd.DataFrame, synthetic: pd.DataFrame, columns: Sequence[ColumnInfo],
           correlation_threshold: float, association_threshold: float,
           max_rows: int | None, seed: int) -> list[dict[str, Any]]:
    numeric = [info.name for info in columns if info.numeric]
    correlations = []
    for frame in (real, synthetic):
        values = pd.DataFrame({info.name: _numbers(frame, info) for info in columns
                               if info.numeric})
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)
            correlations.append(values.corr(method="pearson") if numeric else None)
    sample = None
    if max_rows is not None and max(len(real), len(synthetic)) > max_rows:
        rng = np.random.default_rng(seed)
        sample = (_rows(len(real), max_rows, rng), _rows(len(synthetic), max_rows, rng))
    coded = []
    for frame, rows in zip((real, synthetic), sample or (None, None), strict=True):
        codes = {info.name: _discrete_codes(frame, info) for info in columns}
        if rows is not None:
            codes = {k: (c[rows], size) for k, (c, size) in codes.items()}
        coded.append(codes)
    pairs = []
    for first, second in combinations(columns, 2):
        names = [first.name, second.name]
        if first.numeric and second.numeric:
            r, s = (float(c.loc[first.name, second.name]) for c in correlations)
            score = 1.0 - abs(r - s) / 2.0
            counted = not np.isnan(score) and abs(r) > correlation_threshold
            pairs.append({"columns": names, "metric": "CorrelationSimilarity", "score": score,
                          "real": r, "counted": counted})
            continue
        score, association = _contingency(coded[0], coded[1], first.name, second.name)
        counted = association > association_threshold if association_threshold > 0 else True
        pairs.append({"columns": names, "metric": "ContingencySimilarity", "score": score,
                      "real": association, "counted": bool(counted)})
    return pairs


def _contingency(real: dict[str, tuple[np.ndarray, int]],
                 synthetic: dict[str, tuple[np.ndarray, int]], first: str, second: str
                 ) -> tuple[float, float]:
    """``1 - TVD`` of the pair's normalised contingency tables, and Cramér's V of the real one
    (NaN when it has fewer than two rows or columns)."""
    tables = []
    for codes in (real, synthetic):
        (a, size_a), (b, size_b) = codes[first], codes[second]
        counts = np.bincount(a * size_b + b, minlength=size_a * size_b)
        tables.append(counts.reshape(size_a, size_b))
    observed = tables[0]
    score = 1.0 - 0.5 * np.abs(observed / observed.sum() - tables[1] / tables[1].sum()).sum()
    return float(score), _cramers_v(observed)


def _cramers_v(table: np.ndarray) -> float:
    table = table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0].astype(np.float64)
    if min(table.shape) < 2:
        return float("nan")
    total = table.sum()
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / total
    chi2 = ((table - expected) ** 2 / expected).sum()
    return float(np.sqrt(chi2 / total / (min(table.shape) - 1)))


# ---- detection ---------------------------------------------------------------------------------

def detection(real: pd.DataFrame, synthetic: pd.DataFrame, columns: Sequence[ColumnInfo], *,
              folds: int = 3, max_rows: int | None = 50_000, seed: int = 0) -> dict[str, Any]:
    """SDMetrics' LogisticDetection: how badly a logistic regression tells the tables apart.

    Numbers (datetimes as nanoseconds) are filled with the real table's mean, booleans are 0/1
    filled with the real mode, categories are one-hot with missing as a category of its own (as
    SDMetrics' HyperTransformer does, though SDMetrics leaves boolean columns out). Each of
    ``folds`` seeded stratified folds robust-scales the features, fits
    ``LogisticRegression(solver="lbfgs")`` and scores ``2 * max(AUC, 0.5) - 1`` on the held-out
    rows; ``score`` is 1 minus their mean (1: indistinguishable, 0: told apart perfectly), and
    ``auc`` the folds' AUCs. Tables longer than ``max_rows`` are cut to a seeded sample of that
    many rows (None: all rows).
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import RobustScaler

    if folds < 2:
        raise GankitError(f"Detection needs at least 2 folds, not {folds}.")
    if max_rows is not None and max_rows < folds:
        raise GankitError(f"max_rows must be at least the {folds} folds, not {max_rows}.")
    real, synthetic = prepared_tables(columns, real=real, synthetic=synthetic)
    rng = np.random.default_rng(seed)
    real, synthetic = (frame if (rows := _rows(len(frame), max_rows, rng)) is None
                       else frame.iloc[rows].reset_index(drop=True)
                       for frame in (real, synthetic))
    if min(len(real), len(synthetic)) < folds:
        raise GankitError(f"Detection with {folds} folds needs at least {folds} rows in each "
                          f"table, and one has {min(len(real), len(synthetic))}.")
    x = np.concatenate(_detection_features(real, synthetic, columns))
    y = np.concatenate([np.ones(len(real)), np.zeros(len(synthetic))])
    aucs = []
    split = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for train, test in split.split(x, y):
        model = make_pipeline(RobustScaler(), LogisticRegression(solver="lbfgs"))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(x[train], y[train])
        aucs.append(float(roc_auc_score(y[test], model.predict_proba(x[test])[:, 1])))
    score = 1.0 - float(np.mean([2.0 * max(auc, 0.5) - 1.0 for auc in aucs]))
    return {"score": score, "auc": aucs, "rows": {"real": len(real), "synthetic": len(synthetic)}}


def _detection_features(real: pd.DataFrame, synthetic: pd.DataFrame,
                        columns: Sequence[ColumnInfo]) -> tuple[np.ndarray, np.ndarray]:
    parts: tuple[list[np.ndarray], list[np.ndarray]] = ([], [])
    for info in columns:
        if info.kind == "categorical":
            codes = [category_codes(f[info.name], info) for f in (real, synthetic)]
            size = len(info.categories)
            levels = size + int(any((c < 0).any() for c in codes))
            for part, c in zip(parts, codes, strict=True):
                part.append(np.eye(levels)[np.where(c < 0, size, c)])
            continue
        if info.kind == "boolean":
            values = [category_codes(f[info.name], info).astype(np.float64)
                      for f in (real, synthetic)]
            present = values[0][values[0] >= 0]
            fill = float(present.mean() > 0.5) if present.size else 0.0
            values = [np.where(v < 0, fill, v) for v in values]
        else:
            values = [_numbers(f, info) for f in (real, synthetic)]
            fill = float(np.nanmean(values[0])) if (~np.isnan(values[0])).any() else 0.0
            values = [np.where(np.isnan(v), fill, v) for v in values]
        for part, v in zip(parts, values, strict=True):
            part.append(v[:, None])
    return np.hstack(parts[0]), np.hstack(parts[1])
