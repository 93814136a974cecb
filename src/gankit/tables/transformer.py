"""CTGAN's reversible table encoding (Xu et al. 2019): mode-specific normalisation of numbers,
one-hot categories, and the layout the generator's output heads follow.

A continuous, integer or datetime value ``x`` drawn to mode ``k`` of a variational Gaussian
mixture becomes the scalar ``(x - mu_k) / (4 sigma_k)`` (clipped to [-0.99, 0.99]) and the
one-hot of ``k``. The column's smallest or largest value, when it holds at least
:data:`POINT_MASS` of the column (the zeros of a zero-inflated amount, a cap), is a mode of
width 0 of its own: its scalar is 0 and it decodes to exactly that value, where a Gaussian mode
would smear it into values on one side that never occur (the mixture is fitted to the other
values; a heap inside the range gets a narrow Gaussian mode of its own anyway). A numeric
column with missing values gets a 2-wide present/missing one-hot after that. Categorical and
boolean columns are one-hot, with a :data:`MISSING` category when they have missing values.
After fitting everything lives in plain arrays, so :meth:`TableTransformer.state` is JSON and
:meth:`TableTransformer.from_state` rebuilds a transformer that encodes and decodes bit for bit
like the fitted one.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from gankit.errors import GankitError
from gankit.tables.columns import (
    MISSING,
    ColumnInfo,
    category_codes,
    column_of,
    numeric_values,
)

STATE_FORMAT = "gankit.tables.transformer/1"
#: a mixture component is kept when its weight is above this
MODE_WEIGHT = 0.005
#: a numeric column's smallest or largest value holding at least this share of its values is a
#: mode of its own, of width 0, decoded exactly (the zeros of capital-gain and capital-loss)
POINT_MASS = 0.05
#: encoded scalars are clipped to this inside the generator's tanh range
SCALAR_CLIP = 0.99
_DATE_STEPS = (86_400 * 10**9, 3_600 * 10**9, 60 * 10**9, 10**9, 10**6, 10**3)


@dataclass(frozen=True)
class Span:
    """A slice ``[start, start + width)`` of the encoded row: a ``scalar`` (tanh) or a
    ``onehot`` block (softmax) of the column ``columns[column]``."""

    start: int
    width: int
    kind: Literal["scalar", "onehot"]
    column: int


@dataclass(frozen=True)
class DiscreteSpan:
    """The one-hot block of a categorical or boolean column, which the conditional vector picks
    from: ``columns[column]``, at ``[start, start + width)``."""

    column: int
    start: int
    width: int


@dataclass(frozen=True)
class Modes:
    """The kept components of one numeric column's mixture (sorted by mean), in the column's
    units (datetimes in ns); ``fill`` stands in for missing values and ``step`` is the grid
    decoded values are rounded to (1 for integers, a time unit for datetimes, 0 for none)."""

    means: np.ndarray
    stds: np.ndarray
    weights: np.ndarray
    fill: float
    step: int

    def to_json(self) -> dict[str, Any]:
        return {"means": self.means.tolist(), "stds": self.stds.tolist(),
                "weights": self.weights.tolist(), "fill": float(self.fill), "step": self.step}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Modes:
        return cls(np.asarray(data["means"], dtype=np.float64),
                   np.asarray(data["stds"], dtype=np.float64),
                   np.asarray(data["weights"], dtype=np.float64),
                   float(data["fill"]), int(data["step"]))

    def posterior(self, x: np.ndarray) -> np.ndarray:
        """``(N, K)`` probabilities of each kept mode given the values ``x``: a value at a point
        mass (a mode of width 0) belongs to it; any other value to the Gaussian modes."""
        point = self.stds == 0
        p = np.zeros((x.shape[0], len(self.means)))
        if (~point).any():
            stds = self.stds[~point]
            z = (x[:, None] - self.means[~point]) / stds
            logp = np.log(self.weights[~point]) - np.log(stds) - 0.5 * z * z
            logp -= logp.max(axis=1, keepdims=True)
            gauss = np.exp(logp)
            p[:, ~point] = gauss / gauss.sum(axis=1, keepdims=True)
        for k in np.flatnonzero(point):
            at = x == self.means[k]
            p[at] = 0.0
            p[at, k] = 1.0
        return p


class TableTransformer:
    """Encodes a table into CTGAN's float32 matrix and decodes any real matrix back.

    Build one with :meth:`fit` (or :meth:`from_state`); ``spans`` give the output layout,
    ``discrete_spans`` the blocks of the conditional vector and ``output_width`` the width.
    """

    def __init__(self, columns: Sequence[ColumnInfo], modes: Sequence[Modes | None]) -> None:
        self.columns = list(columns)
        self.modes = list(modes)
        self.spans: list[Span] = []
        self.discrete_spans: list[DiscreteSpan] = []
        self._blocks: list[tuple[int, int]] = []  # per column: start, width of all its spans
        start = 0
        for index, (info, mode) in enumerate(zip(self.columns, self.modes, strict=True)):
            first = start
            if info.numeric:
                assert mode is not None
                self.spans.append(Span(start, 1, "scalar", index))
                self.spans.append(Span(start + 1, len(mode.means), "onehot", index))
                start += 1 + len(mode.means)
                if info.missing > 0:
                    self.spans.append(Span(start, 2, "onehot", index))
                    start += 2
            else:
                width = len(_categories(info))
                self.spans.append(Span(start, width, "onehot", index))
                self.discrete_spans.append(DiscreteSpan(index, start, width))
                start += width
            self._blocks.append((first, start - first))
        self.output_width = start

    # ---- fitting -------------------------------------------------------------------------------

    @classmethod
    def fit(cls, frame: pd.DataFrame, columns: Sequence[ColumnInfo], seed: int = 0,
            max_modes: int = 10, fit_rows: int = 50_000) -> TableTransformer:
        """Fit a Bayesian Gaussian mixture (Dirichlet process, ``max_modes`` components) to
        each numeric column, on at most ``fit_rows`` of its values drawn with ``seed``."""
        if max_modes < 1 or fit_rows < 1:
            raise GankitError(f"max_modes and fit_rows must be positive, not {max_modes} and "
                              f"{fit_rows}.")
        rng = np.random.default_rng(seed)
        modes: list[Modes | None] = []
        for info in columns:
            series = column_of(frame, info.name)
            if not info.numeric:
                category_codes(series, info)  # unseen values fail here rather than later
                modes.append(None)
                continue
            values = numeric_values(series, info)
            present = values[~np.isnan(values)]
            if present.size == 0:
                raise GankitError(f"Column {info.name!r} has no values to fit (all missing).")
            modes.append(_fit_modes(present, info, rng, seed, max_modes, fit_rows))
        return cls(columns, modes)

    # ---- encoding ------------------------------------------------------------------------------

    def transform(self, frame: pd.DataFrame, seed: int = 0) -> np.ndarray:
        """The float32 ``(N, output_width)`` encoding of ``frame``; the modes are drawn from
        the posterior with a generator seeded by ``seed``, so the result is deterministic."""
        rows = len(frame)
        out = np.zeros((rows, self.output_width), dtype=np.float32)
        every = np.arange(rows)
        rng = np.random.default_rng(seed)
        for info, mode, (start, _) in zip(self.columns, self.modes, self._blocks, strict=True):
            series = column_of(frame, info.name)
            if not info.numeric:
                codes = category_codes(series, info)
                missing = codes < 0
                if missing.any():
                    if info.missing <= 0:
                        raise _unexpected_missing(info)
                    codes[missing] = len(info.categories)
                out[every, start + codes] = 1.0
                continue
            assert mode is not None
            x = numeric_values(series, info)
            missing = np.isnan(x)
            if missing.any() and info.missing <= 0:
                raise _unexpected_missing(info)
            x[missing] = mode.fill
            k = _draw(mode.posterior(x), rng)
            width = 4.0 * mode.stds[k]
            scalar = np.divide(x - mode.means[k], width, out=np.zeros_like(x), where=width > 0)
            out[:, start] = np.clip(scalar, -SCALAR_CLIP, SCALAR_CLIP)
            out[every, start + 1 + k] = 1.0
            if info.missing > 0:
                out[every, start + 1 + len(mode.means) + missing.astype(np.int64)] = 1.0
        return out

    def inverse(self, matrix: np.ndarray) -> pd.DataFrame:
        """The table a real ``(N, output_width)`` matrix stands for (a generator's raw output
        too): the argmax of each one-hot block, scalars clipped to [-1, 1], numbers clipped to
        each column's observed range; the original column names, order and kinds."""
        matrix = np.asarray(matrix)
        if matrix.ndim != 2 or matrix.shape[1] != self.output_width:
            raise GankitError(f"The matrix to decode has shape {matrix.shape}, and this table "
                              f"needs (rows, {self.output_width}).")
        if not np.isfinite(matrix).all():
            raise GankitError("The matrix to decode holds NaN or infinite values.")
        out: dict[str, Any] = {}
        for info, mode, (start, width) in zip(self.columns, self.modes, self._blocks,
                                              strict=True):
            block = matrix[:, start:start + width]
            if info.numeric:
                assert mode is not None
                out[info.name] = _decode_numeric(block, info, mode)
            else:
                code = np.argmax(block, axis=1)
                out[info.name] = _decode_discrete(code, info)
        return pd.DataFrame(out)

    def category_frequencies(self, data: pd.DataFrame | np.ndarray) -> list[np.ndarray]:
        """How often each category of each discrete column occurs (int64, one array per entry
        of ``discrete_spans``, :data:`MISSING` last when present), from a table or from its
        encoding; CTGAN's training-by-sampling draws conditions by their log-frequency."""
        counts = []
        for span in self.discrete_spans:
            info = self.columns[span.column]
            if isinstance(data, pd.DataFrame):
                codes = category_codes(column_of(data, info.name), info)
                codes[codes < 0] = len(info.categories)
            else:
                codes = np.argmax(np.asarray(data)[:, span.start:span.start + span.width], axis=1)
            counts.append(np.bincount(codes, minlength=span.width).astype(np.int64))
        return counts

    # ---- storing -------------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        """Everything the transformer knows, as plain JSON values."""
        return {"format": STATE_FORMAT, "columns": [c.to_json() for c in self.columns],
                "modes": [None if m is None else m.to_json() for m in self.modes]}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> TableTransformer:
        """The transformer :meth:`state` described, encoding and decoding identically."""
        if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
            found = state.get("format") if isinstance(state, dict) else type(state).__name__
            raise GankitError(f"The stored table transformer has format {found!r}, and this "
                              f"gankit reads {STATE_FORMAT!r}.")
        try:
            columns = [ColumnInfo.from_json(c) for c in state["columns"]]
            modes = [None if m is None else Modes.from_json(m) for m in state["modes"]]
            consistent = len(columns) == len(modes) and all(
                info.numeric == (mode is not None)
                for info, mode in zip(columns, modes, strict=True))
        except (KeyError, TypeError, ValueError) as exc:
            message = "The stored table transformer is malformed; fit it again."
            raise GankitError(message) from exc
        if not consistent:
            raise GankitError("The stored table transformer pairs columns and modes wrongly; "
                              "fit it again.")
        return cls(columns, modes)


def _categories(info: ColumnInfo) -> list[str]:
    """The one-hot categories of a discrete column: its own, then :data:`MISSING` if needed."""
    return info.categories + [MISSING] if info.missing > 0 else list(info.categories)


def _unexpected_missing(info: ColumnInfo) -> GankitError:
    return GankitError(f"Column {info.name!r} has missing values, which the table the "
                       "transformer was fitted on did not have.")


def _fit_modes(present: np.ndarray, info: ColumnInfo, rng: np.random.Generator, seed: int,
               max_modes: int, fit_rows: int) -> Modes:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.mixture import BayesianGaussianMixture

    values, counts = np.unique(present, return_counts=True)
    # a heap at the column's floor or ceiling (zero-inflated amounts, capped values)
    heaped = counts >= POINT_MASS * present.size
    heaped[1:-1] = False
    points, point_share = values[heaped], counts[heaped] / present.size
    rest = present[~np.isin(present, points)]
    step = 1 if info.kind == "integer" else 0
    if info.kind == "datetime":
        ns = present.astype(np.int64)
        step = next((s for s in _DATE_STEPS if not (ns % s).any()), 1)
    if rest.size == 0:
        return Modes(points.astype(np.float64), np.zeros(len(points)),
                     point_share / point_share.sum(), float(present.mean()), step)
    sample = rest
    if rest.size > fit_rows:
        sample = rest[np.sort(rng.choice(rest.size, size=fit_rows, replace=False))]
    # fit on standardised values (datetimes are ~1e18 ns); the modes go back to the units
    centre, scale = float(sample.mean()), float(sample.std())
    scale = scale if scale > 0 else 1.0
    z = ((sample - centre) / scale).reshape(-1, 1)
    components = max(1, min(max_modes, z.shape[0]))
    mixture = BayesianGaussianMixture(
        n_components=components, weight_concentration_prior_type="dirichlet_process",
        weight_concentration_prior=0.001, n_init=1, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mixture.fit(z)
    weights = mixture.weights_
    keep = np.flatnonzero(weights > MODE_WEIGHT)
    if keep.size == 0:
        keep = np.array([int(np.argmax(weights))])
    means = np.concatenate([centre + scale * mixture.means_[keep, 0], points])
    stds = np.concatenate([scale * np.sqrt(mixture.covariances_[keep, 0, 0]),
                           np.zeros(len(points))])
    kept = np.concatenate([weights[keep] / weights[keep].sum() * rest.size / present.size,
                           point_share])
    order = np.argsort(means, kind="stable")
    return Modes(means[order], stds[order], kept[order] / kept.sum(), float(present.mean()),
                 step)


def _draw(probabilities: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One mode per row, drawn from its row of ``probabilities``."""
    cumulative = np.cumsum(probabilities, axis=1)
    u = rng.random(probabilities.shape[0])[:, None]
    return np.minimum((cumulative < u).sum(axis=1), probabilities.shape[1] - 1)


def _decode_numeric(block: np.ndarray, info: ColumnInfo, mode: Modes) -> Any:
    count = len(mode.means)
    scalar = np.clip(block[:, 0].astype(np.float64), -1.0, 1.0)
    k = np.argmax(block[:, 1:1 + count], axis=1)
    x = scalar * 4.0 * mode.stds[k] + mode.means[k]
    low, high = info.minimum, info.maximum
    assert low is not None and high is not None
    x = np.clip(x, low, high)
    missing = (np.argmax(block[:, 1 + count:3 + count], axis=1) == 1 if info.missing > 0
               else np.zeros(len(x), dtype=bool))
    if info.kind == "continuous":
        x[missing] = np.nan
        return x
    if info.kind == "integer":
        whole = np.round(x).astype(np.int64)
        if info.missing > 0:
            return pd.arrays.IntegerArray(whole, missing)
        return whole
    step = max(mode.step, 1)
    ns = np.round(x / step).astype(np.int64) * step
    ns = np.clip(ns, int(np.ceil(low)), int(np.floor(high)))
    ns[missing] = np.iinfo(np.int64).min  # NaT
    return pd.Series(ns.view("datetime64[ns]"))


def _decode_discrete(code: np.ndarray, info: ColumnInfo) -> Any:
    names = np.asarray(_categories(info), dtype=object)[code]
    missing = names == MISSING
    if info.kind == "boolean":
        values = names == "true"
        if info.missing > 0:
            return pd.arrays.BooleanArray(values, missing)
        return values
    names[missing] = np.nan
    return pd.Series(names.tolist())
