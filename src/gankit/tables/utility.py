"""What a synthetic table is good for, and what it gives away: machine-learning efficacy
(SDGym's binary classification protocol) and the distance to the closest real record.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from gankit.errors import GankitError
from gankit.tables.columns import ColumnInfo, category_codes, numeric_values
from gankit.tables.quality import prepared_tables

#: SDGym's binary classifiers (``sdgym/evaluate.py``), by name: class and keyword arguments
CLASSIFIERS: dict[str, tuple[str, dict[str, Any]]] = {
    "decision_tree": ("sklearn.tree.DecisionTreeClassifier",
                      {"max_depth": 15, "class_weight": "balanced"}),
    "adaboost": ("sklearn.ensemble.AdaBoostClassifier", {}),
    "logistic_regression": ("sklearn.linear_model.LogisticRegression",
                            {"solver": "lbfgs", "class_weight": "balanced", "max_iter": 50}),
    "mlp": ("sklearn.neural_network.MLPClassifier",
            {"hidden_layer_sizes": (50,), "max_iter": 50}),
}
#: rows SDGym keeps of each split (a shuffle, then the first ones)
EFFICACY_ROWS = 50_000


def _range(info: ColumnInfo) -> tuple[float, float]:
    """A numeric column's real training range, its width never 0."""
    low = 0.0 if info.minimum is None else float(info.minimum)
    high = low + 1.0 if info.maximum is None else float(info.maximum)
    return low, high if high > low else low + 1.0


def _sample(frame: pd.DataFrame, rows: int | None, rng: np.random.Generator) -> pd.DataFrame:
    """A seeded shuffle of the rows, cut to ``rows`` (None: all)."""
    order = rng.permutation(len(frame))
    return frame.iloc[order[:rows] if rows is not None else order].reset_index(drop=True)


# ---- machine-learning efficacy -----------------------------------------------------------------

def efficacy(train: pd.DataFrame, synthetic: pd.DataFrame, test: pd.DataFrame,
             columns: Sequence[ColumnInfo], target: str, *, positive: str | None = None,
             reference: bool = True, max_rows: int | None = EFFICACY_ROWS,
             seed: int = 0) -> dict[str, Any]:
    """Binary F1 on the real ``test`` rows of SDGym's four classifiers fitted on ``synthetic``
    (and, with ``reference``, on the real ``train`` rows).

    The task is ``target == positive``; ``positive`` defaults to the rarest category of the
    real training rows (``>50K`` for adult), and any other values are the negative class.
    Rows without a target are left out. Features
    follow SDGym's FeatureMaker: a number with range [lo, hi] (the real training range) becomes
    ``log(max(x, 0.01))`` when lo >= 0 and hi >= 1000, else ``5 (x - lo) / (hi - lo)``
    (datetimes always the latter); a column with missing numbers also gets a 0/1 missing
    indicator and its missing values the mean of the fitting rows. A discrete column with at
    most two values (missing counts as one) is its 0/1 code, a wider one is one-hot over the
    values the fitting rows have (as ``handle_unknown="ignore"``). Each split is shuffled and
    cut to ``max_rows`` rows (SDGym: 50,000) with the seed, which also seeds the classifiers.
    Returns ``target``, ``positive`` and ``synthetic`` (and ``real``): classifier name → F1,
    plus ``mean``.
    """
    info = next((c for c in columns if c.name == target), None)
    if info is None:
        raise GankitError(f"The target {target!r} is not one of the table's columns "
                          f"({', '.join(c.name for c in columns)}).")
    if info.numeric:
        raise GankitError(f"Efficacy needs a categorical or boolean target, and {target!r} is "
                          f"{info.kind}.")
    if max_rows is not None and max_rows < 2:
        raise GankitError(f"max_rows must be at least 2, not {max_rows}.")
    train, synthetic, test = prepared_tables(columns, train=train, synthetic=synthetic,
                                             test=test)
    real_codes = category_codes(train[target], info)
    if positive is None:
        counts = np.bincount(real_codes[real_codes >= 0], minlength=len(info.categories))
        seen = np.flatnonzero(counts)
        if seen.size < 2:
            raise GankitError(f"The real training rows hold fewer than two values of the target "
                              f"{target!r}, so there is nothing to classify.")
        positive = info.categories[int(seen[np.argmin(counts[seen])])]
    elif positive not in info.categories:
        raise GankitError(f"The positive class {positive!r} is not a value of {target!r} "
                          f"({', '.join(info.categories)}).")
    label = info.categories.index(positive)
    features = [c for c in columns if c.name != target]
    rng = np.random.default_rng(seed)
    held, held_y = _labelled(test, info, label, max_rows, rng)
    if held_y.size == 0:
        raise GankitError(f"The test rows have no value of the target {target!r}.")
    out: dict[str, Any] = {"target": target, "positive": positive}
    for name, fitting in (("synthetic", synthetic), ("real", train)):
        if name == "real" and not reference:
            continue
        fit, fit_y = _labelled(fitting, info, label, max_rows, rng)
        if fit_y.size == 0:
            raise GankitError(f"The {name} rows have no value of the target {target!r}.")
        maker = _FeatureMaker(features, fit, held)
        out[name] = _score_classifiers(maker.transform(fit), fit_y, maker.transform(held),
                                       held_y, seed)
    return out


def _labelled(frame: pd.DataFrame, info: ColumnInfo, label: int, rows: int | None,
              rng: np.random.Generator) -> tuple[pd.DataFrame, np.ndarray]:
    codes = category_codes(frame[info.name], info)
    frame = _sample(frame[codes >= 0].reset_index(drop=True), rows, rng)
    return frame, (category_codes(frame[info.name], info) == label).astype(np.int64)


class _FeatureMaker:
    """SDGym's FeatureMaker, fitted on the rows a classifier learns from."""

    def __init__(self, columns: Sequence[ColumnInfo], fit: pd.DataFrame, test: pd.DataFrame):
        self.columns = list(columns)
        self.fills: dict[str, float] = {}
        #: a discrete column's one-hot levels; None: its 0/1 code
        self.levels: dict[str, np.ndarray | None] = {}
        for info in self.columns:
            if info.numeric:
                values = self._scaled(fit, info)
                present = values[~np.isnan(values)]
                self.fills[info.name] = float(present.mean()) if present.size else 0.0
                continue
            size = len(info.categories)
            codes = self._codes(fit, info)
            missing = (codes == size).any() or (self._codes(test, info) == size).any()
            self.levels[info.name] = None if size + missing <= 2 else np.unique(codes)

    @staticmethod
    def _codes(frame: pd.DataFrame, info: ColumnInfo) -> np.ndarray:
        codes = category_codes(frame[info.name], info)
        return np.where(codes < 0, len(info.categories), codes)

    @staticmethod
    def _scaled(frame: pd.DataFrame, info: ColumnInfo) -> np.ndarray:
        values = numeric_values(frame[info.name], info)
        low, high = _range(info)
        if info.kind != "datetime" and low >= 0 and high >= 1e3:
            return np.log(np.maximum(values, 1e-2))
        return (values - low) / (high - low) * 5.0

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        parts = []
        for info in self.columns:
            if info.numeric:
                values = self._scaled(frame, info)
                missing = np.isnan(values)
                parts.append(np.where(missing, self.fills[info.name], values)[:, None])
                if info.missing > 0:
                    parts.append(missing[:, None].astype(np.float64))
                continue
            codes, levels = self._codes(frame, info), self.levels[info.name]
            if levels is None:
                parts.append(codes[:, None].astype(np.float64))
            else:
                parts.append((codes[:, None] == levels[None, :]).astype(np.float64))
        return np.hstack(parts)


def _classifier(name: str, seed: int) -> Any:
    import importlib

    path, kwargs = CLASSIFIERS[name]
    module, cls = path.rsplit(".", 1)
    kwargs = dict(kwargs)
    if name != "logistic_regression":
        kwargs["random_state"] = seed
    return getattr(importlib.import_module(module), cls)(**kwargs)


def _score_classifiers(x: np.ndarray, y: np.ndarray, test_x: np.ndarray, test_y: np.ndarray,
                       seed: int) -> dict[str, float]:
    """F1 of each classifier fitted on (x, y); one seen class predicts that class (SDGym)."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.metrics import f1_score

    scores = {}
    for name in CLASSIFIERS:
        if np.unique(y).size == 1:
            predicted = np.full(len(test_y), y[0])
        else:
            model = _classifier(name, seed)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                model.fit(x, y)
            predicted = model.predict(test_x)
        scores[name] = float(f1_score(test_y, predicted, average="binary", zero_division=0.0))
    scores["mean"] = float(np.mean(list(scores.values())))
    return scores


# ---- privacy: distance to the closest record ---------------------------------------------------

def distance_to_closest_record(train: pd.DataFrame, synthetic: pd.DataFrame,
                               holdout: pd.DataFrame, columns: Sequence[ColumnInfo], *,
                               rows: int = 5_000, seed: int = 0) -> dict[str, Any]:
    """How close synthetic rows come to the real training rows, against real held-out rows.

    For a seeded sample of up to ``rows`` synthetic rows, and as many ``holdout`` rows, the
    distance to the nearest training row: the root mean over columns of the squared column
    differences, a number scaled by the real training range (|x - y| / (max - min)), a category
    (missing is one) 0 when equal and 1 when not, and a missing number 1 away from a present one
    plus its scaled gap to mid-range. So 0 is an exact copy and 1 is every column maximally
    different. Returns for ``synthetic`` and ``holdout`` the ``median``, ``p5`` (5th percentile)
    and ``rows`` of the sampled distances, ``copies``: the share of all synthetic rows that equal
    a training row in every column, and ``holdout_copies``: the same for the held-out rows (real
    tables repeat rows too).
    """
    from sklearn.neighbors import NearestNeighbors

    if rows < 1:
        raise GankitError(f"rows must be a positive number of rows, not {rows}.")
    train, synthetic, holdout = prepared_tables(columns, train=train, synthetic=synthetic,
                                                holdout=holdout)
    rng = np.random.default_rng(seed)
    picked = [_sample(frame, rows, rng) for frame in (synthetic, holdout)]
    encoded = _distance_features(columns, [train, *picked])
    reference, queries = encoded[0], encoded[1:]
    neighbours = NearestNeighbors(n_neighbors=1, algorithm="brute", n_jobs=1).fit(reference)
    out: dict[str, Any] = {}
    for name, query in zip(("synthetic", "holdout"), queries, strict=True):
        nearest = neighbours.kneighbors(query, return_distance=False)[:, 0]
        # recomputed from the differences, so that a copied row is exactly 0
        gaps = np.sqrt(((query - reference[nearest]) ** 2).sum(axis=1) / len(columns))
        out[name] = {"median": float(np.median(gaps)), "p5": float(np.percentile(gaps, 5)),
                     "rows": len(query)}
    seen = pd.Index(pd.util.hash_pandas_object(train, index=False))
    out["copies"] = float(pd.util.hash_pandas_object(synthetic, index=False).isin(seen).mean())
    out["holdout_copies"] = float(
        pd.util.hash_pandas_object(holdout, index=False).isin(seen).mean())
    return out


def _distance_features(columns: Sequence[ColumnInfo], frames: list[pd.DataFrame]
                       ) -> list[np.ndarray]:
    parts: list[list[np.ndarray]] = [[] for _ in frames]
    half = np.sqrt(0.5)  # two one-hot entries of sqrt(1/2) apart: a squared distance of 1
    for info in columns:
        if info.numeric:
            low, high = _range(info)
            values = [(numeric_values(f[info.name], info) - low) / (high - low)
                      for f in frames]
            missing = any(np.isnan(v).any() for v in values)
            for part, v in zip(parts, values, strict=True):
                part.append(np.where(np.isnan(v), 0.5, v)[:, None])
                if missing:
                    part.append(np.isnan(v)[:, None].astype(np.float64))
            continue
        size = len(info.categories)
        codes = [category_codes(f[info.name], info) for f in frames]
        levels = size + int(any((c < 0).any() for c in codes))
        for part, c in zip(parts, codes, strict=True):
            part.append(np.eye(levels)[np.where(c < 0, size, c)] * half)
    return [np.hstack(p) for p in parts]
